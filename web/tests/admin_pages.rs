//! Dashboard pages through the real router: the call list's filters and CSV, campaigns made
//! and edited in the dashboard applying to the next call, callbacks, API keys, users, and the
//! trunk test.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};

mod dash;
use dash::*;

#[tokio::test]
async fn the_call_list_filters_pages_and_exports() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    let all = send(&d, get("/admin/calls", Some(&session))).await;
    assert!(all.body.contains("/admin/calls/call_o1"), "{}", all.body);
    let none = send(&d, get("/admin/calls?disposition=busy", Some(&session))).await;
    assert!(!none.body.contains("/admin/calls/call_o1"));
    let live = send(
        &d,
        get(
            "/admin/calls?disposition=in_progress&campaign=sales",
            Some(&session),
        ),
    )
    .await;
    assert!(live.body.contains("/admin/calls/call_o1"));
    let bad = send(&d, get("/admin/calls?from=yesterday", Some(&session))).await;
    assert!(bad.body.contains("Use a date like"), "{}", bad.body);
    let csv = send(&d, get("/admin/calls.csv?campaign=sales", Some(&session))).await;
    assert!(csv
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/csv")));
    assert!(csv.body.starts_with("id,campaign,"), "{}", csv.body);
    assert!(csv.body.contains("\"call_o1\",\"sales\""), "{}", csv.body);
    // The media figures close each line; trunk loss and jitter as its RTCP reported them.
    assert!(
        csv.body
            .contains(",\"1500\",\"1500\",\"1490\",\"1490\",\"3\",\"10\",\"15\",\"2.5\"\r\n"),
        "{}",
        csv.body
    );
    let call = send(&d, get("/admin/calls/call_o1", Some(&session))).await;
    for shown in [
        "<td data-test=\"from-browser\">1500</td>",
        "3 (0.20 %)",
        "10 (0.67 %)",
        "1.00 %",
        "2.5 ms",
    ] {
        assert!(
            call.body.contains(shown),
            "media lacks {shown}: {}",
            call.body
        );
    }
    let live_page = send(&d, get("/admin/live", Some(&session))).await;
    assert!(live_page.body.contains("+4930999000"), "{}", live_page.body);
}

/// The campaign form's fields for `origin`.
fn campaign_form<'a>(csrf: &'a str, id: &'a str, origin: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("public_id", id),
        ("name", "Support"),
        ("active", "on"),
        ("allowed_origins", origin),
        ("timezone", "Europe/Berlin"),
        ("hours", ""),
        ("trunk", "main"),
        ("destinations", "sip:support@pbx.example\n+4930 123 456\n"),
        ("ring_timeout_s", "15"),
        ("pool_first", "+4930888000"),
        ("pool_count", "5"),
        ("max_concurrent_calls", "3"),
        ("label", "Call support"),
        ("color", "#112233"),
        ("position", "bottom-left"),
        ("fallback", "callback"),
        ("fallback_message", "Closed"),
    ]
}

async fn token_status(d: &Dash, campaign: &str, origin: &str) -> StatusCode {
    let body = serde_json::json!({"campaign": campaign, "page_url": format!("{origin}/p"), "referrer": ""});
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/calls/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, origin)
        .body(Body::from(body.to_string()))
        .expect("request");
    send(d, req).await.status
}

