//! The session number: the caller ID a web session is lent and every call of it presents.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Fewest digits a lendable number has after the `+`.
const MIN_DIGITS: usize = 8;
/// Most digits an E.164 number has (ITU-T E.164 §6).
const MAX_DIGITS: usize = 15;

/// An E.164 number, `+` and 8 to 15 digits, checked once where it enters (the campaign's pool,
/// a database row, a token's claims) and carried as it is to the From header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionNumber(String);

/// A text that is not a session number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a session number (expected + and {MIN_DIGITS} to {MAX_DIGITS} digits)")]
pub struct NotASessionNumber;

impl SessionNumber {
    /// The number in `text`, which must be exactly `+` and 8 to 15 digits.
    pub fn parse(text: &str) -> Result<Self, NotASessionNumber> {
        let digits = text.strip_prefix('+').ok_or(NotASessionNumber)?;
        let ok = (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| SessionNumber(text.to_owned()))
            .ok_or(NotASessionNumber)
    }

    /// The number as written: `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+` (what STIR/SHAKEN's `orig.tn` and some trunks want).
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }
}

impl std::fmt::Display for SessionNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SessionNumber {
    type Err = NotASessionNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionNumber::parse(s)
    }
}

impl TryFrom<String> for SessionNumber {
    type Error = NotASessionNumber;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        SessionNumber::parse(&text)
    }
}

impl From<SessionNumber> for String {
    fn from(n: SessionNumber) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plus_and_8_to_15_digits_is_a_session_number() {
        let n = SessionNumber::parse("+15550100").expect("8 digits");
        assert_eq!((n.as_str(), n.digits()), ("+15550100", "15550100"));
        assert!(SessionNumber::parse("+123456789012345").is_ok());
        for bad in [
            "",
            "+",
            "15550100",
            "+1555010",
            "+1234567890123456",
            "+1555 0100",
            "+1555-0100",
            "+１５５５０１００",
            "+15550100\r\nVia: x",
            "++15550100",
        ] {
            assert_eq!(SessionNumber::parse(bad), Err(NotASessionNumber), "{bad:?}");
        }
    }

    #[test]
    fn it_travels_as_a_plain_string_and_is_checked_on_the_way_in() {
        let n = SessionNumber::parse("+4930123456").expect("number");
        assert_eq!(serde_json::to_string(&n).expect("json"), "\"+4930123456\"");
        let back: SessionNumber = serde_json::from_str("\"+4930123456\"").expect("back");
        assert_eq!(back, n);
        assert!(serde_json::from_str::<SessionNumber>("\"+49 30\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC*") {
            if let Ok(n) = SessionNumber::parse(&text) {
                proptest::prop_assert_eq!(n.as_str(), text.as_str());
                proptest::prop_assert!(n.digits().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
