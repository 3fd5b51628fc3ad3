//! Trunks in storage, on both engines: names unique per organisation, every query scoped by
//! organisation, passwords sealed at rest, and the cache the dashboard and the SBC share.

use c2c_sbc::trunk::TrunkConfig;
use c2c_store::{SecretUpdate, TrunkRow};
use c2c_web::{SecretBox, Trunks};

use c2c_store::testing::engines;

const PASSWORD: &str = "pa55-w0rd-never-in-a-dump";

fn trunk(name: &str, host: &str) -> TrunkConfig {
    TrunkConfig {
        name: name.into(),
        host: host.into(),
        port: 5060,
        username: Some("acct".into()),
        password: Some(PASSWORD.into()),
        group: Some("pool".into()),
        ..TrunkConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_scoped_by_organisation() {
    for e in engines().await {
        let s = &e.store;
        let row = |org: &str, name: &str, config: &str| TrunkRow {
            org: org.into(),
            name: name.into(),
            config: config.into(),
            secret: String::new(),
            updated_at: 1,
        };
        assert!(s.create_trunk(&row("o1", "main", "{a}")).await.expect("c"));
        assert!(
            s.create_trunk(&row("o2", "main", "{b}")).await.expect("c"),
            "{}: another organisation may use the same name",
            e.name
        );
        assert!(
            !s.create_trunk(&row("o1", "main", "{c}")).await.expect("c"),
            "{}: one organisation cannot have two",
            e.name
        );
        assert_eq!(
            s.trunk("o1", "main")
                .await
                .expect("get")
                .expect("o1")
                .config,
            "{a}"
        );
        assert!(s.trunk("o3", "main").await.expect("get").is_none());
        // An update or delete through another organisation finds nothing.
        assert!(!s
            .update_trunk("o3", "main", "{x}", SecretUpdate::Keep, 2)
            .await
            .expect("u"));
        assert!(!s.delete_trunk("o3", "main").await.expect("d"));
        assert!(s
            .update_trunk("o2", "main", "{b2}", SecretUpdate::Set("sealed"), 2)
            .await
            .expect("u"));
        assert!(s
            .update_trunk("o2", "main", "{b3}", SecretUpdate::Keep, 3)
            .await
            .expect("u"));
        let o2 = s.org_trunks("o2").await.expect("list");
        assert_eq!(o2.len(), 1);
        assert_eq!(
            (o2[0].config.as_str(), o2[0].secret.as_str()),
            ("{b3}", "sealed")
        );
        assert_eq!(o2[0].updated_at, 3);
        assert_eq!(
            s.trunk("o1", "main")
                .await
                .expect("get")
                .expect("o1")
                .config,
            "{a}"
        );
        assert_eq!(s.all_trunks().await.expect("all").len(), 2);
        assert!(s.delete_trunk("o1", "main").await.expect("d"));
        assert!(s.org_trunks("o1").await.expect("list").is_empty());
        assert_eq!(s.all_trunks().await.expect("all").len(), 1);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_seals_passwords_and_qualifies_names_for_the_sbc() {
    for e in engines().await {
        let s = &e.store;
        let cache = Trunks::new(SecretBox::ephemeral().expect("key"));
        cache
            .seed(s, "o1", &trunk("main", "sip.o1.test"), false, 1)
            .await
            .expect("seed");
        cache
            .seed(s, "o2", &trunk("main", "sip.o2.test"), false, 1)
            .await
            .expect("seed");
        // A dump of the table does not hold the password.
        for row in s.all_trunks().await.expect("all") {
            assert!(!row.config.contains(PASSWORD), "{}: {}", e.name, row.config);
            assert!(!row.secret.contains(PASSWORD) && !row.secret.is_empty());
        }
        let got = cache.get("o1", "main").expect("o1 main");
        assert_eq!(got.config.password.as_deref(), Some(PASSWORD));
        assert_eq!(got.config.host, "sip.o1.test");
        assert_eq!(cache.names("o2"), ["main"]);
        assert!(cache.get("o3", "main").is_none());
        let mut sbc = cache.sbc_set();
        sbc.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<(&str, Option<&str>)> = sbc
            .iter()
            .map(|t| (t.name.as_str(), t.group.as_deref()))
            .collect();
        assert_eq!(
            names,
            [("o1/main", Some("o1/pool")), ("o2/main", Some("o2/pool"))],
            "{}: one tenant's group never backs up another's",
            e.name
        );
        // Seeding again keeps the stored (dashboard-owned) trunk unless told to replace it.
        cache
            .seed(s, "o1", &trunk("main", "changed.test"), false, 2)
            .await
            .expect("seed");
        assert_eq!(
            cache.get("o1", "main").expect("o1").config.host,
            "sip.o1.test"
        );
        cache
            .seed(s, "o1", &trunk("main", "changed.test"), true, 2)
            .await
            .expect("seed");
        assert_eq!(
            cache.get("o1", "main").expect("o1").config.host,
            "changed.test"
        );
        // A trunk deleted in the dashboard stays deleted though the config file still has it.
        assert!(s.delete_trunk("o1", "main").await.expect("delete"));
        cache
            .seed(s, "o1", &trunk("main", "sip.o1.test"), false, 3)
            .await
            .expect("seed after delete");
        assert!(
            s.trunk("o1", "main").await.expect("get").is_none(),
            "{}: a deleted trunk came back",
            e.name
        );
        cache
            .seed(s, "o1", &trunk("main", "changed.test"), true, 3)
            .await
            .expect("demo seed");
        // A sealed password moved to another row does not open there: the dashboard still
        // shows the trunk (to enter the password again), the SBC does not get it.
        let o1 = s.trunk("o1", "main").await.expect("get").expect("o1");
        let o2 = s.trunk("o2", "main").await.expect("get").expect("o2");
        let moved = SecretUpdate::Set(&o1.secret);
        assert!(s
            .update_trunk("o2", "main", &o2.config, moved, 3)
            .await
            .expect("u"));
        cache.refresh(s).await.expect("refresh");
        let o2 = cache.get("o2", "main").expect("o2 shown");
        assert!(
            o2.password_unreadable && o2.config.password.is_none(),
            "{}",
            e.name
        );
        let sbc: Vec<String> = cache.sbc_set().into_iter().map(|t| t.name).collect();
        assert_eq!(sbc, ["o1/main"], "{}", e.name);
        // Another node with another key file opens none of them.
        let stranger = Trunks::new(SecretBox::ephemeral().expect("key"));
        stranger.refresh(s).await.expect("refresh");
        assert!(stranger.sbc_set().is_empty(), "{}", e.name);
        // Invalid settings are refused before they reach the database.
        let bad = TrunkConfig {
            host: "bad host".into(),
            ..trunk("bad", "x")
        };
        assert!(cache.seed(s, "o1", &bad, false, 4).await.is_err());
        let slash = trunk("a/b", "sip.test");
        assert!(cache.seed(s, "o1", &slash, false, 4).await.is_err());
        assert!(s.trunk("o1", "bad").await.expect("get").is_none());
        e.finish().await;
    }
}
