//! The configuration file (`c2c.toml`) with `C2C_*` environment overrides.
//!
//! An override names a key path with double underscores: `C2C_HTTP__LISTEN=0.0.0.0:8080` sets
//! `[http] listen`. Errors name the key and say how to fix it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use c2c_sbc::trunk::TrunkConfig;
use c2c_web::CampaignConfig;

use c2c_media::ports::{PortPool, DEFAULT_PORT_MAX, DEFAULT_PORT_MIN};
use c2c_media::watchdog::DEFAULT_RTP_TIMEOUT_S;
use c2c_media::MediaSettings;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP listener and public URL.
    #[serde(default)]
    pub http: HttpConfig,
    /// SIP listener.
    #[serde(default)]
    pub sip: SipConfig,
    /// The registrar for agents' SIP devices.
    #[serde(default)]
    pub registrar: RegistrarSection,
    /// Media addresses.
    #[serde(default)]
    pub media: MediaConfig,
    /// Process lifecycle.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where keys and the database live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://user:pass@host/db`); empty uses SQLite `c2c.db` in `data_dir`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// How long a session number stays with its web session after the call (or an unused
    /// token), so an agent can look the caller up or call back, seconds.
    #[serde(default = "default_linger")]
    pub number_linger_s: i64,
    /// Folder with `widget.js` and the built widget (`pkg/`).
    #[serde(default = "default_static_dir")]
    pub static_dir: PathBuf,
    /// Name in the `iss` claim of the tokens this node mints.
    #[serde(default = "default_issuer")]
    pub token_issuer: String,
    /// Lifetime of the call tokens this node mints, seconds (1 to 60).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_s: i64,
    /// SIP trunks (seed data: each goes into the database unless its organisation has a
    /// trunk of that name already; the dashboard owns it then).
    #[serde(default)]
    pub trunks: Vec<SeedTrunk>,
    /// Campaigns (seed data).
    #[serde(default)]
    pub campaigns: Vec<CampaignConfig>,
}

/// A `[[trunks]]` entry: the trunk's settings plus `org`, the organisation it belongs to
/// (default `"default"`, like campaigns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedTrunk {
    /// Owning organisation.
    pub org: String,
    /// The trunk.
    pub trunk: TrunkConfig,
}

impl SeedTrunk {
    /// A trunk of the default organisation.
    pub fn new(trunk: TrunkConfig) -> SeedTrunk {
        SeedTrunk {
            org: c2c_web::DEFAULT_ORG.into(),
            trunk,
        }
    }
}

impl<'de> Deserialize<'de> for SeedTrunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        // `org` is ours; the rest is the SBC's TrunkConfig, which refuses unknown keys.
        let mut table = toml::Table::deserialize(d)?;
        let org = match table.remove("org") {
            None => c2c_web::DEFAULT_ORG.to_owned(),
            Some(toml::Value::String(org)) => org,
            Some(_) => return Err(D::Error::custom("org must be a string")),
        };
        let trunk = toml::Value::Table(table)
            .try_into()
            .map_err(D::Error::custom)?;
        Ok(SeedTrunk { org, trunk })
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// How browsers reach us (`http://host:port`, no path); defaults to `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Bearer token a Prometheus scraper off this host sends for `/metrics`; without it only
    /// loopback may scrape (and nobody, when proxies are trusted).
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// Load balancers and reverse proxies (`10.0.0.0/8`, `2001:db8::1`) whose `Forwarded` /
    /// `X-Forwarded-For` name the client; empty: those headers are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl HttpConfig {
    /// The parsed `trusted_proxies`, None when empty.
    pub fn proxies(&self) -> Result<Option<c2c_sbc::networks::Networks>, String> {
        if self.trusted_proxies.is_empty() {
            return Ok(None);
        }
        c2c_sbc::networks::Networks::parse(&self.trusted_proxies)
            .map(Some)
            .map_err(|e| format!("http.trusted_proxies: {e}"))
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// On SIGTERM, how long calls in progress may go on before they are ended (BYE), seconds;
    /// no new call is taken meanwhile and `/readyz` is 503.
    #[serde(default = "default_drain")]
    pub drain_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            drain_s: default_drain(),
        }
    }
}

fn default_drain() -> u64 {
    30
}

