//! The dashboard's storage against both engines: users and logins, call records and their
//! timelines, campaigns, callbacks and API keys.

use c2c_store::testing::engines;

/// A call of campaign `sales` in `o1`, started at 1000 on `node_a`; tests change what they need.
fn new_call(id: &str) -> c2c_store::NewCall {
    c2c_store::NewCall {
        id: id.into(),
        org: "o1".into(),
        campaign: "sales".into(),
        session_id: format!("ws_{id}"),
        number: "+15550100001".into(),
        destination: "+4930123456".into(),
        trunk: "main".into(),
        sip_call_id: String::new(),
        started_at: 1000,
        node: "node_a".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_log_in_with_their_password_only_and_logins_end() {
    use c2c_store::Role;
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
    use c2c_store::{CallFilter, NewCall};
    for e in engines().await {
        let call = |id: &str, org: &str, campaign: &str, at: i64| NewCall {
            org: org.into(),
            campaign: campaign.into(),
            started_at: at,
            ..new_call(id)
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
        e.store
            .add_sip_event(
                "c1",
                1_000_001,
                "sip_out",
                "192.0.2.7:5060",
                "INVITE sip:x SIP/2.0",
            )
            .await
            .expect("event");
        e.store
            .add_call_event("c1", 1_000_002, "state", "ringing")
            .await
            .expect("event");
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
                .map(|v| (v.seq, v.kind.as_str(), v.peer.as_str(), v.detail.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (1, "sip_out", "192.0.2.7:5060", "INVITE sip:x SIP/2.0"),
                (2, "state", "", "ringing")
            ],
            "{}",
            e.name
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_call_writes_lands_whole_or_not_at_all_with_its_media_figures() {
    use c2c_store::{CallMedia, CallWrite};
    for e in engines().await {
        let call = new_call("b1");
        let event = |at_ms: i64, kind: &str, detail: &str| CallWrite::Event {
            at_ms,
            kind: kind.into(),
            peer: String::new(),
            detail: detail.into(),
        };
        let media = CallMedia {
            from_browser: 500,
            to_browser: 498,
            from_trunk: 499,
            to_trunk: 500,
            lost_from_browser: 2,
            lost_from_trunk: 1,
            dropped_foreign: 3,
            trunk_reports: 4,
            trunk_lost: 5,
            trunk_jitter_us: 1_250,
        };
        e.store
            .apply_call_writes(
                "b1",
                &[
                    CallWrite::Insert(Box::new(call.clone())),
                    CallWrite::SipCallId("x@h".into()),
                    event(1_000_000, "state", "verified"),
                    CallWrite::Answered(1002),
                    event(1_000_001, "state", "answered"),
                ],
            )
            .await
            .expect("first batch");
        // The second batch fails at its last write (the call is inserted again): none of it
        // may land, not even the events and the end before it.
        let failing = [
            event(1_000_002, "end", "hangup_local"),
            CallWrite::Media(media),
            CallWrite::End {
                at: 1010,
                disposition: "hangup_local".into(),
                sip_status: None,
            },
            CallWrite::Insert(Box::new(call)),
        ];
        assert!(
            e.store.apply_call_writes("b1", &failing).await.is_err(),
            "{}",
            e.name
        );
        let record = e.store.call("o1", "b1").await.expect("get").expect("b1");
        assert_eq!((record.ended_at, record.answered_at), (None, Some(1002)));
        assert_eq!(e.store.call_events("b1").await.expect("events").len(), 2);
        assert_eq!(e.store.call_media("b1").await.expect("media"), None);
        // Without the bad write it lands whole, in order, seq continuing.
        e.store
            .apply_call_writes("b1", &failing[..3])
            .await
            .expect("retry");
        let record = e.store.call("o1", "b1").await.expect("get").expect("b1");
        assert_eq!(
            (record.ended_at, record.disposition.as_deref()),
            (Some(1010), Some("hangup_local"))
        );
        let events = e.store.call_events("b1").await.expect("events");
        assert_eq!(
            events
                .iter()
                .map(|v| (v.seq, v.detail.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "verified"), (2, "answered"), (3, "hangup_local")],
            "{}",
            e.name
        );
        assert_eq!(
            e.store.call_media("b1").await.expect("media"),
            Some(media),
            "{}",
            e.name
        );
        // Figures are written once.
        let again = CallMedia {
            from_browser: 1,
            ..media
        };
        e.store
            .apply_call_writes("b1", &[CallWrite::Media(again)])
            .await
            .expect("second media");
        assert_eq!(e.store.call_media("b1").await.expect("media"), Some(media));
        assert_eq!(e.store.call_media("nope").await.expect("media"), None);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_closes_only_its_own_calls_left_open_as_interrupted() {
    use c2c_store::NewCall;
    for e in engines().await {
        let call = |id: &str, node: &str| NewCall {
            node: node.into(),
            ..new_call(id)
        };
        for (id, node) in [
            ("x1", "node_a"),
            ("x2", "node_a"),
            ("x3", "node_b"),
            ("x4", "node_a"),
        ] {
            e.store.insert_call(&call(id, node)).await.expect("insert");
        }
        e.store
            .add_call_event("x1", 1_000_500, "state", "answered")
            .await
            .expect("event");
        e.store
            .add_call_event("x1", 1_042_900, "state", "media moved")
            .await
            .expect("event");
        e.store
            .end_call("x2", 1010, "hangup_local", None)
            .await
            .expect("end");
        let closed = e
            .store
            .close_interrupted_calls("node_a", 9_000_000)
            .await
            .expect("close");
        assert_eq!(closed, 2, "{}", e.name);
        let get = |id: &'static str| {
            let s = e.store.clone();
            async move {
                let c = s.call("o1", id).await.expect("get").expect("call");
                (c.ended_at, c.disposition)
            }
        };
        // Ended at its last sign of life, or its start when nothing was recorded.
        assert_eq!(get("x1").await, (Some(1042), Some("interrupted".into())));
        assert_eq!(get("x4").await, (Some(1000), Some("interrupted".into())));
        assert_eq!(get("x2").await, (Some(1010), Some("hangup_local".into())));
        assert_eq!(
            get("x3").await,
            (None, None),
            "{}: another node's call",
            e.name
        );
        let events = e.store.call_events("x1").await.expect("events");
        let last = events.last().expect("an entry");
        assert_eq!(
            (last.seq, last.at_ms, last.kind.as_str()),
            (3, 9_000_000, "end")
        );
        assert!(last.detail.starts_with("interrupted"), "{}", last.detail);
        assert_eq!(
            e.store
                .close_interrupted_calls("node_a", 9_100_000)
                .await
                .expect("again"),
            0
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_finds_its_answered_open_calls_with_their_sip_messages() {
    use c2c_store::NewCall;
    for e in engines().await {
        let call = |id: &str, node: &str| NewCall {
            sip_call_id: format!("sip-{id}"),
            node: node.into(),
            ..new_call(id)
        };
        for (id, node) in [
            ("y1", "node_a"),
            ("y2", "node_a"),
            ("y3", "node_a"),
            ("y4", "node_b"),
        ] {
            e.store.insert_call(&call(id, node)).await.expect("insert");
        }
        let trunk = "192.0.2.7:5060";
        for id in ["y1", "y3", "y4"] {
            e.store.call_answered(id, 1002).await.expect("answered");
        }
        let s = &e.store;
        s.add_call_event("y1", 1_000_000, "state", "placed")
            .await
            .expect("event");
        s.add_sip_event("y1", 1_000_001, "sip_out", trunk, "INVITE sip:x SIP/2.0")
            .await
            .expect("event");
        s.add_sip_event("y1", 1_002_000, "sip_in", trunk, "SIP/2.0 200 OK")
            .await
            .expect("event");
        s.add_call_event("y1", 1_002_001, "state", "answered")
            .await
            .expect("event");
        s.end_call("y3", 1010, "hangup_local", None)
            .await
            .expect("end");
        let cut = s.interrupted_calls("node_a").await.expect("query");
        assert_eq!(
            cut.len(),
            1,
            "{}: only the answered open call of node_a",
            e.name
        );
        let y1 = &cut[0];
        assert_eq!(
            (y1.id.as_str(), y1.org.as_str(), y1.trunk.as_str()),
            ("y1", "o1", "main")
        );
        assert_eq!(y1.sip_call_id, "sip-y1");
        let ladder: Vec<(&str, &str, &str)> = y1
            .messages
            .iter()
            .map(|m| (m.kind.as_str(), m.peer.as_str(), m.detail.as_str()))
            .collect();
        assert_eq!(
            ladder,
            vec![
                ("sip_out", trunk, "INVITE sip:x SIP/2.0"),
                ("sip_in", trunk, "SIP/2.0 200 OK")
            ],
            "{}",
            e.name
        );
        s.close_interrupted_calls("node_a", 9_000_000)
            .await
            .expect("close");
        assert!(s
            .interrupted_calls("node_a")
            .await
            .expect("again")
            .is_empty());
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_seed_once_update_in_their_org_and_reload_into_the_catalog() {
    let config = |origin: &str| {
        let mut c: c2c_web::CampaignConfig = toml::from_str(
            r#"
public_id = "sales"
org = "o1"
allowed_origins = ["https://shop.example"]
trunk = "main"
destination = "+4930123456"
number_pool = { first = "+4930999000", count = 3 }
"#,
        )
        .expect("campaign");
        c.allowed_origins = vec![origin.to_owned()];
        c
    };
    for e in engines().await {
        let cat = c2c_web::Campaigns::default();
        cat.seed(&e.store, config("https://a.example"), false, 1)
            .await
            .expect("seed");
        // A second seed (a restart with an edited config file) keeps the stored campaign.
        cat.seed(&e.store, config("https://b.example"), false, 2)
            .await
            .expect("seed again");
        let c = cat.get("sales").expect("loaded");
        assert!(c.allows_origin("https://a.example"), "{}", e.name);
        let stored = serde_json::to_string(&config("https://c.example")).expect("json");
        assert!(
            !e.store
                .update_campaign("sales", "o2", &stored, 3)
                .await
                .expect("update"),
            "{}: another org cannot update it",
            e.name
        );
        assert!(e
            .store
            .update_campaign("sales", "o1", &stored, 3)
            .await
            .expect("update"));
        cat.refresh(&e.store).await.expect("refresh");
        let c = cat.get("sales").expect("still there");
        assert!(c.allows_origin("https://c.example") && !c.allows_origin("https://a.example"));
        assert!(!e
            .store
            .create_campaign("sales", "o2", &stored, 4)
            .await
            .expect("create"));
        // The pool was seeded: a number can be lent.
        assert!(e
            .store
            .lease_number("sales", "s1", "198.51.100.1", 10, 20)
            .await
            .expect("lease")
            .is_some());
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_marked_done_and_api_keys_listed_and_revoked() {
    for e in engines().await {
        let id = e
            .store
            .insert_callback("c", "+49301234567", "Ada", "192.0.2.1", 5)
            .await
            .expect("callback");
        assert_eq!(
            e.store
                .callback_campaign(&id)
                .await
                .expect("campaign")
                .as_deref(),
            Some("c")
        );
        assert!(!e
            .store
            .mark_callback_done(&id, "other", 6)
            .await
            .expect("done"));
        assert!(e.store.mark_callback_done(&id, "c", 6).await.expect("done"));
        assert!(!e
            .store
            .mark_callback_done(&id, "c", 7)
            .await
            .expect("twice"));
        let list = e.store.callbacks_with_state("c").await.expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].1, Some(6), "{}", e.name);
        let key = e.store.create_api_key("o1", "crm", 1).await.expect("key");
        assert_eq!(e.store.api_keys("o2").await.expect("keys"), vec![]);
        assert!(!e
            .store
            .revoke_api_key("o2", &key.id, 2)
            .await
            .expect("revoke"));
        assert!(e
            .store
            .revoke_api_key("o1", &key.id, 2)
            .await
            .expect("revoke"));
        assert_eq!(e.store.api_key_org(&key.token).await.expect("org"), None);
        assert_eq!(
            e.store.api_keys("o1").await.expect("keys")[0].revoked_at,
            Some(2)
        );
        e.finish().await;
    }
}
