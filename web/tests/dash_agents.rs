//! The dashboard's Agents pages through the real router (SQLite): organisation scoping,
//! the SIP password shown once and verifiable by the registrar, away, live state, CSRF and
//! escaping of what phones and admins typed.

use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use tower::ServiceExt;

use c2c_sbc::digest::{self, Algorithm};
use c2c_store::{AgentContact, AgentRegistration, ContactKind, NewAgent, Store};
use c2c_token::clock::unix_now;

mod dash;
use dash::*;

const OWNER: &str = "owner@o1.example";
const VIEWER: &str = "viewer@o1.example";
const RIVAL: &str = "owner@o2.example";

/// An agent made outside the dashboard (as the CLI does), with SIP account `username`.
async fn agent(store: &Store, org: &str, name: &str, username: &str) -> String {
    store
        .create_agent(
            &NewAgent {
                org: org.into(),
                display_name: name.into(),
                max_calls: 1,
                skills: vec![("lang:de".into(), 5)],
                contacts: vec![AgentContact {
                    kind: ContactKind::Sip,
                    target: username.into(),
                    trunk: String::new(),
                    confirm_digit: String::new(),
                }],
                account: Some(c2c_web::sip_account(username, "c2c", "old-password-123")),
            },
            1,
        )
        .await
        .expect("create")
        .expect("username free")
}

/// A phone of `agent` registered now over UDP.
async fn register(store: &Store, org: &str, agent: &str, username: &str, contact: &str) {
    store
        .put_registration(&AgentRegistration {
            username: username.into(),
            contact: contact.into(),
            agent: agent.into(),
            org: org.into(),
            source: "198.51.100.7:5062".into(),
            transport: "udp".into(),
            node: "node_test".into(),
            expires_at: unix_now() + 300,
        })
        .await
        .expect("registration");
}

/// The SIP password a page shows once.
fn shown_password(page: &str) -> String {
    let marker = "id=\"sip-password\" type=\"text\" readonly value=\"";
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no password shown in {page}"));
    let rest = &page[at + marker.len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

/// The `data-presence` of the first state cell after `id`'s row starts.
fn presence_of<'a>(page: &'a str, id: &str) -> &'a str {
    let row = &page[page
        .find(&format!("data-agent=\"{id}\""))
        .unwrap_or_else(|| panic!("no row of {id} in {page}"))..];
    let marker = "data-presence=\"";
    let rest = &row[row.find(marker).expect("state cell") + marker.len()..];
    &rest[..rest.find('"').expect("closing quote")]
}