/// `[sip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// Address to listen on (UDP).
    #[serde(default = "default_sip_listen")]
    pub listen: SocketAddr,
    /// Networks trunks may be in (`203.0.113.0/24`, `2001:db8::/32`, `"public"` for every
    /// public address): the only addresses SIP and media are sent to, trunk hosts, Contact
    /// and Record-Route targets and SDP media alike. Empty: every public address, so
    /// loopback, private, link-local and unique-local hosts must be listed to be used.
    #[serde(default)]
    pub trunk_networks: Vec<String>,
}

impl SipConfig {
    /// The parsed `trunk_networks`.
    pub fn networks(&self) -> Result<c2c_sbc::networks::Networks, String> {
        c2c_sbc::networks::Networks::parse(&self.trunk_networks)
            .map_err(|e| format!("sip.trunk_networks: {e}"))
    }
}

/// `[registrar]`: where agents' SIP phones register. Off while `networks` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// Networks agents' devices may register from (`198.51.100.0/24`, `"public"`); empty
    /// turns the registrar off (REGISTER gets 405).
    #[serde(default)]
    pub networks: Vec<String>,
    /// The digest realm; agents' credentials are hashed for it, so changing it needs new
    /// passwords.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Digest hashes offered, preferred first (`"SHA-256"`, `"MD5"`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Shortest registration accepted, seconds (shorter gets 423 Interval Too Brief).
    #[serde(default = "default_min_expires")]
    pub min_expires_s: u32,
    /// Longest registration granted, seconds.
    #[serde(default = "default_max_expires")]
    pub max_expires_s: u32,
    /// How often phones registered over UDP get an OPTIONS ping, seconds (keeps their NAT
    /// open; two missed in a row sign the phone out); 0: never.
    #[serde(default = "default_ping")]
    pub ping_s: u32,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        Self {
            networks: Vec::new(),
            realm: default_realm(),
            algorithms: default_algorithms(),
            min_expires_s: default_min_expires(),
            max_expires_s: default_max_expires(),
            ping_s: default_ping(),
        }
    }
}

fn default_ping() -> u32 {
    30
}

fn default_realm() -> String {
    "c2c".into()
}
fn default_algorithms() -> Vec<String> {
    vec!["SHA-256".into(), "MD5".into()]
}
fn default_min_expires() -> u32 {
    60
}
fn default_max_expires() -> u32 {
    3600
}

impl RegistrarSection {
    /// The networks and registrar settings, or None when the registrar is off.
    pub fn settings(
        &self,
    ) -> Result<
        Option<(
            c2c_sbc::networks::Networks,
            c2c_sbc::registrar::RegistrarConfig,
        )>,
        String,
    > {
        use c2c_sbc::registrar::{Algorithm, RegistrarConfig};
        if self.networks.is_empty() {
            return Ok(None);
        }
        let networks = c2c_sbc::networks::Networks::parse(&self.networks)
            .map_err(|e| format!("registrar.networks: {e}"))?;
        if self.realm.is_empty()
            || !self
                .realm
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(format!(
                "registrar.realm = {:?}: use printable ASCII without quotes or backslashes, e.g. \"calls.example.com\"",
                self.realm
            ));
        }
        let mut algorithms = Vec::new();
        for a in &self.algorithms {
            algorithms.push(match a.to_ascii_uppercase().as_str() {
                "SHA-256" => Algorithm::Sha256,
                "MD5" => Algorithm::Md5,
                _ => {
                    return Err(format!(
                        "registrar.algorithms: {a:?} is not \"SHA-256\" or \"MD5\""
                    ))
                }
            });
        }
        if algorithms.is_empty() {
            return Err("registrar.algorithms: name at least one of \"SHA-256\", \"MD5\"".into());
        }
        if self.min_expires_s == 0 || self.min_expires_s > self.max_expires_s {
            return Err(format!(
                "registrar.min_expires_s = {}, registrar.max_expires_s = {}: need 0 < min_expires_s <= max_expires_s, e.g. 60 and 3600",
                self.min_expires_s, self.max_expires_s
            ));
        }
        let config = RegistrarConfig {
            realm: self.realm.clone(),
            algorithms,
            min_expires: self.min_expires_s,
            max_expires: self.max_expires_s,
            default_expires: self.max_expires_s,
            ping_interval: std::time::Duration::from_secs(self.ping_s.into()),
            ..RegistrarConfig::default()
        };
        Ok(Some((networks, config)))
    }
}

