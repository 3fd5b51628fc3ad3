//! Trunks in the dashboard through the real router: create and edit with validation next to
//! the field, write-only passwords, delete only when unused, another organisation's trunk
//! not found, viewers read only, and campaigns limited to their own organisation's trunks.
//! (Login and CSRF on every trunk route are walked by admin.rs via dash::PAGES/ACTIONS.)

use axum::http::StatusCode;

mod dash;
use dash::*;

/// The trunk form's fields.
fn trunk_form<'a>(
    csrf: &'a str,
    name: &'a str,
    host: &'a str,
    password: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("host", host),
        ("port", "5080"),
        ("transport", "udp"),
        ("username", "acct42"),
        ("password", password),
        ("realm", "sip.example"),
        ("from_domain", ""),
        ("caller_id_header", "pai"),
        ("user_phone", "on"),
        ("group", "carriers"),
        ("priority", "5"),
        ("weight", "50"),
        ("failover_after_ms", "3000"),
        ("keepalive_s", "30"),
    ]
}

const NEW_PASSWORD: &str = "n3w-Secret-value";
const NEWER_PASSWORD: &str = "an0ther-Secret-value";

#[tokio::test]
async fn create_edit_and_delete_with_write_only_passwords() {
    let d = dash("http://127.0.0.1:8080").await;
    let (s, csrf) = login(&d, "owner@o1.example").await;
    let mut bodies = Vec::new();

    // Validation: the message sits next to the offending field, and the password typed in
    // is not echoed back.
    for (name, host, field) in [
        ("carrier", "bad host", "host-error"),
        ("a/b", "sip.example.net", "name-error"),
        ("new", "sip.example.net", "name-error"),
    ] {
        let r = send(
            &d,
            post(
                "/admin/trunks/new",
                Some(&s),
                &trunk_form(&csrf, name, host, NEW_PASSWORD),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name} {host}");
        assert!(
            r.body.contains(&format!("id=\"{field}\"")),
            "{field}: {}",
            r.body
        );
        bodies.push(r.body);
    }
    let mut bad = trunk_form(&csrf, "carrier", "sip.example.net", NEW_PASSWORD);
    bad.retain(|(k, _)| *k != "failover_after_ms");
    bad.push(("failover_after_ms", "lots"));
    let r = send(&d, post("/admin/trunks/new", Some(&s), &bad)).await;
    assert!(
        r.body.contains("id=\"failover_after_ms-error\""),
        "{}",
        r.body
    );
    bodies.push(r.body);
    // A name of another organisation is free here; one of our own is taken.
    let r = send(
        &d,
        post(
            "/admin/trunks/new",
            Some(&s),
            &trunk_form(&csrf, "main", "h.example", ""),
        ),
    )
    .await;
    assert!(r.body.contains("id=\"name-error\""), "{}", r.body);

    // Create.
    let r = send(
        &d,
        post(
            "/admin/trunks/new",
            Some(&s),
            &trunk_form(&csrf, "carrier", "sip.example.net", NEW_PASSWORD),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/trunks/carrier?saved=1");
    let stored = d.trunks.get("o1", "carrier").expect("in the cache at once");
    assert_eq!(stored.config.password.as_deref(), Some(NEW_PASSWORD));
    assert_eq!(stored.config.port, 5080);
    assert_eq!(stored.config.group.as_deref(), Some("carriers"));
    assert!(stored.config.user_phone);
    let page = send(&d, get("/admin/trunks/carrier?saved=1", Some(&s))).await;
    assert!(
        page.body.contains("set — leave blank to keep"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Saved."));
    bodies.push(page.body);

    // Edit with the password left blank: kept.
    let r = send(
        &d,
        post(
            "/admin/trunks/carrier",
            Some(&s),
            &trunk_form(&csrf, "ignored", "sip2.example.net", ""),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = d.trunks.get("o1", "carrier").expect("still named carrier");
    assert_eq!(stored.config.host, "sip2.example.net");
    assert_eq!(stored.config.password.as_deref(), Some(NEW_PASSWORD));
    // Edit with a new one: replaced; an invalid edit keeps the old settings.
    let r = send(
        &d,
        post(
            "/admin/trunks/carrier",
            Some(&s),
            &trunk_form(&csrf, "carrier", "sip2.example.net", NEWER_PASSWORD),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        d.trunks
            .get("o1", "carrier")
            .expect("t")
            .config
            .password
            .as_deref(),
        Some(NEWER_PASSWORD)
    );
    let r = send(
        &d,
        post(
            "/admin/trunks/carrier",
            Some(&s),
            &trunk_form(&csrf, "carrier", "bad host", NEW_PASSWORD),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"host-error\""));
    bodies.push(r.body);
    assert_eq!(
        d.trunks
            .get("o1", "carrier")
            .expect("t")
            .config
            .password
            .as_deref(),
        Some(NEWER_PASSWORD)
    );
    // Remove it.
    let mut clear = trunk_form(&csrf, "carrier", "sip2.example.net", "");
    clear.push(("clear_password", "on"));
    let r = send(&d, post("/admin/trunks/carrier", Some(&s), &clear)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        d.trunks.get("o1", "carrier").expect("t").config.password,
        None
    );

    // Every page the owner can see, none with a password in it.
    for path in PAGES {
        bodies.push(send(&d, get(path, Some(&s))).await.body);
    }
    bodies.push(send(&d, get("/admin/trunks/carrier", Some(&s))).await.body);
    for body in &bodies {
        for secret in [TRUNK_PASSWORD, NEW_PASSWORD, NEWER_PASSWORD] {
            assert!(!body.contains(secret), "a password was shown: {body}");
        }
    }
    // Nor in the database as written.
    for row in d.store.all_trunks().await.expect("rows") {
        assert!(!row.config.contains(TRUNK_PASSWORD) && !row.secret.contains(TRUNK_PASSWORD));
    }

    // Delete: not while a campaign uses it.
    let r = send(
        &d,
        post("/admin/trunks/main/delete", Some(&s), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("sales"), "{}", r.body);
    assert!(d.trunks.get("o1", "main").is_some());
    let r = send(
        &d,
        post("/admin/trunks/carrier/delete", Some(&s), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(d.trunks.get("o1", "carrier").is_none());
    assert!(d.store.trunk("o1", "carrier").await.expect("get").is_none());
    let r = send(&d, get("/admin/trunks/carrier", Some(&s))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_organisations_trunk_is_not_found() {
    let d = dash("http://127.0.0.1:8080").await;
    let (s, csrf) = login(&d, "owner@o2.example").await;
    let r = send(&d, get("/admin/trunks/main", Some(&s))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for path in [
        "/admin/trunks/main",
        "/admin/trunks/main/delete",
        "/admin/trunks/main/test",
    ] {
        let form = trunk_form(&csrf, "main", "evil.example", "x");
        let r = send(&d, post(path, Some(&s), &form)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    let o1 = d.trunks.get("o1", "main").expect("o1's trunk untouched");
    assert_eq!(o1.config.host, "127.0.0.1");
    let list = send(&d, get("/admin/trunks", Some(&s))).await;
    assert!(list.body.contains(">o2main<"), "{}", list.body);
    assert!(!list.body.contains(">main<"), "{}", list.body);
    // o2 may have a trunk named like o1's: names are per organisation.
    let r = send(
        &d,
        post(
            "/admin/trunks/new",
            Some(&s),
            &trunk_form(&csrf, "main", "sip.o2.example", ""),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        d.trunks.get("o2", "main").expect("o2 main").config.host,
        "sip.o2.example"
    );
    assert_eq!(
        d.trunks.get("o1", "main").expect("o1 main").config.host,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn viewers_read_but_do_not_edit() {
    let d = dash("http://127.0.0.1:8080").await;
    let (s, csrf) = login(&d, "viewer@o1.example").await;
    let page = send(&d, get("/admin/trunks/main", Some(&s))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("disabled"), "{}", page.body);
    assert!(!page.body.contains(TRUNK_PASSWORD));
    let list = send(&d, get("/admin/trunks", Some(&s))).await;
    assert!(list.body.contains(">main<") && !list.body.contains("New trunk"));
    for (path, form) in [
        ("/admin/trunks/new", trunk_form(&csrf, "v", "h.example", "")),
        (
            "/admin/trunks/main",
            trunk_form(&csrf, "main", "h.example", ""),
        ),
        ("/admin/trunks/main/delete", vec![("csrf", csrf.as_str())]),
    ] {
        let r = send(&d, post(path, Some(&s), &form)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(
        d.trunks.get("o1", "main").expect("t").config.host,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn a_campaign_can_only_pick_its_own_organisations_trunk() {
    let d = dash("https://calls.example").await;
    let (s, csrf) = login(&d, "owner@o1.example").await;
    let edit = send(&d, get("/admin/campaigns/sales", Some(&s))).await;
    assert!(
        edit.body.contains("<option selected>main</option>"),
        "{}",
        edit.body
    );
    assert!(!edit.body.contains("o2main"), "o2's trunk offered to o1");
    let form = |trunk: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("name", "Sales"),
            ("active", "on"),
            ("allowed_origins", "https://shop.example"),
            ("timezone", "UTC"),
            ("hours", ""),
            ("trunk", trunk),
            ("destinations", "+4930123456"),
            ("ring_timeout_s", "20"),
            ("pool_first", "+4930999000"),
            ("pool_count", "5"),
            ("max_concurrent_calls", "3"),
            ("label", "Call"),
            ("color", "#112233"),
            ("position", "bottom-left"),
            ("fallback", "message"),
            ("fallback_message", "Closed"),
        ]
    };
    let r = send(
        &d,
        post("/admin/campaigns/sales", Some(&s), &form("o2main")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"trunk-error\""), "{}", r.body);
    let r = send(&d, post("/admin/campaigns/sales", Some(&s), &form("main"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn a_trunk_outside_the_operators_networks_is_refused_and_never_pinged() {
    let networks =
        c2c_sbc::networks::Networks::parse(&["203.0.113.0/24".to_string()]).expect("networks");
    let d = dash_in("http://127.0.0.1:8080", 9, networks).await;
    let (s, csrf) = login(&d, "owner@o1.example").await;
    // The operator's own gateway: an address trunks may not use.
    let r = send(
        &d,
        post(
            "/admin/trunks/new",
            Some(&s),
            &trunk_form(&csrf, "sneaky", "10.20.30.40", NEW_PASSWORD),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"host-error\""), "{}", r.body);
    assert!(r.body.contains("outside the networks"), "{}", r.body);
    // Inside the allowed block it saves.
    let r = send(
        &d,
        post(
            "/admin/trunks/new",
            Some(&s),
            &trunk_form(&csrf, "carrier", "203.0.113.5", NEW_PASSWORD),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // o1's configured trunk (127.0.0.1) is outside too: the test button does not ping it.
    let r = send(
        &d,
        post(
            "/admin/trunks/main/test",
            Some(&s),
            &[("csrf", csrf.as_str())],
        ),
    )
    .await;
    assert!(
        r.body.contains("outside the networks trunks may use"),
        "{}",
        r.body
    );
}
