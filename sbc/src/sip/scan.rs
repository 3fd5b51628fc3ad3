//! One quote-aware walk over SIP header text (RFC 3261 §25.1 quoted-string and quoted-pair),
//! so that every reader agrees on what is inside a quoted string.

use std::str::CharIndices;

/// Where a character stands relative to quoted strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spot {
    /// Plain text outside any quoted string.
    Outside,
    /// A `"` that opens or closes a quoted string.
    Quote,
    /// Text inside a quoted string, the `\` of a quoted-pair included.
    Inside,
    /// The character after a `\` inside a quoted string.
    Escaped,
}

/// Iterator over `(byte_index, char, Spot)` for every character of a text.
#[derive(Debug, Clone)]
pub(crate) struct Scan<'a> {
    chars: CharIndices<'a>,
    in_quotes: bool,
    escaped: bool,
}

impl<'a> Scan<'a> {
    /// Starts a scan at the beginning of `text`, outside quotes.
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            chars: text.char_indices(),
            in_quotes: false,
            escaped: false,
        }
    }

    /// True while inside a quoted string; after the last character, true when it is unterminated.
    pub(crate) fn in_quotes(&self) -> bool {
        self.in_quotes
    }
}

impl Iterator for Scan<'_> {
    type Item = (usize, char, Spot);

    fn next(&mut self) -> Option<Self::Item> {
        let (i, ch) = self.chars.next()?;
        let spot = if self.escaped {
            self.escaped = false;
            Spot::Escaped
        } else if ch == '"' {
            self.in_quotes = !self.in_quotes;
            Spot::Quote
        } else if self.in_quotes {
            self.escaped = ch == '\\';
            Spot::Inside
        } else {
            Spot::Outside
        };
        Some((i, ch, spot))
    }
}

/// The `(byte_index, char)` pairs of `text` that are outside quoted strings (quotes excluded).
pub(crate) fn outside(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    Scan::new(text).filter_map(|(i, ch, spot)| (spot == Spot::Outside).then_some((i, ch)))
}

/// Splits on the commas outside quoted strings and `<...>`, keeping elements untrimmed and
/// empty ones too (so that `a,,b` stays visible to a strict check).
pub(crate) fn split_commas(text: &str) -> impl Iterator<Item = &str> {
    // Saturating: a stray `>` is ignored, so a later `<...>` still counts as inside angles.
    let mut depth = 0u32;
    let mut commas = outside(text).filter(move |&(_, ch)| {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
        ch == ',' && depth == 0
    });
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        let Some((comma, _)) = commas.next() else {
            start = None;
            return text.get(from..);
        };
        start = Some(comma + 1);
        text.get(from..comma)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spots(text: &str) -> Vec<Spot> {
        Scan::new(text).map(|(_, _, spot)| spot).collect()
    }

    fn outside_text(text: &str) -> String {
        outside(text).map(|(_, ch)| ch).collect()
    }

    #[test]
    fn quotes_and_escapes() {
        use Spot::*;
        assert_eq!(
            spots(r#"a"b\"c"d"#),
            [Outside, Quote, Inside, Inside, Escaped, Inside, Quote, Outside]
        );
        // A backslash outside quotes is plain text and escapes nothing.
        assert_eq!(outside_text(r#"a\"b"c"#), r"a\c");
        assert_eq!(outside_text(r#""x,\\"y"#), "y");
    }

    #[test]
    fn unterminated_quote() {
        let mut scan = Scan::new(r#"a "b,c"#);
        assert_eq!(scan.by_ref().filter(|s| s.2 == Spot::Outside).count(), 2);
        assert!(scan.in_quotes());
        let mut scan = Scan::new(r#""a\"#);
        scan.by_ref().for_each(drop);
        assert!(scan.in_quotes());
        let mut scan = Scan::new(r#""a\"""#);
        scan.by_ref().for_each(drop);
        assert!(!scan.in_quotes());
        assert_eq!(
            split_commas(r#"a,"b,c"#).collect::<Vec<_>>(),
            ["a", r#""b,c"#]
        );
    }

    #[test]
    fn unicode_indices_are_char_boundaries() {
        let text = "é\"ü\\ñ\",ß";
        for (i, _, _) in Scan::new(text) {
            assert!(text.is_char_boundary(i));
        }
        assert_eq!(outside_text(text), "é,ß");
        assert_eq!(split_commas(text).collect::<Vec<_>>(), ["é\"ü\\ñ\"", "ß"]);
        assert_eq!(split_commas("∑,").collect::<Vec<_>>(), ["∑", ""]);
    }

    #[test]
    fn commas_inside_angles_and_quotes_do_not_split() {
        assert_eq!(
            split_commas(r#"<sip:a,b@c>, "x,y" <sip:d>,sip:e"#).collect::<Vec<_>>(),
            ["<sip:a,b@c>", r#" "x,y" <sip:d>"#, "sip:e"]
        );
        // A quote inside `<>` still toggles, as `<` and `>` inside quotes count for nothing.
        assert_eq!(
            split_commas(r#""<" a, b"#).collect::<Vec<_>>(),
            [r#""<" a"#, " b"]
        );
        assert_eq!(split_commas("a,,b").collect::<Vec<_>>(), ["a", "", "b"]);
        assert_eq!(split_commas("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn stray_close_angle_saturates() {
        assert_eq!(
            split_commas("a>,b<c,d>,e").collect::<Vec<_>>(),
            ["a>", "b<c,d>", "e"]
        );
        assert_eq!(
            split_commas("<<a>,b>,c").collect::<Vec<_>>(),
            ["<<a>,b>", "c"]
        );
    }
}