/// `[media]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Address media sockets bind to and advertise (the public IP with 1:1 NAT).
    #[serde(default = "default_media_ip")]
    pub ip: IpAddr,
    /// Lowest UDP port for media (WebRTC and trunk RTP/RTCP).
    #[serde(default = "default_port_min")]
    pub port_min: u16,
    /// Highest UDP port for media.
    #[serde(default = "default_port_max")]
    pub port_max: u16,
    /// Seconds without RTP from the browser, or from the trunk once it answered, after which
    /// the call ends with reason `timeout`; 0 never.
    #[serde(default = "default_rtp_timeout")]
    pub rtp_timeout_s: u64,
    /// Media loop threads, each with its own WebRTC port; 0 means one per CPU core.
    #[serde(default)]
    pub threads: usize,
}

impl MediaConfig {
    /// How many media loops to run.
    pub fn loop_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }

    /// What calls need at run time: the shared port pool and the RTP timeout.
    pub fn settings(&self) -> MediaSettings {
        MediaSettings {
            ports: Arc::new(PortPool::new(self.port_min, self.port_max)),
            rtp_timeout: (self.rtp_timeout_s > 0).then(|| Duration::from_secs(self.rtp_timeout_s)),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_http_listen(),
            public_url: None,
            metrics_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: default_sip_listen(),
            trunk_networks: Vec::new(),
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            ip: default_media_ip(),
            port_min: default_port_min(),
            port_max: default_port_max(),
            rtp_timeout_s: default_rtp_timeout(),
            threads: 0,
        }
    }
}

fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_sip_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}
fn default_media_ip() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}
fn default_port_min() -> u16 {
    DEFAULT_PORT_MIN
}
fn default_port_max() -> u16 {
    DEFAULT_PORT_MAX
}
fn default_rtp_timeout() -> u64 {
    DEFAULT_RTP_TIMEOUT_S
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_static_dir() -> PathBuf {
    PathBuf::from("./static")
}
fn default_linger() -> i64 {
    30 * 60
}
fn default_token_lifetime() -> i64 {
    60
}
fn default_issuer() -> String {
    "c2c".into()
}

/// A configuration that cannot be used, naming the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or a key has the wrong type.
    #[error("{origin}: {message}")]
    Invalid {
        /// File or environment variable.
        origin: String,
        /// What is wrong, with the key.
        message: String,
    },
}