fn agent_form<'a>(
    csrf: &'a str,
    name: &'a str,
    username: &'a str,
    skills: &'a str,
    max_calls: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("username", username),
        ("skills", skills),
        ("max_calls", max_calls),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_own_organisations_agents_only() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann Agent", "ann").await;
    agent(&d.store, "o2", "Rob Rival", "rob").await;
    register(&d.store, "o1", &ann, "ann", "sip:ann@10.0.0.5:5062").await;

    let (cookie, _) = login(&d, OWNER).await;
    let r = send(&d, get("/admin/agents", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Ann Agent"), "{}", r.body);
    assert!(!r.body.contains("Rob Rival"), "another org's agent listed");
    assert!(!r.body.contains("rob"), "another org's username listed");
    assert!(r.body.contains("lang:de=5"), "skills with levels");
    assert!(r.body.contains("<code>ann</code>"), "SIP username");
    assert!(r.body.contains("sip:ann@10.0.0.5:5062"), "contact URI");
    assert!(
        r.body.contains("198.51.100.7:5062 (udp)"),
        "source and transport"
    );
    assert!(r.body.contains("expires in 4:5") || r.body.contains("expires in 5:00"));
    assert_eq!(presence_of(&r.body, &ann), "available");
    assert!(r.body.contains("data-agents-src=\"/admin/agents/events\""));
    assert!(
        r.body.contains("href=\"/admin/agents\" class=\"on\""),
        "nav"
    );
    assert!(r.body.contains("New agent"));
    assert!(r.body.contains("Set away"));

    // A viewer sees the list, without the buttons that change things.
    let (viewer, _) = login(&d, VIEWER).await;
    let r = send(&d, get("/admin/agents", Some(&viewer))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Ann Agent"));
    assert!(!r.body.contains("New agent") && !r.body.contains("Set away"));
    let r = send(&d, get(&format!("/admin/agents/{ann}"), Some(&viewer))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("disabled"), "the form is read-only");
    let r = send(&d, get("/admin/agents/new", Some(&viewer))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agents_password_is_shown_once_and_verifies_at_the_registrar() {
    let d = dash("https://calls.example.com").await;
    let (cookie, csrf) = login(&d, OWNER).await;
    let r = send(&d, get("/admin/agents/new", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(
        &d,
        post(
            "/admin/agents",
            Some(&cookie),
            &agent_form(
                &csrf,
                "Alice",
                "alice.1",
                "Lang:DE=5\nproduct:billing=2",
                "2",
            ),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let password = shown_password(&r.body);
    assert!(password.len() >= 16, "{password}");
    assert!(r.body.contains("it is not shown again"));
    assert!(r.body.contains("<code>c2c</code>"), "the realm");
    assert!(
        r.body.contains("sip:alice.1@calls.example.com"),
        "the SIP address"
    );
    assert!(r.body.contains("calls.example.com:5060"), "the registrar");

    // Stored as HA1 for the registrar's realm, never in clear.
    let creds = d.store.all_agent_credentials().await.expect("credentials");
    let row = creds
        .iter()
        .find(|c| c.username == "alice.1")
        .expect("account stored");
    assert_eq!((row.org.as_str(), row.realm.as_str()), ("o1", "c2c"));
    assert_eq!(
        row.ha1_md5,
        digest::ha1(Algorithm::Md5, "alice.1", "c2c", &password)
    );
    assert_eq!(
        row.ha1_sha256,
        digest::ha1(Algorithm::Sha256, "alice.1", "c2c", &password)
    );
    let stored = d.store.org_agents("o1").await.expect("agents");
    assert_eq!(stored.len(), 1);
    let a = &stored[0];
    assert_eq!(a.id, row.agent);
    assert_eq!(a.display_name, "Alice");
    assert_eq!(a.max_calls, 2);
    assert_eq!(
        a.skills,
        vec![("lang:de".into(), 5), ("product:billing".into(), 2)]
    );
    assert_eq!(a.contacts[0].kind, ContactKind::Sip);
    assert_eq!(a.contacts[0].target, "alice.1");

    // Never shown again.
    for page in [
        "/admin/agents".to_owned(),
        format!("/admin/agents/{}", a.id),
    ] {
        let r = send(&d, get(&page, Some(&cookie))).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(
            !r.body.contains(&password),
            "{page} shows the password again"
        );
        assert!(r.body.contains("alice.1"), "{page}");
    }

    // A new password: shown once, the old one no longer verifies, the page says the phones
    // are signed out.
    let r = send(
        &d,
        post(
            &format!("/admin/agents/{}/password", a.id),
            Some(&cookie),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = shown_password(&r.body);
    assert_ne!(second, password);
    assert!(r.body.contains("signed out"), "{}", r.body);
    let creds = d.store.all_agent_credentials().await.expect("credentials");
    let row = creds.iter().find(|c| c.username == "alice.1").expect("row");
    assert_eq!(
        row.ha1_sha256,
        digest::ha1(Algorithm::Sha256, "alice.1", "c2c", &second)
    );
    assert_ne!(
        row.ha1_md5,
        digest::ha1(Algorithm::Md5, "alice.1", "c2c", &password)
    );
    let r = send(&d, get(&format!("/admin/agents/{}", a.id), Some(&cookie))).await;
    assert!(!r.body.contains(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_username_or_bad_input_is_refused_with_the_fix_and_nothing_is_made() {
    let d = dash("http://127.0.0.1:8080").await;
    agent(&d.store, "o2", "Bob", "bob").await; // usernames are unique across organisations
    let (cookie, csrf) = login(&d, OWNER).await;
    for (form, field, says) in [
        (
            agent_form(&csrf, "Bobby", "bob", "", "1"),
            "username-error",
            "another agent has it",
        ),
        (
            agent_form(&csrf, "Bobby", "bo b", "", "1"),
            "username-error",
            "use 1 to 64 letters, digits, &#39;.&#39;, &#39;-&#39; or &#39;_&#39;",
        ),
        (
            agent_form(&csrf, "Bobby", "bobby", "lang:en=2\nlang:de", "1"),
            "skills-error",
            "write TAG=LEVEL",
        ),
        (
            agent_form(&csrf, "Bobby", "bobby", "lang:de=7", "1"),
            "skills-error",
            "the level is 1 to 5",
        ),
        (
            agent_form(&csrf, "Bobby", "bobby", "", "0"),
            "max_calls-error",
            "max calls: use a whole number from 1 to 20",
        ),
        (
            agent_form(&csrf, " ", "bobby", "", "1"),
            "name-error",
            "name: give 1 to 100 characters",
        ),
    ] {
        let r = send(&d, post("/admin/agents", Some(&cookie), &form)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{says}");
        let err = &r.body[r
            .body
            .find(&format!("id=\"{field}\""))
            .unwrap_or_else(|| panic!("no {field} in {}", r.body))..];
        assert!(
            err[..err.find("</div>").expect("end")].contains(says),
            "{err}"
        );
        assert!(!r.body.contains("sip-password"), "no password for {says}");
    }
    let r = send(
        &d,
        post(
            "/admin/agents",
            Some(&cookie),
            &agent_form(&csrf, "Bobby", "bobby", "lang:en=2\nlang:de", "1"),
        ),
    )
    .await;
    assert!(r.body.contains("skills: line 2"), "{}", r.body);
    assert!(r.body.contains("Bobby"), "the form keeps what was typed");
    assert!(d.store.org_agents("o1").await.expect("agents").is_empty());
    let creds = d.store.all_agent_credentials().await.expect("creds");
    assert_eq!(creds.len(), 1, "only o2's bob");
    assert_eq!(creds[0].org, "o2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_skills_and_max_calls_are_edited() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann", "ann").await;
    let (cookie, csrf) = login(&d, OWNER).await;
    let path = format!("/admin/agents/{ann}");
    let r = send(
        &d,
        post(
            &path,
            Some(&cookie),
            &agent_form(&csrf, "Ann B.", "ignored", "lang:en=3\nlang:fr=1", "3"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{path}?saved=1"));
    let a = d
        .store
        .agent("o1", &ann)
        .await
        .expect("load")
        .expect("there");
    assert_eq!(a.display_name, "Ann B.");
    assert_eq!(a.max_calls, 3);
    assert_eq!(a.skills, vec![("lang:en".into(), 3), ("lang:fr".into(), 1)]);
    let names = d.store.org_agent_usernames("o1").await.expect("names");
    assert_eq!(names.get(&ann).map(String::as_str), Some("ann"), "fixed");
    let r = send(&d, get(&format!("{path}?saved=1"), Some(&cookie))).await;
    assert!(r.body.contains("Saved."));
    assert!(r.body.contains("lang:en=3\nlang:fr=1"), "{}", r.body);

    let r = send(
        &d,
        post(
            &path,
            Some(&cookie),
            &agent_form(&csrf, "Ann", "", "lang:en=3", "25"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .body
        .contains("max calls: use a whole number from 1 to 20"));
    let a = d
        .store
        .agent("o1", &ann)
        .await
        .expect("load")
        .expect("there");
    assert_eq!(a.max_calls, 3, "unchanged");

    // A viewer may not.
    let (viewer, viewer_csrf) = login(&d, VIEWER).await;
    let r = send(
        &d,
        post(
            &path,
            Some(&viewer),
            &agent_form(&viewer_csrf, "Hacked", "", "", "1"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for action in ["away", "password"] {
        let r = send(
            &d,
            post(
                &format!("{path}/{action}"),
                Some(&viewer),
                &[("csrf", &viewer_csrf)],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}");
    }
    let a = d
        .store
        .agent("o1", &ann)
        .await
        .expect("load")
        .expect("there");
    assert_eq!((a.display_name.as_str(), a.away), ("Ann B.", false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_and_back_change_the_presence_in_the_list() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann", "ann").await;
    let ben = agent(&d.store, "o1", "Ben", "ben").await;
    register(&d.store, "o1", &ann, "ann", "sip:ann@10.0.0.5").await;
    let (cookie, csrf) = login(&d, OWNER).await;
    let list = send(&d, get("/admin/agents", Some(&cookie))).await;
    assert_eq!(presence_of(&list.body, &ann), "available");
    assert_eq!(
        presence_of(&list.body, &ben),
        "offline",
        "no phone registered"
    );

    let away = format!("/admin/agents/{ann}/away");
    let r = send(
        &d,
        post(
            &away,
            Some(&cookie),
            &[("csrf", &csrf), ("away", "1"), ("back", "list")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/agents");
    let list = send(&d, get("/admin/agents", Some(&cookie))).await;
    assert_eq!(presence_of(&list.body, &ann), "away");
    assert!(list.body.contains("Set available"));
    // Sent twice (a double click): still away.
    send(
        &d,
        post(&away, Some(&cookie), &[("csrf", &csrf), ("away", "1")]),
    )
    .await;
    let page = send(&d, get(&format!("/admin/agents/{ann}"), Some(&cookie))).await;
    assert_eq!(presence_of(&page.body, &ann), "away");

    // Without a value it toggles; back to the agent's page by default.
    let r = send(&d, post(&away, Some(&cookie), &[("csrf", &csrf)])).await;
    assert_eq!(r.location(), format!("/admin/agents/{ann}"));
    let list = send(&d, get("/admin/agents", Some(&cookie))).await;
    assert_eq!(presence_of(&list.body, &ann), "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_phones_and_admins_typed_is_shown_escaped() {
    let d = dash("http://127.0.0.1:8080").await;
    let (cookie, csrf) = login(&d, OWNER).await;
    let name = format!("Eve {XSS_SCRIPT}{XSS_ATTR}");
    let r = send(
        &d,
        post(
            "/admin/agents",
            Some(&cookie),
            &agent_form(&csrf, &name, "eve", "", "1"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = d.store.org_agents("o1").await.expect("agents")[0]
        .id
        .clone();
    let contact = format!("sip:eve@10.0.0.9;x={XSS_SCRIPT}{XSS_ATTR}");
    register(&d.store, "o1", &id, "eve", &contact).await;
    // A hostile username typed into the form comes back escaped too.
    let typed = send(
        &d,
        post(
            "/admin/agents",
            Some(&cookie),
            &agent_form(&csrf, "X", XSS_ATTR, "", "1"),
        ),
    )
    .await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
    for (what, body) in [
        (
            "list",
            send(&d, get("/admin/agents", Some(&cookie))).await.body,
        ),
        (
            "agent",
            send(&d, get(&format!("/admin/agents/{id}"), Some(&cookie)))
                .await
                .body,
        ),
        ("refused form", typed.body),
    ] {
        assert!(!body.contains(XSS_SCRIPT), "{what}: raw script");
        assert!(!body.contains(XSS_ATTR), "{what}: raw attribute breakout");
        assert!(!body.contains("<img"), "{what}");
        if what != "refused form" {
            assert!(body.contains("&#60;script&#62;"), "{what}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_the_csrf_token_are_refused() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann", "ann").await;
    let (cookie, _) = login(&d, OWNER).await;
    let before = d.store.all_agent_credentials().await.expect("creds");
    for (path, form) in [
        (
            "/admin/agents".to_owned(),
            agent_form("", "New", "newbie", "", "1"),
        ),
        (
            format!("/admin/agents/{ann}"),
            agent_form("", "Renamed", "", "", "2"),
        ),
        (format!("/admin/agents/{ann}/away"), vec![("away", "1")]),
        (format!("/admin/agents/{ann}/password"), vec![]),
    ] {
        for token in [None, Some("wrong")] {
            let mut form = form.clone();
            form.retain(|(k, _)| *k != "csrf");
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let r = send(&d, post(&path, Some(&cookie), &form)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {token:?}");
        }
    }
    let agents = d.store.org_agents("o1").await.expect("agents");
    assert_eq!(agents.len(), 1, "nothing created");
    assert_eq!(
        (
            agents[0].display_name.as_str(),
            agents[0].max_calls,
            agents[0].away
        ),
        ("Ann", 1, false)
    );
    assert_eq!(
        d.store.all_agent_credentials().await.expect("creds"),
        before,
        "password unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisations_agent_is_not_found() {
    let d = dash("http://127.0.0.1:8080").await;
    let rob = agent(&d.store, "o2", "Rob", "rob").await;
    let before = d.store.all_agent_credentials().await.expect("creds");
    let (cookie, csrf) = login(&d, OWNER).await;
    let path = format!("/admin/agents/{rob}");
    let r = send(&d, get(&path, Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Rob"));
    for (p, form) in [
        (path.clone(), agent_form(&csrf, "Hijacked", "", "", "2")),
        (format!("{path}/away"), vec![("csrf", csrf.as_str())]),
        (format!("{path}/password"), vec![("csrf", csrf.as_str())]),
    ] {
        let r = send(&d, post(&p, Some(&cookie), &form)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
        assert!(!r.body.contains("sip-password"), "{p}");
    }
    let r = send(&d, get("/admin/agents/ag_nobody", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let a = d
        .store
        .agent("o2", &rob)
        .await
        .expect("load")
        .expect("there");
    assert_eq!(
        (a.display_name.as_str(), a.max_calls, a.away),
        ("Rob", 1, false)
    );
    assert_eq!(
        d.store.all_agent_credentials().await.expect("creds"),
        before
    );

    // Its owner sees it.
    let (rival, _) = login(&d, RIVAL).await;
    let r = send(&d, get(&path, Some(&rival))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Rob"));
}

/// The next event of an SSE body, as (event name, data).
async fn next_event<S>(body: &mut S, buf: &mut String) -> (String, String)
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
{
    loop {
        if let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !event.is_empty() {
                return (event, data);
            }
            continue; // a comment (keep-alive)
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("chunk");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn agents_of(data: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(data).expect("json");
    assert!(v["now_ms"].as_i64().is_some(), "{data}");
    v["agents"].as_array().expect("agents").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_sends_each_agents_presence_then_only_changes() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann", "ann").await;
    let ben = agent(&d.store, "o1", "Ben", "ben").await;
    let rob = agent(&d.store, "o2", "Rob", "rob").await;
    register(
        &d.store,
        "o1",
        &ann,
        "ann",
        &format!("sip:ann@h;{XSS_SCRIPT}"),
    )
    .await;
    let (cookie, _) = login(&d, OWNER).await;

    let resp = d
        .router
        .clone()
        .oneshot(get("/admin/agents/events", Some(&cookie)))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    let mut body = resp.into_body().into_data_stream();
    let mut buf = String::new();

    let (event, data) = next_event(&mut body, &mut buf).await;
    assert_eq!(event, "agents");
    let first = agents_of(&data);
    assert_eq!(first.len(), 2, "o1's agents only: {data}");
    assert!(!data.contains(&rob));
    let of = |list: &[serde_json::Value], id: &str| {
        list.iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {list:?}"))
    };
    let a = of(&first, &ann);
    assert_eq!(a["presence"], "available");
    assert_eq!(a["devices"][0]["transport"], "udp");
    assert_eq!(a["devices"][0]["source"], "198.51.100.7:5062");
    assert_eq!(
        a["devices"][0]["contact"],
        format!("sip:ann@h;{XSS_SCRIPT}"),
        "sent as data; the page inserts it as text"
    );
    assert_eq!(of(&first, &ben)["presence"], "offline");

    // Ann goes away: the next event carries her alone.
    assert!(d
        .store
        .set_agent_away("o1", &ann, true, unix_now())
        .await
        .expect("away"));
    let (event, data) = next_event(&mut body, &mut buf).await;
    assert_eq!(event, "agents");
    let changed = agents_of(&data);
    assert_eq!(changed.len(), 1, "only what changed: {data}");
    assert_eq!(changed[0]["id"], ann.as_str());
    assert_eq!(changed[0]["presence"], "away");
    assert_eq!(changed[0]["away"], true);

    // Ben's phone registers.
    register(&d.store, "o1", &ben, "ben", "sip:ben@10.0.0.6").await;
    let (_, data) = next_event(&mut body, &mut buf).await;
    let changed = agents_of(&data);
    assert_eq!(changed.len(), 1, "{data}");
    assert_eq!(changed[0]["id"], ben.as_str());
    assert_eq!(changed[0]["presence"], "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agents_route_sends_the_unauthenticated_to_the_login_page() {
    let d = dash("http://127.0.0.1:8080").await;
    let ann = agent(&d.store, "o1", "Ann", "ann").await;
    for path in [
        "/admin/agents".to_owned(),
        "/admin/agents/new".to_owned(),
        "/admin/agents/events".to_owned(),
        format!("/admin/agents/{ann}"),
    ] {
        let r = send(&d, get(&path, None)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), "/admin/login", "{path}");
    }
    for path in [
        "/admin/agents".to_owned(),
        format!("/admin/agents/{ann}"),
        format!("/admin/agents/{ann}/away"),
        format!("/admin/agents/{ann}/password"),
    ] {
        let r = send(&d, post(&path, None, &[("csrf", "x")])).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), "/admin/login", "{path}");
    }
}
