//! The live set of trunks: what the dashboard shows and what the SBC places calls through.
//!
//! The database is the source of truth (the config file only seeds it). This cache is
//! reloaded periodically and at once after a dashboard edit on this node; the gateway then
//! pushes [`Trunks::sbc_set`] into the SBC, so a change applies to the next call without a
//! restart. Names are unique per organisation; the SBC knows a trunk as `org/name` (and its
//! group as `org/group`), so one tenant's trunks never back up another's.

use std::sync::{Arc, RwLock};

use c2c_sbc::trunk::{qualified_name, TrunkConfig, TrunkConfigError};

use crate::secrets::{SecretBox, SecretError};
use c2c_store::{SecretUpdate, SeedKind, Store, StoreError, TrunkRow};

/// Longest trunk name.
pub const MAX_TRUNK_NAME: usize = 64;

/// One organisation's trunk, password opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// Owning organisation.
    pub org: String,
    /// Settings; `name` and `group` as the organisation knows them (unqualified).
    pub config: TrunkConfig,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// The stored password does not open (another node's or a lost `secrets.key`): the
    /// dashboard shows the trunk so the password can be entered again; the SBC does not get it.
    pub password_unreadable: bool,
}

/// Why a trunk could not be loaded, seeded or stored.
#[derive(Debug, thiserror::Error)]
pub enum TrunkCatalogError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings are unusable.
    #[error(transparent)]
    Invalid(#[from] TrunkConfigError),
    /// The name is empty, too long or has characters other than letters, digits, `.-_`.
    #[error("trunk name {0:?}: use 1 to 64 letters, digits, '.', '-' or '_'")]
    Name(String),
    /// The password could not be sealed or opened.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The settings did not (de)serialise.
    #[error("trunk JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// True when `name` can name a trunk: 1 to 64 of `A-Z a-z 0-9 . - _` (never `/`, which
/// separates organisation and name in the SBC).
pub fn valid_trunk_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TRUNK_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Every organisation's trunks; cheap to clone, shared by the dashboard and the gateway.
#[derive(Debug, Clone)]
pub struct Trunks {
    inner: Arc<RwLock<Vec<Arc<Trunk>>>>,
    secrets: SecretBox,
    changed: Arc<tokio::sync::Notify>,
}

impl Trunks {
    /// An empty catalog whose passwords are sealed with `secrets`.
    pub fn new(secrets: SecretBox) -> Trunks {
        Trunks {
            inner: Arc::default(),
            secrets,
            changed: Arc::default(),
        }
    }

    /// `org`'s trunks, by name.
    pub fn for_org(&self, org: &str) -> Vec<Arc<Trunk>> {
        self.read()
            .iter()
            .filter(|t| t.org == org)
            .cloned()
            .collect()
    }

    /// `org`'s trunk of this name.
    pub fn get(&self, org: &str, name: &str) -> Option<Arc<Trunk>> {
        self.read()
            .iter()
            .find(|t| t.org == org && t.config.name == name)
            .cloned()
    }

    /// The names of `org`'s trunks, sorted.
    pub fn names(&self, org: &str) -> Vec<String> {
        self.for_org(org)
            .iter()
            .map(|t| t.config.name.clone())
            .collect()
    }

    /// The whole set as the SBC takes it: names and groups qualified by organisation.
    pub fn sbc_set(&self) -> Vec<TrunkConfig> {
        self.read()
            .iter()
            .filter(|t| !t.password_unreadable)
            .map(|t| {
                let mut c = t.config.clone();
                c.name = qualified_name(&t.org, &t.config.name);
                c.group = t.config.group.as_ref().map(|g| format!("{}/{g}", t.org));
                c
            })
            .collect()
    }

    /// Resolves once the set changed on this node (after [`Trunks::refresh`]); a change
    /// made while nobody waited is remembered for the next wait.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Checks a trunk for `org` (name, settings) and turns it into a row, sealing its
    /// password; the JSON never holds the password.
    pub fn to_row(
        &self,
        org: &str,
        config: &TrunkConfig,
        now: i64,
    ) -> Result<TrunkRow, TrunkCatalogError> {
        check(config)?;
        let secret = match config.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => self.seal(org, &config.name, p)?,
            None => String::new(),
        };
        let stored = TrunkConfig {
            password: None,
            ..config.clone()
        };
        Ok(TrunkRow {
            org: org.to_owned(),
            name: config.name.clone(),
            config: serde_json::to_string(&stored)?,
            secret,
            updated_at: now,
        })
    }

    /// Seals a password for `org`'s trunk `name` (the sealed value opens for that trunk only).
    pub fn seal(&self, org: &str, name: &str, password: &str) -> Result<String, SecretError> {
        self.secrets.seal(&qualified_name(org, name), password)
    }

    /// Seeds a trunk from the config file the first time it is seen, unless `org` has one of
    /// that name (the dashboard owns it then, and a trunk deleted there stays deleted);
    /// `replace` overwrites it (the demo trunk, whose port changes on every start). Then
    /// reloads.
    pub async fn seed(
        &self,
        store: &Store,
        org: &str,
        config: &TrunkConfig,
        replace: bool,
        now: i64,
    ) -> Result<(), TrunkCatalogError> {
        let row = self.to_row(org, config, now)?;
        if replace {
            if !store.create_trunk(&row).await? {
                let secret = SecretUpdate::Set(&row.secret);
                store
                    .update_trunk(org, &row.name, &row.config, secret, now)
                    .await?;
            }
        } else if store.was_seeded(SeedKind::Trunk, org, &row.name).await? {
            tracing::debug!(%org, trunk = %row.name, "config trunk seeded before: the dashboard owns it");
        } else {
            store.create_trunk(&row).await?;
        }
        store
            .mark_seeded(SeedKind::Trunk, org, &row.name, now)
            .await?;
        self.refresh(store).await
    }

    /// Reloads every trunk from the database and wakes [`Trunks::changed`] when the set
    /// differs. A stored trunk that no longer validates is logged and left out, so one bad
    /// row cannot stop the others.
    pub async fn refresh(&self, store: &Store) -> Result<(), TrunkCatalogError> {
        let rows = store.all_trunks().await?;
        let mut next = Vec::with_capacity(rows.len());
        for row in rows {
            let (org, name) = (row.org.clone(), row.name.clone());
            match self.open_row(row) {
                Ok(t) => next.push(Arc::new(t)),
                Err(e) => {
                    tracing::error!(%org, trunk = %name, error = %e, "stored trunk is unusable")
                }
            }
        }
        let mut current = self.write();
        if *current != next {
            *current = next;
            self.changed.notify_one();
        }
        Ok(())
    }

    fn open_row(&self, row: TrunkRow) -> Result<Trunk, TrunkCatalogError> {
        let mut config: TrunkConfig = serde_json::from_str(&row.config)?;
        config.name = row.name;
        let mut password_unreadable = false;
        config.password = match row.secret.as_str() {
            "" => None,
            sealed => match self
                .secrets
                .open(&qualified_name(&row.org, &config.name), sealed)
            {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(org = %row.org, trunk = %config.name, error = %e,
                        "trunk password unreadable; the trunk is left out of the SBC");
                    password_unreadable = true;
                    None
                }
            },
        };
        check(&config)?;
        Ok(Trunk {
            org: row.org,
            config,
            updated_at: row.updated_at,
            password_unreadable,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Trunk>>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Trunk>>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// A usable trunk: a valid name and settings the SBC accepts.
fn check(config: &TrunkConfig) -> Result<(), TrunkCatalogError> {
    if !valid_trunk_name(&config.name) {
        return Err(TrunkCatalogError::Name(config.name.clone()));
    }
    Ok(config.validate()?)
}
