//! Storage against both engines it supports: SQLite (a file in a temp dir) and PostgreSQL (a
//! database made for the test on the local server `scripts/postgres.sh` starts).

use std::collections::HashSet;

use c2c_sbc::token::TokenLedger;
use c2c_web::{Store, WebSession};

/// One engine under test, dropped at the end.
struct Engine {
    name: &'static str,
    store: Store,
    drop_db: Option<(String, String)>,
}

impl Engine {
    async fn finish(self) {
        self.store.close().await;
        if let Some((admin, db)) = self.drop_db {
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("admin connection");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .execute(&pool)
            .await
            .expect("drop test database");
            pool.close().await;
        }
    }
}

fn suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

async fn sqlite() -> Engine {
    let dir = std::env::temp_dir().join(format!("c2c-store-{}", suffix()));
    let store = Store::open_sqlite_in(&dir).await.expect("sqlite store");
    Engine {
        name: "sqlite",
        store,
        drop_db: None,
    }
}

async fn postgres() -> Engine {
    sqlx::any::install_default_drivers();
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_POSTGRES_URL is not set: run `make test`, or \
             `TEST_POSTGRES_URL=$(scripts/postgres.sh) cargo test -p c2c-web`"
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
    }
}

async fn engines() -> Vec<Engine> {
    vec![sqlite().await, postgres().await]
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+1555010{i:04}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_id_is_spent_once_across_nodes() {
    for e in engines().await {
        // Two "nodes" share one database.
        let other = e.store.clone();
        assert!(
            e.store.claim("jti-1", 100, 50).await.expect("claim"),
            "{}",
            e.name
        );
        assert!(
            !other.claim("jti-1", 100, 51).await.expect("claim"),
            "{}: replay",
            e.name
        );
        assert!(
            other.claim("jti-2", 100, 51).await.expect("claim"),
            "{}",
            e.name
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_get_the_same_number() {
    for e in engines().await {
        e.store.seed_pool("c", &numbers(10)).await.expect("seed");
        let mut tasks = Vec::new();
        for i in 0..25 {
            let s = e.store.clone();
            tasks.push(tokio::spawn(async move {
                s.lease_number("c", &format!("s{i}"), 1000, 2000)
                    .await
                    .expect("lease")
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            if let Some(n) = t.await.expect("task") {
                got.push(n);
            }
        }
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(
            got.len(),
            10,
            "{}: every number lent once, the rest refused: {got:?}",
            e.name
        );
        assert_eq!(
            unique.len(),
            got.len(),
            "{}: a number was lent twice: {got:?}",
            e.name
        );
        assert_eq!(
            e.store
                .lease_number("c", "late", 1500, 2500)
                .await
                .expect("lease"),
            None
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_numbers_return_least_recently_used_first_and_linger_extends() {
    for e in engines().await {
        let pool = numbers(3);
        e.store.seed_pool("c", &pool).await.expect("seed");
        let a = e
            .store
            .lease_number("c", "s1", 0, 10)
            .await
            .expect("lease")
            .expect("a");
        let b = e
            .store
            .lease_number("c", "s2", 1, 20)
            .await
            .expect("lease")
            .expect("b");
        let c = e
            .store
            .lease_number("c", "s3", 2, 30)
            .await
            .expect("lease")
            .expect("c");
        assert_eq!(
            e.store.lease_number("c", "s4", 5, 40).await.expect("lease"),
            None
        );
        // s1's call ended at 8: the number lingers until 25.
        e.store.extend_lease(&a, "s1", 25).await.expect("extend");
        // At 26, a (expired 25) and b (expired 20) are free: b was released first.
        let next = e
            .store
            .lease_number("c", "s5", 26, 99)
            .await
            .expect("lease")
            .expect("next");
        assert_eq!(next, b, "{}", e.name);
        let next = e
            .store
            .lease_number("c", "s6", 26, 99)
            .await
            .expect("lease")
            .expect("next");
        assert_eq!(next, a, "{}", e.name);
        let _ = c;
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_found_by_its_number_while_the_lease_holds() {
    for e in engines().await {
        e.store.seed_pool("c", &numbers(1)).await.expect("seed");
        let n = e
            .store
            .lease_number("c", "ws_1", 100, 200)
            .await
            .expect("lease")
            .expect("n");
        let s = WebSession {
            id: "ws_1".into(),
            org: "o1".into(),
            campaign: "c".into(),
            number: n.clone(),
            page_url: "https://shop.example/p?<script>".into(),
            referrer: "".into(),
            utm: Some(c2c_wire::Utm {
                source: Some("news".into()),
                ..Default::default()
            }),
            user_agent: "Mozilla/5.0 \"quoted\"".into(),
            ip: "192.0.2.1".into(),
            created_at: 100,
            expires_at: 200,
        };
        e.store.insert_session(&s).await.expect("insert");
        assert_eq!(
            e.store.session("ws_1").await.expect("get"),
            Some(s.clone()),
            "{}",
            e.name
        );
        assert_eq!(
            e.store.session_by_number(&n, 150).await.expect("by number"),
            Some(s)
        );
        assert_eq!(
            e.store.session_by_number(&n, 200).await.expect("by number"),
            None
        );
        assert_eq!(e.store.sessions_since("c", 100).await.expect("count"), 1);
        assert_eq!(e.store.sessions_since("c", 101).await.expect("count"), 0);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_callbacks_round_trip() {
    for e in engines().await {
        let key = e.store.create_api_key("o1", "crm", 1).await.expect("key");
        assert_eq!(
            e.store
                .api_key_org(&key.token)
                .await
                .expect("org")
                .as_deref(),
            Some("o1")
        );
        let forged = format!("{}x", key.token);
        assert_eq!(
            e.store.api_key_org(&forged).await.expect("org"),
            None,
            "{}",
            e.name
        );
        assert_eq!(e.store.api_key_org("nonsense").await.expect("org"), None);
        let id = e
            .store
            .insert_callback("c", "+49301234567", "Ada", "192.0.2.1", 5)
            .await;
        let id = id.expect("callback");
        let all = e.store.callbacks("c").await.expect("list");
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].id.as_str(), all[0].phone.as_str(), all[0].consent),
            (id.as_str(), "+49301234567", 1)
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    for e in engines().await {
        e.store.migrate().await.expect("second run is a no-op");
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_log_in_with_their_password_only_and_logins_end() {
    use c2c_web::store::Role;
    for e in engines().await {
        e.store.create_org("o1", "Org one", 1).await.expect("org");
        e.store
            .create_org("o1", "again", 2)
            .await
            .expect("org twice");
        assert_eq!(
            e.store.org_name("o1").await.expect("name").as_deref(),
            Some("Org one")
        );
        let u = e
            .store
            .create_user("o1", " Ada@Example.com", "correct horse", Role::Admin, 3)
            .await
            .expect("create")
            .expect("new user");
        assert_eq!(u.email, "ada@example.com", "{}", e.name);
        assert!(
            e.store
                .create_user("o2", "ada@example.com", "x", Role::Viewer, 4)
                .await
                .expect("create")
                .is_none(),
            "{}: the email is taken",
            e.name
        );
        let ok = e
            .store
            .check_password("ADA@example.com", "correct horse")
            .await
            .expect("check");
        assert_eq!(ok.as_ref(), Some(&u), "{}", e.name);
        assert_eq!(
            e.store
                .check_password("ada@example.com", "wrong")
                .await
                .expect("check"),
            None
        );
        assert_eq!(
            e.store
                .check_password("nobody@example.com", "correct horse")
                .await
                .expect("check"),
            None
        );
        let login = e.store.create_login(&u.id, 10, 100).await.expect("login");
        let found = e
            .store
            .login(&login.cookie, 50)
            .await
            .expect("lookup")
            .expect("valid");
        assert_eq!((found.user, found.csrf), (u.clone(), login.csrf.clone()));
        assert!(e
            .store
            .login(&login.cookie, 100)
            .await
            .expect("x")
            .is_none());
        assert!(e.store.login("forged", 50).await.expect("x").is_none());
        e.store.end_login(&login.cookie, 50).await.expect("logout");
        assert!(e.store.login(&login.cookie, 50).await.expect("x").is_none());
        assert_eq!(e.store.users("o1").await.expect("users"), vec![u.clone()]);
        e.store
            .audit("o1", &u.id, "campaign.update", "sales", 7)
            .await
            .expect("audit");
        let log = e.store.audit_entries("o1", 10).await.expect("log");
        assert_eq!(log.len(), 1, "{}", e.name);
        assert!(e
            .store
            .audit_entries("o2", 10)
            .await
            .expect("log")
            .is_empty());
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_record_is_written_at_start_and_completed_at_the_end() {
    use c2c_web::store::{CallFilter, NewCall};
    for e in engines().await {
        let call = |id: &str, org: &str, campaign: &str, at: i64| NewCall {
            id: id.into(),
            org: org.into(),
            campaign: campaign.into(),
            session_id: format!("ws_{id}"),
            number: "+15550100001".into(),
            destination: "+4930123456".into(),
            trunk: "main".into(),
            sip_call_id: String::new(),
            started_at: at,
        };
        e.store
            .insert_call(&call("c1", "o1", "sales", 1000))
            .await
            .expect("c1");
        e.store
            .insert_call(&call("c2", "o1", "support", 90_000))
            .await
            .expect("c2");
        e.store
            .insert_call(&call("c3", "o2", "sales", 1000))
            .await
            .expect("c3");
        e.store.set_call_sip_id("c1", "abc@h").await.expect("id");
        e.store.call_answered("c1", 1005).await.expect("answer");
        e.store.call_answered("c1", 1009).await.expect("re-answer");
        for (t, kind, detail) in [(1, "sip_out", "INVITE"), (2, "sip_in", "180 Ringing")] {
            e.store
                .add_call_event("c1", 1_000_000 + t, kind, detail)
                .await
                .expect("event");
        }
        // In progress: visible in the live list and with the in_progress filter.
        assert_eq!(e.store.live_calls("o1").await.expect("live").len(), 2);
        e.store
            .end_call("c1", 1065, "hangup_remote", Some(200))
            .await
            .expect("end");
        e.store
            .end_call("c1", 2000, "failed", None)
            .await
            .expect("ended once");
        let c1 = e.store.call("o1", "c1").await.expect("get").expect("c1");
        assert_eq!(
            (
                c1.sip_call_id.as_str(),
                c1.answered_at,
                c1.ended_at,
                c1.disposition.as_deref(),
                c1.sip_status,
                c1.talk_seconds()
            ),
            (
                "abc@h",
                Some(1005),
                Some(1065),
                Some("hangup_remote"),
                Some(200),
                Some(60)
            ),
            "{}",
            e.name
        );
        assert_eq!(e.store.call("o2", "c1").await.expect("get"), None, "scoped");
        let events = e.store.call_events("c1").await.expect("events");
        assert_eq!(
            events
                .iter()
                .map(|v| (v.seq, v.kind.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "sip_out"), (2, "sip_in")]
        );
        let all = e
            .store
            .calls("o1", &CallFilter::default(), 10, 0)
            .await
            .expect("list");
        assert_eq!(
            all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["c2", "c1"],
            "{}",
            e.name
        );
        let by = |f: CallFilter| {
            let s = e.store.clone();
            async move {
                s.calls("o1", &f, 10, 0)
                    .await
                    .expect("list")
                    .into_iter()
                    .map(|c| c.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            by(CallFilter {
                campaign: Some("sales".into()),
                ..Default::default()
            })
            .await,
            vec!["c1"]
        );
        assert_eq!(
            by(CallFilter {
                disposition: Some("in_progress".into()),
                ..Default::default()
            })
            .await,
            vec!["c2"]
        );
        assert_eq!(
            by(CallFilter {
                disposition: Some("hangup_remote".into()),
                from: Some(500),
                until: Some(2000),
                ..Default::default()
            })
            .await,
            vec!["c1"]
        );
        assert_eq!(
            e.store
                .calls("o1", &CallFilter::default(), 1, 1)
                .await
                .expect("page 2")
                .len(),
            1
        );
        let stats = e.store.call_stats("o1", 0, 86_400).await.expect("stats");
        assert_eq!(
            (stats.calls, stats.answered, stats.talk_seconds),
            (1, 1, 60)
        );
        assert_eq!(
            e.store.calls_per_day("o1", 0, 3).await.expect("per day"),
            vec![1, 1, 0],
            "{}",
            e.name
        );
        e.finish().await;
    }
}