impl Config {
    /// Reads the file at `path` (if given) and applies `C2C_*` overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut table, origin) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                let table: toml::Table =
                    text.parse()
                        .map_err(|e: toml::de::Error| ConfigError::Invalid {
                            origin: p.display().to_string(),
                            message: e.to_string(),
                        })?;
                (table, p.display().to_string())
            }
            None => (toml::Table::new(), "defaults".to_string()),
        };
        for (name, value) in env {
            let Some(path) = name.strip_prefix("C2C_") else {
                continue;
            };
            apply_override(&mut table, path, &value).map_err(|message| ConfigError::Invalid {
                origin: format!("environment variable {name}"),
                message,
            })?;
        }
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
        config
            .check()
            .map_err(|message| ConfigError::Invalid { origin, message })?;
        Ok(config)
    }

    /// Opens the configured database and applies migrations.
    pub async fn open_store(&self) -> Result<c2c_store::Store, c2c_store::StoreError> {
        match self.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => c2c_store::Store::open(url).await,
            None => c2c_store::Store::open_sqlite_in(&self.data_dir).await,
        }
    }

    /// The public URL browsers use, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.http.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.http.listen),
        }
    }

    fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.http.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "http.public_url = {u:?}: must start with http:// or https://, e.g. https://calls.example.com"
                ));
            }
        }
        if !(1..=c2c_token::MAX_LIFETIME_S).contains(&self.token_lifetime_s) {
            return Err(format!(
                "token_lifetime_s = {}: must be between 1 and {} seconds",
                self.token_lifetime_s,
                c2c_token::MAX_LIFETIME_S
            ));
        }
        if self.number_linger_s < 60 {
            return Err(format!(
                "number_linger_s = {}: must be at least 60 seconds (agents look callers up after the call)",
                self.number_linger_s
            ));
        }
        if let Some(u) = self.database_url.as_deref().filter(|u| !u.is_empty()) {
            if !(u.starts_with("postgres://")
                || u.starts_with("postgresql://")
                || u.starts_with("sqlite:"))
            {
                return Err("database_url: must start with postgres:// (or sqlite:); leave it out to use SQLite in data_dir".into());
            }
        }
        self.sip.networks()?;
        self.registrar.settings()?;
        self.http.proxies()?;
        if self.media.ip.is_unspecified() {
            return Err("media.ip: must be a concrete address browsers and trunks can reach (it goes into ICE candidates and SDP), not 0.0.0.0".into());
        }
        let m = &self.media;
        // A call needs three ports: WebRTC, and an even/odd RTP/RTCP pair.
        if m.port_min > m.port_max || u32::from(m.port_max - m.port_min) < 3 {
            return Err(format!(
                "media.port_min = {}, media.port_max = {}: need port_min < port_max with room for at least one call (4 ports), e.g. 20000 and 39999",
                m.port_min, m.port_max
            ));
        }
        for (i, t) in self.trunks.iter().enumerate() {
            let name = &t.trunk.name;
            if !c2c_web::valid_trunk_name(name) {
                return Err(format!(
                    "trunks[{i}].name = {name:?}: use 1 to {} letters, digits, '.', '-' or '_'",
                    c2c_web::MAX_TRUNK_NAME
                ));
            }
            t.trunk
                .validate()
                .map_err(|e| format!("trunks[{name}]: {e}"))?;
            if self.trunks[..i]
                .iter()
                .any(|o| o.org == t.org && o.trunk.name == *name)
            {
                return Err(format!(
                    "trunks[{name}]: organisation {:?} has two trunks of this name",
                    t.org
                ));
            }
        }
        for c in &self.campaigns {
            // A campaign may only use a trunk of its own organisation.
            if !self
                .trunks
                .iter()
                .any(|t| t.org == c.org && t.trunk.name == c.trunk)
            {
                return Err(format!(
                    "campaigns[{}].trunk = {:?}: no [[trunks]] entry of organisation {:?} has this name \
                     (a campaign may only use its own organisation's trunks: give the trunk org = {:?})",
                    c.public_id, c.trunk, c.org, c.org
                ));
            }
        }
        Ok(())
    }
}

