//! The dashboard's agent edits and reads, on both engines.

use c2c_store::testing::engines;
use c2c_store::{AgentCallTimes, AgentContact, ContactKind, NewAgent, SipAccount, Store};

async fn agent(s: &Store, org: &str, name: &str, username: &str) -> String {
    s.create_agent(
        &NewAgent {
            org: org.into(),
            display_name: name.into(),
            max_calls: 1,
            skills: vec![("lang:de".into(), 5), ("product:billing".into(), 2)],
            contacts: vec![AgentContact {
                kind: ContactKind::Sip,
                target: username.into(),
                trunk: String::new(),
                confirm_digit: String::new(),
            }],
            account: Some(SipAccount {
                username: username.into(),
                realm: "c2c".into(),
                ha1_md5: "m".into(),
                ha1_sha256: "s".into(),
            }),
        },
        10,
    )
    .await
    .expect("create")
    .expect("username free")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_name_max_calls_and_skills_are_replaced_in_its_org_only() {
    for e in engines().await {
        let s = &e.store;
        let ann = agent(s, "acme", "Ann", "ann").await;
        let rival = agent(s, "rival", "Rob", "rob").await;

        let skills = vec![("lang:en".to_owned(), 3), ("lang:de".to_owned(), 1)];
        assert!(
            s.update_agent("acme", &ann, "Ann B.", 4, &skills, 20)
                .await
                .expect("update"),
            "{}",
            e.name
        );
        let got = s.agent("acme", &ann).await.expect("load").expect("there");
        assert_eq!(got.display_name, "Ann B.", "{}", e.name);
        assert_eq!(got.max_calls, 4, "{}", e.name);
        assert_eq!(
            got.skills,
            vec![("lang:de".to_owned(), 1), ("lang:en".to_owned(), 3)],
            "{}: old skills gone, new ones by tag",
            e.name
        );
        assert_eq!(got.contacts.len(), 1, "{}: contacts kept", e.name);

        // Another organisation's agent is not found, and stays as it was.
        assert!(
            !s.update_agent("acme", &rival, "Hijacked", 9, &[], 30)
                .await
                .expect("update"),
            "{}",
            e.name
        );
        let rob = s
            .agent("rival", &rival)
            .await
            .expect("load")
            .expect("there");
        assert_eq!(rob.display_name, "Rob", "{}", e.name);
        assert_eq!(rob.skills.len(), 2, "{}: skills untouched", e.name);
        assert!(
            !s.update_agent("acme", "ag_nobody", "X", 1, &[], 30)
                .await
                .expect("update"),
            "{}",
            e.name
        );

        // No skills at all is allowed.
        assert!(s
            .update_agent("acme", &ann, "Ann", 1, &[], 40)
            .await
            .expect("update"));
        let got = s.agent("acme", &ann).await.expect("load").expect("there");
        assert!(got.skills.is_empty(), "{}", e.name);
        e.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_and_call_times_are_read_per_org() {
    for e in engines().await {
        let s = &e.store;
        let ann = agent(s, "acme", "Ann", "ann").await;
        let ben = agent(s, "acme", "Ben", "ben").await;
        let rob = agent(s, "rival", "Rob", "rob").await;

        let names = s.org_agent_usernames("acme").await.expect("usernames");
        assert_eq!(names.len(), 2, "{}", e.name);
        assert_eq!(
            names.get(&ann).map(String::as_str),
            Some("ann"),
            "{}",
            e.name
        );
        assert_eq!(
            names.get(&ben).map(String::as_str),
            Some("ben"),
            "{}",
            e.name
        );
        assert!(!names.contains_key(&rob), "{}", e.name);

        // Ann: one call answered at 100 s, one ringing since 105 s; Ben nothing.
        let now_ms = 110_000;
        assert!(s
            .claim_agent(&ann, "c1", "n1", 2, 100_000, 200)
            .await
            .expect("claim")
            .is_some());
        s.agent_answered(&ann, "c1", 101_000).await.expect("answer");
        assert!(s
            .claim_agent(&ann, "c2", "n1", 2, 105_000, 200)
            .await
            .expect("claim")
            .is_some());
        assert!(s
            .claim_agent(&rob, "c3", "n1", 1, 100_000, 200)
            .await
            .expect("claim")
            .is_some());
        let times = s.org_agent_call_times("acme", now_ms).await.expect("times");
        assert_eq!(
            times.get(&ann),
            Some(&AgentCallTimes {
                ringing_since_ms: Some(105_000),
                on_call_since_ms: Some(101_000),
            }),
            "{}",
            e.name
        );
        assert!(!times.contains_key(&ben), "{}", e.name);
        assert!(!times.contains_key(&rob), "{}: another org's", e.name);
        // Lapsed slots do not count.
        let later = s
            .org_agent_call_times("acme", 200_000)
            .await
            .expect("times");
        assert!(later.is_empty(), "{}", e.name);
        e.finish().await;
    }
}
