//! Phone numbers as trunks want them (ITU-T E.164): visual separators (E.123) removed and the
//! international `00` prefix written as `+`. Anything that is not a phone number (a SIP user
//! such as `echo`) is left as it is.

/// Characters people and CRMs put inside phone numbers for readability (ITU-T E.123 §7).
const SEPARATORS: &[char] = &[' ', '-', '.', '(', ')', '/'];
/// Most digits in an E.164 number (ITU-T E.164 §6).
pub const MAX_E164_DIGITS: usize = 15;

/// `+49 (30) 123-456` → `+4930123456`, `0049 30 123456` → `+4930123456`; other text unchanged.
pub fn normalize(text: &str) -> String {
    let trimmed = text.trim();
    let compact: String = trimmed
        .chars()
        .filter(|c| !SEPARATORS.contains(c))
        .collect();
    let (international, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => match compact.strip_prefix("00") {
            Some(rest) if rest.len() >= 7 => (true, rest),
            _ => (false, compact.as_str()),
        },
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return trimmed.to_owned();
    }
    if international && digits.len() <= MAX_E164_DIGITS {
        format!("+{digits}")
    } else {
        digits.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_and_users_left_alone() {
        assert_eq!(normalize("+49 (30) 123-456"), "+4930123456");
        assert_eq!(normalize(" 0049 30 123456 "), "+4930123456");
        assert_eq!(normalize("+1.555.010.0199"), "+15550100199");
        assert_eq!(normalize("030/123456"), "030123456");
        assert_eq!(normalize("112"), "112");
        assert_eq!(normalize("echo"), "echo");
        assert_eq!(normalize("*21#"), "*21#");
        assert_eq!(
            normalize("+1 555 x"),
            "+1 555 x",
            "not a number: refused later, not mangled"
        );
    }
}
