//! The live set of campaigns every request and every call consults.
//!
//! The database is the source of truth (the config file only seeds it); this cache is
//! replaced when the dashboard changes a campaign and refreshed periodically, so an edit on
//! any node applies to the next call without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::campaign::{Campaign, CampaignConfig, CampaignError};
use c2c_store::{SeedKind, Store, StoreError};

/// Campaigns by public id; cheap to clone, shared by the web and gateway roles.
#[derive(Debug, Clone, Default)]
pub struct Campaigns {
    inner: Arc<RwLock<HashMap<String, Entry>>>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The stored JSON, to tell whether a refresh changed anything (limiters survive if not).
    json: String,
    campaign: Arc<Campaign>,
}

/// Why the catalog could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings are invalid.
    #[error(transparent)]
    Invalid(#[from] CampaignError),
    /// The settings did not serialise.
    #[error("campaign JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Campaigns {
    /// A catalog holding exactly these campaigns (tests, tools).
    pub fn from_list(list: impl IntoIterator<Item = Campaign>) -> Campaigns {
        let cat = Campaigns::default();
        for c in list {
            let json = serde_json::to_string(&c.config).unwrap_or_default();
            cat.put(json, c);
        }
        cat
    }

    /// The campaign with this public id (active or not).
    pub fn get(&self, public_id: &str) -> Option<Arc<Campaign>> {
        self.read().get(public_id).map(|e| e.campaign.clone())
    }

    /// Every campaign.
    pub fn all(&self) -> Vec<Arc<Campaign>> {
        let mut v: Vec<_> = self.read().values().map(|e| e.campaign.clone()).collect();
        v.sort_by(|a, b| a.config.public_id.cmp(&b.config.public_id));
        v
    }

    /// Seeds a campaign from the config file the first time it is seen, unless stored already
    /// (the dashboard owns it then), then reloads; `replace` overwrites the stored one (the
    /// demo campaign, whose origins follow the server's URL).
    pub async fn seed(
        &self,
        store: &Store,
        config: CampaignConfig,
        replace: bool,
        now: i64,
    ) -> Result<(), CatalogError> {
        let campaign = Campaign::new(config)?;
        let json = serde_json::to_string(&campaign.config)?;
        let (id, org) = (&campaign.config.public_id, &campaign.config.org);
        if replace {
            if !store.seed_campaign(id, org, &json, now).await? {
                store.update_campaign(id, org, &json, now).await?;
            }
        } else if !store.was_seeded(SeedKind::Campaign, org, id).await? {
            store.seed_campaign(id, org, &json, now).await?;
        }
        store.mark_seeded(SeedKind::Campaign, org, id, now).await?;
        self.refresh(store).await
    }

    /// Reloads every campaign from the database. A stored campaign that no longer validates
    /// is logged and left out, so one bad row cannot stop the others.
    pub async fn refresh(&self, store: &Store) -> Result<(), CatalogError> {
        let rows = store.campaign_rows().await?;
        let mut next = HashMap::new();
        let current = self.read().clone();
        for row in rows {
            if let Some(e) = current.get(&row.public_id).filter(|e| e.json == row.config) {
                next.insert(row.public_id, e.clone());
                continue;
            }
            let parsed = serde_json::from_str::<CampaignConfig>(&row.config)
                .map_err(CatalogError::from)
                .and_then(|mut c| {
                    c.org = row.org.clone();
                    Ok(Campaign::new(c)?)
                });
            match parsed {
                Ok(c) => {
                    store.seed_pool(&c.config.public_id, &c.numbers).await?;
                    let entry = Entry {
                        json: row.config,
                        campaign: Arc::new(c),
                    };
                    next.insert(row.public_id, entry);
                }
                Err(e) => {
                    tracing::error!(campaign = %row.public_id, error = %e, "stored campaign is invalid")
                }
            }
        }
        *self.write() = next;
        Ok(())
    }

    fn put(&self, json: String, c: Campaign) {
        let id = c.config.public_id.clone();
        self.write().insert(
            id,
            Entry {
                json,
                campaign: Arc::new(c),
            },
        );
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        match self.inner.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        match self.inner.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
