//! c2c-store: storage. One set of migrations, the same queries on SQLite (default, in the data
//! dir) and PostgreSQL (when `database_url` says so), through sqlx's `Any` driver. The web side
//! (dashboard, API) and the application (calls, records, leases) share it; it knows nothing of
//! HTTP or SIP.
//!
//! Queries stick to what both engines share: `$n` placeholders, `ON CONFLICT DO NOTHING`,
//! TEXT ids, BIGINT Unix seconds.

mod agent_edits;
mod agent_state;
mod agents;
mod api_keys;
mod call_queue;
mod call_slots;
mod call_writes;
mod callbacks;
mod calls;
mod campaigns;
mod config_seeds;
mod handle_stats;
mod interrupted_calls;
mod leases;
mod ledger;
mod sessions;
mod trunks;
mod users;

#[cfg(feature = "test-support")]
pub mod testing;

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use agent_edits::AgentCallTimes;
pub use agent_state::AgentLive;
pub use agents::{
    Agent, AgentContact, AgentCredentialRow, AgentRegistration, ContactKind, NewAgent, SipAccount,
};
pub use api_keys::{ApiKeyInfo, NewApiKey};
pub use call_writes::{CallMedia, CallWrite};
pub use callbacks::CallbackRequest;
pub use calls::{CallEvent, CallFilter, CallRecord, CallStats, NewCall};
pub use campaigns::CampaignRow;
pub use config_seeds::SeedKind;
pub use handle_stats::HandleStats;
pub use interrupted_calls::InterruptedCall;
pub use sessions::WebSession;
pub use trunks::{SecretUpdate, TrunkRow};
pub use users::{Login, NewLogin, Role, User};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("database {url}: {source}")]
    Open {
        /// The URL with any password removed.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("query: {0}")]
    Query(#[from] sqlx::Error),
    /// A row holds what no code of ours writes (edited by hand, or by another program).
    #[error("{table} row {key:?}: {problem}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl StoreError {
    /// Whether the database did not answer (down, restarting, unreachable, out of
    /// connections), as opposed to refusing what was asked: retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Open { .. } => true,
            StoreError::Query(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and 57P (operator intervention:
                // the server shutting down or restarting under the connection).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
                _ => false,
            },
            StoreError::Migrate(_) | StoreError::Corrupt { .. } => false,
        }
    }
}

/// The database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

/// How long a query may wait for a pooled connection before failing loudly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens the database at `url` (`sqlite://path?mode=rwc` or `postgres://...`) and applies
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            // SQLite serialises writers anyway; a few connections avoid lock churn.
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers proceed during writes; wait instead of failing on
                        // a busy database.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        // The page cache grows to 2 MiB per connection by default, which the
                        // load test saw as memory per call; a call touches a few rows.
                        sqlx::query("PRAGMA cache_size = -512")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                url: redact(url),
                source,
            })?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating if needed) the SQLite database `c2c.db` in `data_dir`.
    pub async fn open_sqlite_in(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            url: data_dir.display().to_string(),
            source: sqlx::Error::Io(e),
        })?;
        let url = format!("sqlite://{}?mode=rwc", data_dir.join("c2c.db").display());
        Self::open(&url).await
    }

    /// Applies pending migrations (also `c2c migrate`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (before dropping a test database, or at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the database answers a trivial query (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// The connection pool, for queries of other modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A random id: 128 bits, hex.
pub(crate) fn random_id(prefix: &str) -> String {
    let n: u128 = rand::random();
    format!("{prefix}{n:032x}")
}
