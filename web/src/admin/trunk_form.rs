//! The trunk form: its fields as posted and shown, and the checked settings they describe.
//! The password is write-only: the form never carries the stored one back to the browser.

use c2c_sbc::trunk::{CallerIdHeader, Transport, TrunkConfig, TrunkConfigError};

use crate::trunk_catalog::{valid_trunk_name, TrunkCatalogError};

/// The trunk form's fields, as posted and as shown.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct TrunkForm {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) host: String,
    #[serde(default)]
    pub(crate) port: String,
    #[serde(default)]
    pub(crate) transport: String,
    #[serde(default)]
    pub(crate) username: String,
    /// Blank keeps the stored password (on edit).
    #[serde(default)]
    pub(crate) password: String,
    /// Checked: remove the stored password.
    #[serde(default)]
    pub(crate) clear_password: Option<String>,
    #[serde(default)]
    pub(crate) realm: String,
    #[serde(default)]
    pub(crate) from_domain: String,
    #[serde(default)]
    pub(crate) caller_id_header: String,
    #[serde(default)]
    pub(crate) user_phone: Option<String>,
    #[serde(default)]
    pub(crate) group: String,
    #[serde(default)]
    pub(crate) priority: String,
    #[serde(default)]
    pub(crate) weight: String,
    #[serde(default)]
    pub(crate) failover_after_ms: String,
    #[serde(default)]
    pub(crate) keepalive_s: String,
}

/// What the form says about the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordChange {
    /// Leave the stored one as it is.
    Keep,
    /// Store this one (`None`: none at all).
    Set(Option<String>),
}

/// A field and what is wrong with it.
pub(crate) type FieldError = (&'static str, String);

fn text(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn number<T: std::str::FromStr>(field: &'static str, s: &str, default: T) -> Result<T, FieldError> {
    match s.trim() {
        "" => Ok(default),
        s => s
            .parse()
            .map_err(|_| (field, "Enter a whole number in range.".to_string())),
    }
}

/// Longest failover timer the form accepts: beyond Timer B (32 s) it never fires.
const MAX_FAILOVER_MS: u64 = 32_000;
/// Longest keep-alive interval the form accepts, seconds.
const MAX_KEEPALIVE_S: u64 = 3600;

impl TrunkForm {
    /// The form showing `c` (never its password).
    pub(crate) fn from_config(c: &TrunkConfig) -> TrunkForm {
        TrunkForm {
            name: c.name.clone(),
            host: c.host.clone(),
            port: if c.port == 0 {
                String::new()
            } else {
                c.port.to_string()
            },
            transport: match c.transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
                Transport::Tls => "tls",
            }
            .into(),
            username: c.username.clone().unwrap_or_default(),
            password: String::new(),
            clear_password: None,
            realm: c.realm.clone().unwrap_or_default(),
            from_domain: c.from_domain.clone().unwrap_or_default(),
            caller_id_header: match c.caller_id_header {
                CallerIdHeader::From => "from",
                CallerIdHeader::Pai => "pai",
                CallerIdHeader::Both => "both",
            }
            .into(),
            user_phone: c.user_phone.then(|| "on".into()),
            group: c.group.clone().unwrap_or_default(),
            priority: c.priority.to_string(),
            weight: c.weight.to_string(),
            failover_after_ms: c.failover_after_ms.to_string(),
            keepalive_s: c.keepalive_s.to_string(),
        }
    }

    /// The password change this form asks for.
    pub(crate) fn password_change(&self) -> PasswordChange {
        if self.clear_password.is_some() {
            PasswordChange::Set(None)
        } else if self.password.is_empty() {
            PasswordChange::Keep
        } else {
            PasswordChange::Set(Some(self.password.clone()))
        }
    }

    /// The settings this form describes on top of `base` (which keeps what the form does
    /// not show: the CA file, which only the config file may set, and the password when the
    /// form keeps it); the field and message when invalid.
    pub(crate) fn to_config(&self, mut base: TrunkConfig) -> Result<TrunkConfig, FieldError> {
        base.name = self.name.trim().to_owned();
        if base.name == "new" {
            return Err(("name", "This name is reserved; pick another.".into()));
        }
        base.host = self.host.trim().to_owned();
        base.port = number("port", &self.port, 0)?;
        base.transport = match self.transport.as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(("transport", "Pick UDP, TCP or TLS.".into())),
        };
        base.username = text(&self.username);
        if let PasswordChange::Set(p) = self.password_change() {
            base.password = p;
        }
        base.realm = text(&self.realm);
        base.from_domain = text(&self.from_domain);
        base.caller_id_header = match self.caller_id_header.as_str() {
            "from" => CallerIdHeader::From,
            "pai" => CallerIdHeader::Pai,
            "both" => CallerIdHeader::Both,
            _ => {
                return Err((
                    "caller_id_header",
                    "Pick From, P-Asserted-Identity or both.".into(),
                ))
            }
        };
        base.user_phone = self.user_phone.is_some();
        base.group = text(&self.group);
        if base.group.as_deref().is_some_and(|g| !valid_trunk_name(g)) {
            return Err((
                "group",
                "Use up to 64 letters, digits, '.', '-' or '_'.".into(),
            ));
        }
        base.priority = number("priority", &self.priority, base.priority)?;
        base.weight = number("weight", &self.weight, base.weight)?;
        base.failover_after_ms = number("failover_after_ms", &self.failover_after_ms, 0)?;
        if !(100..=MAX_FAILOVER_MS).contains(&base.failover_after_ms) {
            return Err((
                "failover_after_ms",
                format!("Enter 100 to {MAX_FAILOVER_MS} milliseconds."),
            ));
        }
        base.keepalive_s = number("keepalive_s", &self.keepalive_s, 0)?;
        if base.keepalive_s > MAX_KEEPALIVE_S {
            return Err((
                "keepalive_s",
                format!("Enter 0 (off) to {MAX_KEEPALIVE_S} seconds."),
            ));
        }
        Ok(base)
    }
}

/// The form field a catalog error belongs to, and what to tell the user.
pub(crate) fn field_error(e: &TrunkCatalogError) -> Option<FieldError> {
    Some(match e {
        TrunkCatalogError::Name(_) => (
            "name",
            "Use 1 to 64 letters, digits, '.', '-' or '_'.".into(),
        ),
        TrunkCatalogError::Invalid(TrunkConfigError::CaFileWithoutTls(_)) => (
            "transport",
            "This trunk has a CA file (set in the configuration file), so it must use TLS.".into(),
        ),
        TrunkCatalogError::Invalid(TrunkConfigError::Invalid { field, .. }) => {
            let why = match *field {
                "host" | "from_domain" => "Enter a host name or IP address.",
                "username" => "Use letters, digits and -_.!~*'()&=+$,;?/% only.",
                "realm" => "Keep it under 256 characters, without quotes or backslashes.",
                "password" => "Keep it under 256 characters, without control characters.",
                _ => "This value cannot be used.",
            };
            (*field, why.into())
        }
        _ => return None,
    })
}
