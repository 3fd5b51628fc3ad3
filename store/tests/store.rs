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

/// Makes an agent of `org` named `name` with no account; returns its id.
async fn plain_agent(store: &c2c_store::Store, org: &str, name: &str, max_calls: i64) -> String {
    store
        .create_agent(
            &c2c_store::NewAgent {
                org: org.into(),
                display_name: name.into(),
                max_calls,
                skills: vec![("lang:en".into(), 3)],
                contacts: vec![c2c_store::AgentContact {
                    kind: c2c_store::ContactKind::Browser,
                    target: name.into(),
                    trunk: String::new(),
                    confirm_digit: String::new(),
                }],
                account: None,
            },
            10,
        )
        .await
        .expect("create")
        .expect("no account, no clash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_calls_are_claimed_atomically_up_to_max_calls_and_free_themselves() {
    for e in engines().await {
        // Ten calls ring one agent at once from two "nodes"; it carries two.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let store = e.store.clone();
            let node = if i % 2 == 0 { "node_a" } else { "node_b" };
            tasks.push(tokio::spawn(async move {
                store
                    .claim_agent("ag_x", &format!("call_{i}"), node, 2, 100_000, 1000)
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
        assert_eq!(won, vec![0, 1], "{}", e.name);

        // Max 1: the second call is refused; the first asking again keeps its slot.
        let s = &e.store;
        assert_eq!(
            s.claim_agent("ag_y", "c1", "node_a", 1, 100_000, 1000)
                .await
                .expect("claim"),
            Some(0),
            "{}",
            e.name
        );
        assert_eq!(
            s.claim_agent("ag_y", "c2", "node_b", 1, 100_000, 1000)
                .await
                .expect("claim"),
            None,
            "{}: all slots taken",
            e.name
        );
        assert_eq!(
            s.claim_agent("ag_y", "c1", "node_a", 1, 100_000, 1000)
                .await
                .expect("claim"),
            Some(0),
            "{}: the same call holds one slot",
            e.name
        );
        // Past expires_at (Unix s 1000 = 1,000,000 ms) the row is free again.
        assert_eq!(
            s.claim_agent("ag_y", "c2", "node_b", 1, 999_999, 2000)
                .await
                .expect("claim"),
            None,
            "{}: not yet expired",
            e.name
        );
        assert_eq!(
            s.claim_agent("ag_y", "c2", "node_b", 1, 1_000_000, 2000)
                .await
                .expect("claim"),
            Some(0),
            "{}: an expired row is taken over",
            e.name
        );
        // A release frees that call's slot only, and for that agent only.
        s.release_agent("ag_x", "c2", false, 100_000, 0)
            .await
            .expect("release");
        assert_eq!(
            s.claim_agent("ag_y", "c3", "node_a", 1, 1_000_000, 2000)
                .await
                .expect("claim"),
            None,
            "{}: releasing c2 for another agent leaves ag_y's",
            e.name
        );
        s.release_agent("ag_y", "c2", false, 1_000_000, 0)
            .await
            .expect("release");
        assert_eq!(
            s.claim_agent("ag_y", "c3", "node_a", 1, 1_000_000, 2000)
                .await
                .expect("claim"),
            Some(0),
            "{}",
            e.name
        );

        // Each node's start frees its own rows, once: ag_x's two calls and ag_y's c3.
        let freed = s.release_node_agent_calls("node_a").await.expect("release");
        let b_rows = s.release_node_agent_calls("node_b").await.expect("release");
        assert_eq!(
            freed + b_rows,
            3,
            "{}: each freed once, by its own node",
            e.name
        );
        assert_eq!(
            s.release_node_agent_calls("node_a").await.expect("release"),
            0,
            "{}",
            e.name
        );
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_start_frees_only_the_agent_calls_of_that_node() {
    for e in engines().await {
        let s = &e.store;
        let org = "acme";
        let a = plain_agent(s, org, "Ann", 3).await;
        for (call, node) in [("c1", "node_a"), ("c2", "node_b"), ("c3", "node_a")] {
            assert!(s
                .claim_agent(&a, call, node, 3, 100_000, 1000)
                .await
                .expect("claim")
                .is_some());
        }
        assert_eq!(
            s.release_node_agent_calls("node_a").await.expect("release"),
            2,
            "{}",
            e.name
        );
        let live = s.org_agent_states(org, 100_000).await.expect("states");
        assert_eq!(live[0].ringing, 1, "{}: node_b's call is still up", e.name);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_and_releasing_keep_each_agents_activity_per_day() {
    const DAY: i64 = 86_400_000;
    for e in engines().await {
        let s = &e.store;
        let org = "acme";
        let a = plain_agent(s, org, "Ann", 2).await;
        let b = plain_agent(s, org, "Ben", 2).await;
        let live = |states: &[c2c_store::AgentLive], id: &str| {
            states
                .iter()
                .find(|l| l.agent.id == id)
                .cloned()
                .expect("listed")
        };
        let t0 = 10 * DAY + 1000; // day 10
        let until = (12 * DAY) / 1000;

        // Never rung: nothing recorded.
        let st = s.org_agent_states(org, t0).await.expect("states");
        let ann = live(&st, &a);
        assert_eq!(
            (
                ann.ringing,
                ann.on_call,
                ann.idle_since_ms,
                ann.wrap_up_until_ms,
                ann.answered_today
            ),
            (0, 0, 0, 0, 0),
            "{}",
            e.name
        );

        // Two calls ring Ann; she answers one.
        for call in ["c1", "c2"] {
            assert!(s
                .claim_agent(&a, call, "n1", 2, t0, until)
                .await
                .expect("claim")
                .is_some());
        }
        s.agent_answered(&a, "c1", t0 + 500).await.expect("answer");
        s.agent_answered(&a, "c1", t0 + 600)
            .await
            .expect("answer again");
        let ann = live(&s.org_agent_states(org, t0 + 700).await.expect("s"), &a);
        assert_eq!((ann.ringing, ann.on_call), (1, 1), "{}", e.name);
        assert_eq!(
            ann.answered_today, 1,
            "{}: one call counts once however often its answer is told",
            e.name
        );
        assert_eq!(
            ann.idle_since_ms, 0,
            "{}: answering is not idleness",
            e.name
        );

        // The unanswered attempt ends: activity stays as it was.
        s.release_agent(&a, "c2", false, t0 + 800, 30_000)
            .await
            .expect("release");
        let ann = live(&s.org_agent_states(org, t0 + 900).await.expect("s"), &a);
        assert_eq!((ann.ringing, ann.on_call), (0, 1), "{}", e.name);
        assert_eq!(
            (ann.idle_since_ms, ann.wrap_up_until_ms),
            (0, 0),
            "{}",
            e.name
        );

        // The answered call ends: idle from then, in wrap-up for 30 s.
        s.release_agent(&a, "c1", true, t0 + 10_000, 30_000)
            .await
            .expect("release");
        let ann = live(&s.org_agent_states(org, t0 + 10_001).await.expect("s"), &a);
        assert_eq!((ann.ringing, ann.on_call), (0, 0), "{}", e.name);
        assert_eq!(ann.idle_since_ms, t0 + 10_000, "{}", e.name);
        assert_eq!(ann.wrap_up_until_ms, t0 + 40_000, "{}", e.name);
        assert_eq!(ann.answered_today, 1, "{}", e.name);

        // A second answered call the same day counts 2; an unanswered attempt that Ben had
        // leaves Ben without activity.
        s.claim_agent(&a, "c3", "n1", 2, t0 + 50_000, until)
            .await
            .expect("claim");
        s.agent_answered(&a, "c3", t0 + 50_000)
            .await
            .expect("answer");
        s.claim_agent(&b, "c4", "n1", 2, t0 + 50_000, until)
            .await
            .expect("claim");
        s.release_agent(&b, "c4", false, t0 + 51_000, 30_000)
            .await
            .expect("release");
        let st = s.org_agent_states(org, t0 + 52_000).await.expect("s");
        let ann = live(&st, &a);
        let ben = live(&st, &b);
        assert_eq!((ann.on_call, ann.answered_today), (1, 2), "{}", e.name);
        assert_eq!(
            ann.idle_since_ms,
            t0 + 10_000,
            "{}: on a call, the last end stays",
            e.name
        );
        assert_eq!(
            (
                ben.ringing,
                ben.idle_since_ms,
                ben.wrap_up_until_ms,
                ben.answered_today
            ),
            (0, 0, 0, 0),
            "{}",
            e.name
        );

        // The next day, yesterday's count reads 0; the first answer restarts it at 1.
        s.release_agent(&a, "c3", true, t0 + 60_000, 0)
            .await
            .expect("release");
        let next = t0 + DAY;
        let ann = live(&s.org_agent_states(org, next).await.expect("s"), &a);
        assert_eq!(ann.answered_today, 0, "{}: a new day", e.name);
        assert_eq!(
            (ann.idle_since_ms, ann.wrap_up_until_ms),
            (t0 + 60_000, t0 + 60_000),
            "{}",
            e.name
        );
        s.claim_agent(&a, "c5", "n1", 2, next, until)
            .await
            .expect("claim");
        s.agent_answered(&a, "c5", next).await.expect("answer");
        let ann = live(&s.org_agent_states(org, next + 1).await.expect("s"), &a);
        assert_eq!(ann.answered_today, 1, "{}: restarted", e.name);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_agent_states_count_live_calls_and_registrations_of_that_org_only() {
    use c2c_store::AgentRegistration;
    for e in engines().await {
        let s = &e.store;
        let ann = plain_agent(s, "acme", "Ann", 3).await;
        let ben = plain_agent(s, "acme", "Ben", 1).await;
        let zed = plain_agent(s, "other", "Zed", 2).await;

        // Away is set within the org only.
        assert!(s
            .set_agent_away("acme", &ben, true, 20)
            .await
            .expect("away"));
        assert!(
            !s.set_agent_away("other", &ann, true, 20)
                .await
                .expect("away"),
            "{}: not other's agent",
            e.name
        );
        assert!(
            !s.set_agent_away("acme", "ag_nobody", true, 20)
                .await
                .expect("away"),
            "{}",
            e.name
        );
        assert!(s.agent("acme", &ben).await.expect("get").expect("ben").away);
        assert!(!s.agent("acme", &ann).await.expect("get").expect("ann").away);
        assert!(s
            .set_agent_away("acme", &ben, false, 21)
            .await
            .expect("back"));
        assert!(!s.agent("acme", &ben).await.expect("get").expect("ben").away);
        assert!(s
            .set_agent_away("acme", &ben, true, 22)
            .await
            .expect("away"));

        let reg = |agent: &str, org: &str, contact: &str, expires_at| AgentRegistration {
            username: format!("u_{agent}"),
            contact: contact.into(),
            agent: agent.into(),
            org: org.into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp".into(),
            node: "n1".into(),
            expires_at,
        };
        for r in [
            reg(&ann, "acme", "sip:a@desk", 200),
            reg(&ann, "acme", "sip:a@old", 90),
            reg(&zed, "other", "sip:z@desk", 200),
        ] {
            s.put_registration(&r).await.expect("put");
        }
        // Ann: one ringing, two on call (one of them past its expiry); Zed one on call.
        let now = 100_000; // Unix s 100
        s.claim_agent(&ann, "c1", "n1", 3, now, 500)
            .await
            .expect("claim");
        s.claim_agent(&ann, "c2", "n1", 3, now, 500)
            .await
            .expect("claim");
        s.claim_agent(&ann, "c3", "n2", 3, now, 100)
            .await
            .expect("claim");
        s.agent_answered(&ann, "c2", now).await.expect("answer");
        s.agent_answered(&ann, "c3", now).await.expect("answer");
        s.claim_agent(&zed, "c9", "n1", 2, now, 500)
            .await
            .expect("claim");
        s.agent_answered(&zed, "c9", now).await.expect("answer");

        let st = s.org_agent_states("acme", now).await.expect("states");
        let ids: Vec<&str> = st.iter().map(|l| l.agent.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![ann.as_str(), ben.as_str()],
            "{}: by name, acme's only",
            e.name
        );
        let (a, b) = (&st[0], &st[1]);
        assert_eq!(
            a.agent,
            s.agent("acme", &ann).await.expect("get").expect("ann"),
            "{}: the agent as stored, skills and contacts too",
            e.name
        );
        assert_eq!(a.agent.skills, vec![("lang:en".to_string(), 3)]);
        assert_eq!(a.agent.contacts.len(), 1, "{}", e.name);
        assert_eq!(
            (a.ringing, a.on_call),
            (1, 1),
            "{}: c3 expired at Unix s 100",
            e.name
        );
        assert_eq!(a.answered_today, 2, "{}", e.name);
        assert_eq!(
            a.registrations,
            vec![reg(&ann, "acme", "sip:a@desk", 200)],
            "{}: the lapsed binding is left out",
            e.name
        );
        assert!(b.agent.away, "{}", e.name);
        assert_eq!(
            (
                b.ringing,
                b.on_call,
                b.answered_today,
                b.registrations.len()
            ),
            (0, 0, 0, 0),
            "{}",
            e.name
        );
        // Just before c3's expiry it still counts.
        let st = s.org_agent_states("acme", 99_999).await.expect("states");
        assert_eq!((st[0].ringing, st[0].on_call), (1, 2), "{}", e.name);

        let other = s.org_agent_states("other", now).await.expect("states");
        assert_eq!(other.len(), 1, "{}", e.name);
        assert_eq!(other[0].agent.id, zed, "{}", e.name);
        assert_eq!(
            (other[0].on_call, other[0].registrations.len()),
            (1, 1),
            "{}",
            e.name
        );
        assert!(s
            .org_agent_states("nobody", now)
            .await
            .expect("states")
            .is_empty());
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_agent_states_of_a_thousand_agents_load_quickly_on_sqlite() {
    use c2c_store::{AgentContact, AgentRegistration, ContactKind, NewAgent};
    let e = c2c_store::testing::sqlite().await;
    let s = &e.store;
    let now = 1_000_000;
    for i in 0..1000 {
        let id = s
            .create_agent(
                &NewAgent {
                    org: "big".into(),
                    display_name: format!("Agent {i:04}"),
                    max_calls: 2,
                    skills: vec![("lang:en".into(), 3), (format!("product:{}", i % 7), 4)],
                    contacts: vec![
                        AgentContact {
                            kind: ContactKind::Sip,
                            target: format!("u{i}"),
                            trunk: String::new(),
                            confirm_digit: String::new(),
                        },
                        AgentContact {
                            kind: ContactKind::Phone,
                            target: format!("+4930{i:06}"),
                            trunk: "carrier".into(),
                            confirm_digit: "1".into(),
                        },
                    ],
                    account: None,
                },
                10,
            )
            .await
            .expect("create")
            .expect("no account");
        s.put_registration(&AgentRegistration {
            username: format!("u{i}"),
            contact: format!("sip:u{i}@desk"),
            agent: id.clone(),
            org: "big".into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp".into(),
            node: "n1".into(),
            expires_at: 5000,
        })
        .await
        .expect("put");
        if i % 3 == 0 {
            s.claim_agent(&id, &format!("c{i}"), "n1", 2, now, 5000)
                .await
                .expect("claim");
            s.agent_answered(&id, &format!("c{i}"), now)
                .await
                .expect("answer");
        }
    }
    // Warm once, then time a few loads.
    let first = s.org_agent_states("big", now).await.expect("states");
    assert_eq!(first.len(), 1000);
    assert_eq!(first.iter().map(|l| l.on_call).sum::<u32>(), 334);
    assert!(first
        .iter()
        .all(|l| l.registrations.len() == 1 && l.agent.skills.len() == 2));
    let runs = 10;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        s.org_agent_states("big", now).await.expect("states");
    }
    let each = started.elapsed() / runs;
    eprintln!("org_agent_states with 1,000 agents on SQLite: {each:?} per load");
    let started = std::time::Instant::now();
    for _ in 0..runs {
        s.org_agents("big").await.expect("agents");
    }
    eprintln!(
        "org_agents with 1,000 agents on SQLite: {:?} per load",
        started.elapsed() / runs
    );
    e.finish().await;
}
