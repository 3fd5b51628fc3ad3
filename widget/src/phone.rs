//! The phone number of a callback request: what a visitor may type and what is sent.
//!
//! Visitors type numbers with spaces, dashes, dots, slashes and parentheses, and write the
//! international prefix as `+` or `00`. We accept that and send E.164 (`+` and 8–15 digits,
//! ITU-T E.164 §6.1 caps a number at 15 digits); a number without a country code is refused,
//! because the callback may be placed from another country than the visitor's.

/// Digits of the shortest international number we accept (country code + a short subscriber
/// number, e.g. `+354 4xx xxxx` has 10; 8 leaves room for small countries).
const MIN_DIGITS: usize = 8;
/// ITU-T E.164 §6.1: at most 15 digits including the country code.
const MAX_DIGITS: usize = 15;

/// Why a typed phone number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Nothing typed.
    Empty,
    /// Letters or other characters that are not part of a phone number.
    InvalidCharacter,
    /// No `+` or `00` international prefix.
    NoCountryCode,
    /// Fewer than 8 or more than 15 digits, or a country code starting with 0.
    WrongLength,
}

/// The E.164 form (`+4930123456`) of what the visitor typed.
pub fn normalize(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let mut digits = String::with_capacity(MAX_DIGITS + 1);
    let mut plus = false;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' => {}
            _ => return Err(PhoneError::InvalidCharacter),
        }
    }
    let national = if plus {
        digits.as_str()
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest
    } else {
        return Err(PhoneError::NoCountryCode);
    };
    if national.starts_with('0') || !(MIN_DIGITS..=MAX_DIGITS).contains(&national.len()) {
        return Err(PhoneError::WrongLength);
    }
    Ok(format!("+{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ways_of_writing_a_number_are_accepted() {
        for (typed, e164) in [
            ("+49 30 1234567", "+49301234567"),
            ("+44 (20) 7946-0958", "+442079460958"),
            ("0049 30/123.45.67", "+49301234567"),
            ("  +1 555 010 0999 ", "+15550100999"),
            ("+34\u{a0}912345678", "+34912345678"),
        ] {
            assert_eq!(normalize(typed).as_deref(), Ok(e164), "{typed}");
        }
    }

    #[test]
    fn what_is_not_a_reachable_number_is_refused_with_a_reason() {
        assert_eq!(normalize(""), Err(PhoneError::Empty));
        assert_eq!(normalize("   "), Err(PhoneError::Empty));
        assert_eq!(
            normalize("+49 30 CALL ME"),
            Err(PhoneError::InvalidCharacter)
        );
        assert_eq!(normalize("49+301234567"), Err(PhoneError::InvalidCharacter));
        assert_eq!(
            normalize("++49301234567"),
            Err(PhoneError::InvalidCharacter)
        );
        assert_eq!(normalize("<script>"), Err(PhoneError::InvalidCharacter));
        assert_eq!(normalize("030 1234567"), Err(PhoneError::NoCountryCode));
        assert_eq!(normalize("+49 30"), Err(PhoneError::WrongLength));
        assert_eq!(normalize("+1234567890123456"), Err(PhoneError::WrongLength));
        assert_eq!(normalize("+0 301 234 567"), Err(PhoneError::WrongLength));
        assert_eq!(normalize("000301234567"), Err(PhoneError::WrongLength));
    }

    #[test]
    fn the_length_limits_are_inclusive() {
        assert!(normalize("+12345678").is_ok());
        assert!(normalize("+123456789012345").is_ok());
        assert!(normalize("+1234567").is_err());
    }
}
