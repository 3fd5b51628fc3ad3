//! How the widget looks: the campaign's theme (from availability) with the embed's
//! `data-*` overrides on top.

/// Where the widget may sit; anything else falls back to the first.
pub const POSITIONS: [&str; 4] = ["bottom-right", "bottom-left", "top-right", "top-left"];

/// The embed's `data-position`, `data-color`, `data-text-color` and `data-label`, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `data-position`.
    pub position: Option<String>,
    /// `data-color`: the button colour.
    pub color: Option<String>,
    /// `data-text-color`: the text on the button.
    pub text_color: Option<String>,
    /// `data-label`: the call button's label.
    pub label: Option<String>,
}

/// The look in force; colours are `#rgb`/`#rrggbb` or `None` for the stylesheet's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// One of [`POSITIONS`].
    pub position: &'static str,
    /// Button colour.
    pub color: Option<String>,
    /// Text colour on the button.
    pub text_color: Option<String>,
    /// The call button's label; `None` for the localized "Call us".
    pub label: Option<String>,
}

/// The campaign's theme fields as availability sends them (`theme.text_color` optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignTheme {
    /// `theme.label`.
    pub label: Option<String>,
    /// `theme.color`.
    pub color: Option<String>,
    /// `theme.text_color`.
    pub text_color: Option<String>,
    /// `theme.position`.
    pub position: Option<String>,
}

/// The label the gateway sends when the campaign set none; shown localized instead.
const DEFAULT_LABEL: &str = "Call us";

impl Look {
    /// The embed's overrides win over the campaign; invalid values are ignored.
    pub fn new(campaign: &CampaignTheme, embed: &Overrides) -> Look {
        let pick = |e: &Option<String>, c: &Option<String>, ok: fn(&str) -> bool| {
            [e, c]
                .into_iter()
                .flatten()
                .map(|v| v.trim())
                .find(|v| ok(v))
                .map(str::to_owned)
        };
        let position = [&embed.position, &campaign.position]
            .into_iter()
            .flatten()
            .find_map(|p| POSITIONS.iter().find(|&&known| known == p.trim()))
            .copied()
            .unwrap_or(POSITIONS[0]);
        Look {
            position,
            color: pick(&embed.color, &campaign.color, is_hex_colour),
            text_color: pick(&embed.text_color, &campaign.text_color, is_hex_colour),
            label: pick(&embed.label, &campaign.label, |l| {
                !l.is_empty() && l != DEFAULT_LABEL && l.len() <= 80
            }),
        }
    }
}

/// `#rgb` or `#rrggbb`: all a theme needs, and nothing that could smuggle in other CSS.
pub fn is_hex_colour(v: &str) -> bool {
    v.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn the_embed_overrides_the_campaign_and_bad_values_fall_through() {
        let campaign = CampaignTheme {
            label: s("Call sales"),
            color: s("#123456"),
            text_color: None,
            position: s("top-left"),
        };
        let embed = Overrides {
            position: s("bottom-left"),
            color: s("red; background:url(x)"),
            text_color: s("#fff"),
            label: None,
        };
        let look = Look::new(&campaign, &embed);
        assert_eq!(look.position, "bottom-left");
        assert_eq!(look.color.as_deref(), Some("#123456"));
        assert_eq!(look.text_color.as_deref(), Some("#fff"));
        assert_eq!(look.label.as_deref(), Some("Call sales"));
    }

    #[test]
    fn defaults_when_nothing_usable_is_given() {
        let campaign = CampaignTheme {
            label: s("Call us"),
            position: s("middle"),
            ..CampaignTheme::default()
        };
        let look = Look::new(&campaign, &Overrides::default());
        assert_eq!(look.position, "bottom-right");
        assert_eq!(look.color, None);
        assert_eq!(look.label, None, "the default label is shown localized");
    }

    #[test]
    fn only_hex_colours_pass() {
        assert!(is_hex_colour("#0b6bcb"));
        assert!(is_hex_colour("#FFF"));
        for bad in ["0b6bcb", "#12345", "#ggg", "red", "#fff;x:y", ""] {
            assert!(!is_hex_colour(bad), "{bad}");
        }
    }
}