#[tokio::test]
async fn a_campaign_made_in_the_dashboard_takes_the_next_call_and_edits_apply_at_once() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let shop = "https://support.example";
    assert_eq!(
        token_status(&d, "support", shop).await,
        StatusCode::NOT_FOUND
    );

    // Invalid input: the message sits next to the field, nothing is stored.
    let mut bad = campaign_form(&csrf, "support", "support.example");
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"allowed_origins-error\""),
        "{}",
        r.body
    );
    bad = campaign_form(&csrf, "support", shop);
    bad.retain(|(k, _)| *k != "destinations");
    bad.push(("destinations", "+4930123456\n<b>"));
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &bad)).await;
    assert!(r.body.contains("id=\"destinations-error\""), "{}", r.body);
    assert!(
        r.body.contains("&#34;&#60;b&#62;&#34; is neither"),
        "{}",
        r.body
    );
    let taken = campaign_form(&csrf, "rival", shop);
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &taken)).await;
    assert!(r.body.contains("id=\"public_id-error\""), "{}", r.body);

    let r = send(
        &d,
        post(
            "/admin/campaigns/new",
            Some(&session),
            &campaign_form(&csrf, "support", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/campaigns/support?saved=1");
    let page = send(&d, get(r.location(), Some(&session))).await;
    assert!(
        page.body.contains("data-campaign=&#34;support&#34;"),
        "snippet: {}",
        page.body
    );
    assert!(page.body.contains("data-copy=\"snippet\""));
    // Destinations keep their order; the form shows them one per line.
    assert!(
        page.body
            .contains("sip:support@pbx.example\n+4930 123 456</textarea>"),
        "{}",
        page.body
    );
    assert_eq!(token_status(&d, "support", shop).await, StatusCode::OK);

    // Edit: another origin; the old one is refused on the very next request.
    let other = "https://new.example";
    let r = send(
        &d,
        post(
            "/admin/campaigns/support",
            Some(&session),
            &campaign_form(&csrf, "ignored", other),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        token_status(&d, "support", shop).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(token_status(&d, "support", other).await, StatusCode::OK);

    // Viewers see campaigns but cannot change them.
    let (vs, vcsrf) = login(&d, "viewer@o1.example").await;
    let r = send(
        &d,
        post(
            "/admin/campaigns/support",
            Some(&vs),
            &campaign_form(&vcsrf, "x", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &d,
        post(
            "/admin/campaigns/new",
            Some(&vs),
            &campaign_form(&vcsrf, "v", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(d
        .store
        .audit_entries("o1", 10)
        .await
        .expect("audit")
        .iter()
        .any(|(_, _, action, target)| action == "campaign.update" && target == "support"));
}

#[tokio::test]
async fn callbacks_keys_and_users_are_managed_with_roles() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let (vs, vcsrf) = login(&d, "viewer@o1.example").await;
    let done = d.path("/admin/callbacks/{cb}/done");
    let r = send(&d, post(&done, Some(&vs), &[("csrf", &vcsrf)])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "viewer");
    let r = send(&d, post(&done, Some(&session), &[("csrf", &csrf)])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let list = send(&d, get("/admin/callbacks", Some(&session))).await;
    assert!(list.body.contains(">done<"), "{}", list.body);

    let r = send(
        &d,
        post(
            "/admin/keys",
            Some(&session),
            &[("csrf", &csrf), ("label", "")],
        ),
    )
    .await;
    assert!(r.body.contains("id=\"label-error\""), "{}", r.body);
    let r = send(
        &d,
        post(
            "/admin/keys",
            Some(&session),
            &[("csrf", &csrf), ("label", "helpdesk")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"new-key\""), "{}", r.body);
    let token_at = r.body.find("value=\"c2c_").expect("token shown once");
    let token: String = r.body[token_at + 7..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(
        d.store.api_key_org(&token).await.expect("org").as_deref(),
        Some("o1")
    );
    let again = send(&d, get("/admin/keys", Some(&session))).await;
    assert!(
        !again.body.contains(&token),
        "the secret is never shown again"
    );
    let revoke = d.path("/admin/keys/{key}/revoke");
    let r = send(&d, post(&revoke, Some(&session), &[("csrf", &csrf)])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let add = |csrf: &str, email: &str, password: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("email".into(), email.into()),
            ("password".into(), password.into()),
            ("role".into(), "viewer".into()),
        ]
    };
    let form = |v: &[(String, String)]| {
        post(
            "/admin/users",
            None,
            &v.iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let with_cookie = |mut r: Request<Body>, c: &str| {
        r.headers_mut()
            .insert(header::COOKIE, c.parse().expect("cookie"));
        r
    };
    let r = send(
        &d,
        with_cookie(
            form(&add(&vcsrf, "new@o1.example", "long enough password")),
            &vs,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only owners add users");
    let r = send(
        &d,
        with_cookie(form(&add(&csrf, "new@o1.example", "short")), &session),
    )
    .await;
    assert!(r.body.contains("id=\"password-error\""), "{}", r.body);
    let r = send(
        &d,
        with_cookie(
            form(&add(&csrf, "new@o1.example", "long enough password")),
            &session,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("new@o1.example can log in now"));
    let r = send(
        &d,
        with_cookie(
            form(&add(&csrf, "new@o1.example", "long enough password")),
            &session,
        ),
    )
    .await;
    assert!(r.body.contains("exists already"), "{}", r.body);
}

#[tokio::test]
async fn a_trunk_test_sends_options_and_shows_the_answer() {
    // A stand-in trunk: answers every request with 200 OK, echoing its headers (and branch).
    let trunk = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = trunk.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = trunk.recv_from(&mut buf).await {
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let rest = req.split_once("\r\n").map(|(_, r)| r).unwrap_or_default();
            let resp = format!("SIP/2.0 200 OK\r\n{rest}");
            let _ = trunk.send_to(resp.as_bytes(), from).await;
        }
    });
    let d = dash_with_trunk("http://127.0.0.1:8080", port).await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let (vs, vcsrf) = login(&d, "viewer@o1.example").await;
    let r = send(
        &d,
        post("/admin/trunks/main/test", Some(&vs), &[("csrf", &vcsrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "viewers cannot ping");
    let r = send(
        &d,
        post(
            "/admin/trunks/nope/test",
            Some(&session),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &d,
        post(
            "/admin/trunks/main/test",
            Some(&session),
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("answered 200 OK in"), "{}", r.body);
}
