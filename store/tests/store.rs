//! Storage against both engines it supports: SQLite (a file in a temp dir) and PostgreSQL (a
//! database made for the test on the local server `scripts/postgres.sh` starts).

use std::collections::HashSet;

use c2c_store::WebSession;
use c2c_token::{SessionNumber, TokenLedger};

use c2c_store::testing::engines;

fn numbers(n: usize) -> Vec<SessionNumber> {
    (0..n).map(|i| number(&format!("+1555010{i:04}"))).collect()
}

fn number(text: &str) -> SessionNumber {
    text.parse().expect("a session number")
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
                s.lease_number("c", &format!("s{i}"), "198.51.100.1", 1000, 2000)
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
                .lease_number("c", "late", "198.51.100.1", 1500, 2500)
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
            .lease_number("c", "s1", "198.51.100.1", 0, 10)
            .await
            .expect("lease")
            .expect("a");
        let b = e
            .store
            .lease_number("c", "s2", "198.51.100.1", 1, 20)
            .await
            .expect("lease")
            .expect("b");
        let c = e
            .store
            .lease_number("c", "s3", "198.51.100.1", 2, 30)
            .await
            .expect("lease")
            .expect("c");
        assert_eq!(
            e.store
                .lease_number("c", "s4", "198.51.100.1", 5, 40)
                .await
                .expect("lease"),
            None
        );
        // s1's call ended at 8: the number lingers until 25.
        e.store.linger_lease(&a, "s1", 25).await.expect("linger");
        // At 26, a (expired 25) and b (expired 20) are free: b was released first.
        let next = e
            .store
            .lease_number("c", "s5", "198.51.100.1", 26, 99)
            .await
            .expect("lease")
            .expect("next");
        assert_eq!(next, b, "{}", e.name);
        let next = e
            .store
            .lease_number("c", "s6", "198.51.100.1", 26, 99)
            .await
            .expect("lease")
            .expect("next");
        assert_eq!(next, a, "{}", e.name);
        let _ = c;
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_dropped_from_a_pool_are_never_lent_again_and_can_return() {
    for e in engines().await {
        let pool = numbers(3);
        e.store.seed_pool("c", &pool).await.expect("seed");
        // Another campaign's number is not taken over by a pool that lists it too.
        e.store
            .seed_pool("other", &[number("+15559990000")])
            .await
            .expect("seed other");
        let held = e
            .store
            .lease_number("c", "s1", "198.51.100.1", 0, 100)
            .await
            .expect("lease")
            .expect("a number");
        // The pool is edited down to one number that is not the lent one.
        let kept: Vec<SessionNumber> = pool
            .iter()
            .filter(|n| **n != held)
            .take(1)
            .cloned()
            .collect();
        let mut edited = kept.clone();
        edited.push(number("+15559990000"));
        e.store.seed_pool("c", &edited).await.expect("edit");
        let mut lent = Vec::new();
        for i in 0..4 {
            // Long after every lease ended: only the kept number is ever lent.
            if let Some(n) = e
                .store
                .lease_number("c", &format!("t{i}"), "198.51.100.1", 1000 + i, 1001 + i)
                .await
                .expect("lease")
            {
                lent.push(n);
            }
        }
        assert!(!lent.is_empty(), "{}", e.name);
        assert!(
            lent.iter().all(|n| *n == kept[0]),
            "{}: lent {lent:?}",
            e.name
        );
        let other = e
            .store
            .lease_number("other", "o1", "198.51.100.1", 2000, 2001)
            .await
            .expect("lease");
        assert_eq!(other, Some(number("+15559990000")), "{}", e.name);
        // Put back, the retired number is lent again.
        e.store.seed_pool("c", &pool).await.expect("restore");
        let mut again = std::collections::HashSet::new();
        for i in 0..3 {
            if let Some(n) = e
                .store
                .lease_number("c", &format!("u{i}"), "198.51.100.1", 3000, 3100)
                .await
                .expect("lease")
            {
                again.insert(n);
            }
        }
        assert!(again.contains(&held), "{}: {again:?}", e.name);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_found_by_its_number_while_the_lease_holds() {
    for e in engines().await {
        e.store.seed_pool("c", &numbers(1)).await.expect("seed");
        let n = e
            .store
            .lease_number("c", "ws_1", "198.51.100.1", 100, 200)
            .await
            .expect("lease")
            .expect("n");
        let s = WebSession {
            id: "ws_1".into(),
            org: "o1".into(),
            campaign: "c".into(),
            number: n.to_string(),
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
            e.store
                .session_by_number(n.as_str(), 150)
                .await
                .expect("by number"),
            Some(s)
        );
        assert_eq!(
            e.store
                .session_by_number(n.as_str(), 200)
                .await
                .expect("by number"),
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
async fn many_concurrent_requests_on_a_large_pool_all_get_a_number() {
    // The load generator found 40 requests in flight refused as "exhausted" on a nearly empty
    // pool when every request raced for the same few candidates.
    for e in engines().await {
        e.store
            .seed_pool("big", &numbers(2000))
            .await
            .expect("seed");
        let mut tasks = Vec::new();
        for i in 0..60 {
            let s = e.store.clone();
            tasks.push(tokio::spawn(async move {
                s.lease_number("big", &format!("s{i}"), "198.51.100.1", 1000, 2000)
                    .await
                    .expect("lease")
            }));
        }
        let mut got = HashSet::new();
        for t in tasks {
            let n = t.await.expect("task");
            assert!(
                n.is_some(),
                "{}: refused while the pool was nearly empty",
                e.name
            );
            assert!(got.insert(n), "{}: a number was lent twice", e.name);
        }
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_leases_are_counted_per_client_until_the_call_starts_or_the_token_expires() {
    for e in engines().await {
        e.store.seed_pool("c", &numbers(5)).await.expect("seed");
        let (a, b) = ("198.51.100.1", "2001:db8:1:2::/64");
        let mut lent = Vec::new();
        for (session, client) in [("s1", a), ("s2", a), ("s3", b)] {
            let n = e
                .store
                .lease_number("c", session, client, 100, 190)
                .await
                .expect("lease")
                .expect("a number");
            lent.push(n);
        }
        let pending = |client| e.store.pending_leases("c", client, 150);
        assert_eq!(pending(Some(a)).await.expect("count"), 2, "{}", e.name);
        assert_eq!(pending(Some(b)).await.expect("count"), 1, "{}", e.name);
        assert_eq!(pending(None).await.expect("count"), 3, "{}", e.name);
        // s1's call starts: its number is no longer pending, and stays lent past the token.
        assert!(e
            .store
            .start_lease(&lent[0], "s1", 150, 10_000)
            .await
            .expect("start"));
        assert_eq!(pending(Some(a)).await.expect("count"), 1, "{}", e.name);
        assert_eq!(pending(None).await.expect("count"), 2, "{}", e.name);
        // Unused tokens expire: their leases no longer count, and can no longer start.
        assert_eq!(
            e.store.pending_leases("c", None, 190).await.expect("count"),
            0,
            "{}",
            e.name
        );
        assert!(!e
            .store
            .start_lease(&lent[1], "s2", 200, 10_000)
            .await
            .expect("start"));
        // The expired numbers are free again; s1's is not until its call lingers out.
        let mut free = Vec::new();
        while let Some(n) = e
            .store
            .lease_number("c", &format!("t{}", free.len()), a, 200, 290)
            .await
            .expect("lease")
        {
            free.push(n);
        }
        assert_eq!(free.len(), 4, "{}", e.name);
        assert!(!free.contains(&lent[0]), "{}", e.name);
        e.store
            .linger_lease(&lent[0], "s1", 250)
            .await
            .expect("linger");
        let back = e
            .store
            .lease_number("c", "u1", a, 260, 300)
            .await
            .expect("lease");
        assert_eq!(back.as_ref(), Some(&lent[0]), "{}", e.name);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_capped_atomically_across_nodes() {
    for e in engines().await {
        // Ten calls start at once on two "nodes" sharing the database; the campaign may
        // carry three.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let store = e.store.clone();
            let node = if i % 2 == 0 { "node_a" } else { "node_b" };
            tasks.push(tokio::spawn(async move {
                store
                    .claim_call_slot("c", &format!("call_{i}"), node, 3, 100, 1000)
                    .await
                    .expect("claim")
            }));
        }
        let mut won = Vec::new();
        for t in tasks {
            if let Some(slot) = t.await.expect("join") {
                won.push(slot);
            }
        }
        won.sort_unstable();
        assert_eq!(won, vec![0, 1, 2], "{}", e.name);
        assert_eq!(
            e.store.calls_in_progress("c", 100).await.expect("count"),
            3,
            "{}",
            e.name
        );
        // Another campaign has slots of its own.
        assert!(e
            .store
            .claim_call_slot("other", "x", "node_a", 1, 100, 1000)
            .await
            .expect("claim")
            .is_some());
        // A call ends: its slot is free for the next.
        let holder = (0..10).map(|i| format!("call_{i}")).collect::<Vec<_>>();
        for id in &holder {
            e.store.release_call_slot("c", id).await.expect("release");
            if e.store.calls_in_progress("c", 100).await.expect("count") == 2 {
                break;
            }
        }
        assert!(
            e.store
                .claim_call_slot("c", "late", "node_b", 3, 100, 1000)
                .await
                .expect("claim")
                .is_some(),
            "{}",
            e.name
        );
        // A node that starts again frees what it held; expired slots are free too.
        let freed = e
            .store
            .release_node_call_slots("node_b")
            .await
            .expect("release");
        assert!(freed >= 1, "{}", e.name);
        let left = e.store.calls_in_progress("c", 100).await.expect("count");
        assert!(left < 3, "{}", e.name);
        assert_eq!(
            e.store.calls_in_progress("c", 1000).await.expect("count"),
            0,
            "{}",
            e.name
        );
        assert!(
            e.store
                .claim_call_slot("c", "after", "node_a", 1, 1000, 2000)
                .await
                .expect("claim")
                .is_some(),
            "{}: an expired slot is taken over",
            e.name
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_keep_skills_contacts_one_account_each_and_registrations_per_node() {
    use c2c_store::{
        AgentContact, AgentCredentialRow, AgentRegistration, ContactKind, NewAgent, SipAccount,
    };
    for e in engines().await {
        let new = NewAgent {
            org: "acme".into(),
            display_name: "Alice".into(),
            max_calls: 2,
            skills: vec![("lang:de".into(), 5), ("product:billing".into(), 3)],
            contacts: vec![
                AgentContact {
                    kind: ContactKind::Sip,
                    target: "alice".into(),
                    trunk: String::new(),
                    confirm_digit: String::new(),
                },
                AgentContact {
                    kind: ContactKind::Phone,
                    target: "+4930123456".into(),
                    trunk: "carrier".into(),
                    confirm_digit: "1".into(),
                },
            ],
            account: Some(SipAccount {
                username: "alice".into(),
                realm: "c2c".into(),
                ha1_md5: "h0".into(),
                ha1_sha256: "h0".into(),
            }),
        };
        let alice = e
            .store
            .create_agent(&new, 10)
            .await
            .expect("create")
            .expect("alice is free");
        let bob = NewAgent {
            display_name: "Bob".into(),
            skills: Vec::new(),
            contacts: Vec::new(),
            ..new.clone()
        };
        assert_eq!(
            e.store.create_agent(&bob, 10).await.expect("create"),
            None,
            "{}: the username is alice's",
            e.name
        );
        let bob = e
            .store
            .create_agent(
                &NewAgent {
                    account: None,
                    ..bob
                },
                10,
            )
            .await
            .expect("create")
            .expect("no account, no clash");
        let listed = e.store.org_agents("acme").await.expect("list");
        assert_eq!(
            listed.len(),
            2,
            "{}: the refused agent was not half-made",
            e.name
        );
        assert_eq!(
            e.store.all_agent_credentials().await.expect("all").len(),
            1,
            "{}: with its account",
            e.name
        );
        assert_eq!(listed[0].id, alice, "{}: by name", e.name);
        assert_eq!(listed[0].skills, new.skills, "{}", e.name);
        assert_eq!(
            listed[0].contacts, new.contacts,
            "{}: in ring order",
            e.name
        );
        assert!(e.store.org_agents("other").await.expect("list").is_empty());
        assert!(
            e.store.agent("other", &alice).await.expect("get").is_none(),
            "{}",
            e.name
        );

        let account = |agent: &str, username: &str, ha1: &str| AgentCredentialRow {
            username: username.into(),
            agent: agent.into(),
            org: "acme".into(),
            realm: "c2c".into(),
            ha1_md5: ha1.into(),
            ha1_sha256: ha1.into(),
        };
        assert!(e
            .store
            .set_agent_credential(&account(&alice, "alice", "h1"), 11)
            .await
            .expect("set"));
        assert!(
            !e.store
                .set_agent_credential(&account(&bob, "alice", "h2"), 11)
                .await
                .expect("set"),
            "{}: a username belongs to one agent",
            e.name
        );
        assert!(e
            .store
            .set_agent_credential(&account(&alice, "alice2", "h3"), 12)
            .await
            .expect("set"));
        let all = e.store.all_agent_credentials().await.expect("all");
        assert_eq!(
            all,
            vec![account(&alice, "alice2", "h3")],
            "{}: replaced",
            e.name
        );

        let reg = |contact: &str, node: &str, expires_at| AgentRegistration {
            username: "alice2".into(),
            contact: contact.into(),
            agent: alice.clone(),
            org: "acme".into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp".into(),
            node: node.into(),
            expires_at,
        };
        e.store
            .put_registration(&reg("sip:a@desk", "n1", 100))
            .await
            .expect("put");
        e.store
            .put_registration(&reg("sip:a@desk", "n1", 200))
            .await
            .expect("refresh");
        e.store
            .put_registration(&reg("sip:a@mobile", "n2", 150))
            .await
            .expect("put");
        let now = e.store.org_registrations("acme", 120).await.expect("list");
        assert_eq!(now.len(), 2, "{}: a refresh is one row", e.name);
        assert_eq!(now[0].expires_at, 200, "{}", e.name);
        assert_eq!(
            e.store
                .org_registrations("acme", 160)
                .await
                .expect("list")
                .len(),
            1
        );
        e.store
            .delete_registration("alice2", "sip:a@mobile")
            .await
            .expect("delete");
        e.store
            .put_registration(&reg("sip:a@old", "n3", 50))
            .await
            .expect("put");
        assert_eq!(
            e.store.clear_registrations("n1", 60).await.expect("clear"),
            2,
            "{}: n1's rows and the lapsed one",
            e.name
        );
        assert!(e
            .store
            .org_registrations("acme", 0)
            .await
            .expect("list")
            .is_empty());
        e.finish().await;
    }
}
