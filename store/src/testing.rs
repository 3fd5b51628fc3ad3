//! The storage engines tests run on (feature `test-support`): SQLite (a file in a temp dir)
//! and PostgreSQL (a database made for the test on the local server `scripts/postgres.sh`
//! starts, dropped afterwards). Every query is tested on both.

#![allow(clippy::expect_used, clippy::panic)] // test support: a failure here fails the test

use crate::Store;

/// One engine under test, dropped at the end.
pub struct Engine {
    pub name: &'static str,
    pub store: Store,
    drop_db: Option<(String, String)>,
    /// The SQLite file's folder, removed when the engine drops.
    _dir: Option<tempfile::TempDir>,
}

impl Engine {
    /// Closes the store and drops the test's database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, db)) = self.drop_db {
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("admin connection");
            let drop = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
            // FORCE cannot end an autovacuum worker (not our role's) that just started on the
            // fresh database; it finishes within moments, so try again a few times.
            let mut tries = 0;
            while let Err(err) = sqlx::query(sqlx::AssertSqlSafe(drop.clone()))
                .execute(&pool)
                .await
            {
                tries += 1;
                assert!(tries < 20, "drop test database: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            pool.close().await;
        }
    }
}

/// A fresh folder under the temp dir, removed when the guard drops.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

/// A random suffix for names a test must not share with another.
pub fn suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A store on a fresh SQLite file.
pub async fn sqlite() -> Engine {
    let dir = scratch("c2c-store-");
    let store = Store::open_sqlite_in(dir.path())
        .await
        .expect("sqlite store");
    Engine {
        name: "sqlite",
        store,
        drop_db: None,
        _dir: Some(dir),
    }
}

/// A store on a fresh PostgreSQL database at `TEST_POSTGRES_URL`.
pub async fn postgres() -> Engine {
    sqlx::any::install_default_drivers();
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_POSTGRES_URL is not set: run `make test`, or \
             `TEST_POSTGRES_URL=$(scripts/postgres.sh) cargo test -p c2c-store`"
        )
    });
    let db = format!("c2c_t_{}", suffix());
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
        panic!("cannot reach PostgreSQL at {admin} ({e}); start it with scripts/postgres.sh")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&pool)
        .await
        .expect("create database");
    pool.close().await;
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => panic!("TEST_POSTGRES_URL must end in /DATABASE"),
    };
    let store = Store::open(&url).await.expect("postgres store");
    Engine {
        name: "postgres",
        store,
        drop_db: Some((admin, db)),
        _dir: None,
    }
}

/// Both engines, to run a test on each.
pub async fn engines() -> Vec<Engine> {
    vec![sqlite().await, postgres().await]
}