/// Sets `a__b__c` (lower-cased) in `table` to `value`, typed as TOML when it parses as a
/// number or boolean, else as a string.
fn apply_override(table: &mut toml::Table, path: &str, value: &str) -> Result<(), String> {
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    let Some((last, parents)) = keys.split_last() else {
        return Err("empty key".into());
    };
    let mut cur = table;
    for k in parents {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("{k} is not a table"))?;
    }
    let typed = value
        .parse::<i64>()
        .map(toml::Value::Integer)
        .or_else(|_| value.parse::<bool>().map(toml::Value::Boolean))
        .unwrap_or_else(|_| toml::Value::String(value.to_string()));
    cur.insert(last.clone(), typed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = Config::load(None, Vec::new()).expect("defaults");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.sip.listen.to_string(), "127.0.0.1:5060");
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert_eq!((c.media.port_min, c.media.port_max), (20000, 39999));
        assert_eq!(
            c.media.settings().rtp_timeout,
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn media_ports_and_timeout_are_checked() {
        let env = |min: &str, max: &str| {
            vec![
                ("C2C_MEDIA__PORT_MIN".to_string(), min.to_string()),
                ("C2C_MEDIA__PORT_MAX".to_string(), max.to_string()),
                ("C2C_MEDIA__RTP_TIMEOUT_S".to_string(), "0".to_string()),
            ]
        };
        let c = Config::load(None, env("30000", "30099")).expect("range");
        assert_eq!((c.media.port_min, c.media.port_max), (30000, 30099));
        assert_eq!(c.media.settings().rtp_timeout, None);
        for (min, max) in [("30000", "20000"), ("30000", "30001")] {
            let e = Config::load(None, env(min, max))
                .expect_err("bad range")
                .to_string();
            assert!(e.contains("media.port_min"), "{e}");
        }
        assert!(Config::load(None, env("30000", "70000")).is_err());
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let env = vec![
            ("C2C_HTTP__LISTEN".to_string(), "127.0.0.1:9000".to_string()),
            ("C2C_MEDIA__IP".to_string(), "127.0.0.2".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let c = Config::load(None, env).expect("config");
        assert_eq!(c.http.listen.port(), 9000);
        assert_eq!(c.media.ip.to_string(), "127.0.0.2");
    }

    #[test]
    fn trunks_carry_an_org_and_campaigns_use_their_own_orgs_trunks() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c2c.toml");
        let write = |text: &str| std::fs::write(&path, text).expect("write");
        let trunks = "[[trunks]]\nname = \"main\"\nhost = \"sip.example.net\"\n\
                      [[trunks]]\nname = \"main\"\norg = \"acme\"\nhost = \"pbx.acme.test\"\n";
        let campaign = |org: &str| {
            format!(
                "[[campaigns]]\npublic_id = \"c\"\norg = \"{org}\"\nallowed_origins = []\n\
                 trunk = \"main\"\ndestination = \"+4930123456\"\nnumber_pool = {{ first = \"+4930100\", count = 1 }}\n"
            )
        };
        write(&format!("{trunks}{}", campaign("acme")));
        let c = Config::load(Some(&path), Vec::new()).expect("config");
        assert_eq!(c.trunks[0].org, "default");
        assert_eq!(c.trunks[1].org, "acme");
        assert_eq!(c.trunks[1].trunk.host, "pbx.acme.test");
        write(&format!("{trunks}{}", campaign("other")));
        let e = Config::load(Some(&path), Vec::new())
            .expect_err("foreign trunk")
            .to_string();
        assert!(e.contains("organisation \"other\""), "{e}");
        write(&format!("{trunks}{trunks}"));
        let e = Config::load(Some(&path), Vec::new())
            .expect_err("duplicate")
            .to_string();
        assert!(e.contains("two trunks"), "{e}");
        write("[[trunks]]\nname = \"a/b\"\nhost = \"h\"\n");
        let e = Config::load(Some(&path), Vec::new())
            .expect_err("bad name")
            .to_string();
        assert!(e.contains("trunks[0].name"), "{e}");
        write("[[trunks]]\nname = \"a\"\nhost = \"h\"\nbogus = 1\n");
        let e = Config::load(Some(&path), Vec::new())
            .expect_err("unknown key")
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let env = vec![("C2C_HTTP__LISTEN".to_string(), "nonsense".to_string())];
        let e = Config::load(None, env).expect_err("bad listen").to_string();
        assert!(e.contains("listen"), "{e}");
        let env = vec![("C2C_MEDIA__IP".to_string(), "0.0.0.0".to_string())];
        let e = Config::load(None, env)
            .expect_err("unspecified")
            .to_string();
        assert!(e.contains("media.ip"), "{e}");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c2c.toml");
        std::fs::write(&path, "[sip]\ntrunk_networks = [\"10.0.0.0/33\"]\n").expect("write");
        let e = Config::load(Some(&path), Vec::new())
            .expect_err("bad network")
            .to_string();
        assert!(
            e.contains("sip.trunk_networks") && e.contains("10.0.0.0/33"),
            "{e}"
        );
    }

    #[test]
    fn the_registrar_is_off_by_default_and_its_errors_name_the_key() {
        let c = Config::load(None, Vec::new()).expect("defaults");
        assert!(
            c.registrar.settings().expect("ok").is_none(),
            "off without networks"
        );
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c2c.toml");
        for (toml, key) in [
            ("networks = [\"nope\"]", "registrar.networks"),
            (
                "networks = [\"public\"]\nalgorithms = [\"SHA-512\"]",
                "registrar.algorithms",
            ),
            (
                "networks = [\"public\"]\nalgorithms = []",
                "registrar.algorithms",
            ),
            (
                "networks = [\"public\"]\nrealm = \"a\\\"b\"",
                "registrar.realm",
            ),
            (
                "networks = [\"public\"]\nmin_expires_s = 7200",
                "registrar.min_expires_s",
            ),
        ] {
            std::fs::write(&path, format!("[registrar]\n{toml}\n")).expect("write");
            let e = Config::load(Some(&path), Vec::new())
                .expect_err(toml)
                .to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
        std::fs::write(&path, "[registrar]\nnetworks = [\"10.0.0.0/8\"]\n").expect("write");
        let c = Config::load(Some(&path), Vec::new()).expect("valid");
        let (networks, registrar) = c.registrar.settings().expect("ok").expect("on");
        assert!(networks.allows("10.1.2.3".parse().expect("ip")));
        assert_eq!(registrar.realm, "c2c");
    }
}
