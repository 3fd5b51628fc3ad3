//! Dashboard access through the real router: every route refuses the unauthenticated (303 to
//! the login page), another organisation's objects are not found (404), state-changing
//! requests need the login's CSRF token (403), logins are rate limited, and strings from SIP
//! or a browser are escaped on every page that shows them.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt;

mod dash;
use dash::*;

#[tokio::test]
async fn every_route_sends_the_unauthenticated_to_the_login_page() {
    let d = dash("http://127.0.0.1:8080").await;
    for path in PAGES {
        let r = send(&d, get(path, None)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(r.location(), "/admin/login", "GET {path}");
        let r = send(&d, get(path, Some("c2c_admin=forged"))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "GET {path} forged cookie");
    }
    for path in ACTIONS {
        let path = &d.path(path);
        let r = send(&d, post(path, None, &[("csrf", "x")])).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(r.location(), "/admin/login", "POST {path}");
    }
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let d = dash("https://calls.example").await;
    let form = send(&d, get("/admin/login", None)).await;
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("pre cookie");
    let token = csrf_of(&form.body);
    let r = send(
        &d,
        post(
            "/admin/login",
            Some(&pre),
            &[
                ("email", "OWNER@o1.example"),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin");
    let set = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("c2c_admin="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/admin"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    let session = set.split(';').next().expect("pair").to_owned();
    let home = send(&d, get("/admin", Some(&session))).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("owner@o1.example"), "{}", home.body);
    assert!(home
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.to_str().unwrap_or_default().contains("script-src 'self'")));
    let csrf = csrf_of(&home.body);
    let out = send(
        &d,
        post("/admin/logout", Some(&session), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/admin/login");
    let after = send(&d, get("/admin", Some(&session))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the login ended");
}

#[tokio::test]
async fn plain_http_cookies_are_not_marked_secure() {
    let d = dash("http://127.0.0.1:8080").await;
    let form = send(&d, get("/admin/login", None)).await;
    assert!(form.cookies().iter().all(|c| !c.contains("Secure")));
    let (session, _) = login(&d, "owner@o1.example").await;
    assert!(session.starts_with("c2c_admin="));
}

#[tokio::test]
async fn a_wrong_password_is_told_next_to_the_form_and_logins_are_rate_limited() {
    let d = dash("http://127.0.0.1:8080").await;
    let form = send(&d, get("/admin/login", None)).await;
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("pre cookie");
    let token = csrf_of(&form.body);
    let attempt = |password: &'static str| {
        post(
            "/admin/login",
            Some(&pre),
            &[
                ("email", "owner@o1.example"),
                ("password", password),
                ("csrf", &token),
            ],
        )
    };
    let r = send(&d, attempt("wrong")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong email or password."), "{}", r.body);
    assert!(r.body.contains("value=\"owner@o1.example\""), "email kept");
    assert!(cookie_pair(&r, "c2c_admin").is_none());
    let mut limited = false;
    for _ in 0..10 {
        let r = send(&d, attempt("wrong")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.body.contains("Too many login attempts"), "{}", r.body);
            limited = true;
            break;
        }
    }
    assert!(limited, "guessing went on without a limit");
    // Even the right password is refused while limited.
    let r = send(&d, attempt(PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn guessing_a_password_does_not_lock_the_owner_out_of_a_known_browser() {
    let d = dash("http://127.0.0.1:8080").await;
    let form = send(&d, get("/admin/login", None)).await;
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("pre cookie");
    let token = csrf_of(&form.body);
    let attempt = |password: &'static str, device: Option<&str>| {
        let cookies = match device {
            Some(dev) => format!("{pre}; {dev}"),
            None => pre.clone(),
        };
        post(
            "/admin/login",
            Some(&cookies),
            &[
                ("email", "owner@o1.example"),
                ("password", password),
                ("csrf", &token),
            ],
        )
    };
    // The owner logs in once: the browser is known from then on.
    let r = send(&d, attempt(PASSWORD, None)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let device = cookie_pair(&r, "c2c_device").expect("device cookie");
    // A guesser fails until limited.
    let mut limited = false;
    for _ in 0..12 {
        if send(&d, attempt("wrong", None)).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "guessing went on without a limit");
    assert_eq!(
        send(&d, attempt(PASSWORD, None)).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "an unknown browser waits, even with the right password"
    );
    // The owner's browser still gets in.
    let r = send(&d, attempt(PASSWORD, Some(&device))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A device cookie of another email, or a forged one, is no key.
    for forged in ["c2c_device=v1:AAAA", "c2c_device=garbage"] {
        assert_eq!(
            send(&d, attempt(PASSWORD, Some(forged))).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

#[tokio::test]
async fn the_login_form_needs_its_own_csrf_cookie() {
    let d = dash("http://127.0.0.1:8080").await;
    let r = send(
        &d,
        post(
            "/admin/login",
            None,
            &[
                ("email", "owner@o1.example"),
                ("password", PASSWORD),
                ("csrf", "guess"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cookie_pair(&r, "c2c_admin").is_none());
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_token_are_refused() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let (_, other_csrf) = login(&d, "owner@o2.example").await;
    for path in ACTIONS {
        let path = &d.path(path);
        for form in [
            vec![],
            vec![("csrf", "wrong")],
            vec![("csrf", other_csrf.as_str())],
        ] {
            let r = send(&d, post(path, Some(&session), &form)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path} {form:?}");
        }
    }
    // The header works too (for scripts).
    let r = send(
        &d,
        Request::builder()
            .method(Method::POST)
            .uri("/admin/logout")
            .header(header::COOKIE, &session)
            .header("x-csrf-token", &csrf)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let _ = &d.store;
}

#[tokio::test]
async fn every_page_opens_for_a_logged_in_user() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    for path in PAGES {
        let r = send(&d, get(path, Some(&session))).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    }
    // The live stream answers with server-sent events (not read: it never ends).
    let resp = d
        .router
        .clone()
        .oneshot(get("/admin/live/events", Some(&session)))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v
        .to_str()
        .unwrap_or_default()
        .starts_with("text/event-stream")));
    let unauth = send(&d, get("/admin/live/events", None)).await;
    assert_eq!(unauth.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_organisations_objects_are_not_found() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o2.example").await;
    for path in ["/admin/campaigns/sales", "/admin/calls/call_o1"] {
        let r = send(&d, get(path, Some(&session))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {path}");
    }
    for path in [
        "/admin/campaigns/sales",
        "/admin/callbacks/{cb}/done",
        "/admin/keys/{key}/revoke",
    ] {
        let path = d.path(path);
        let r = send(&d, post(&path, Some(&session), &[("csrf", &csrf)])).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    // Lists show only o2's own things.
    let calls = send(&d, get("/admin/calls", Some(&session))).await;
    assert!(calls.body.contains("call_o2") && !calls.body.contains("call_o1"));
    let csv = send(&d, get("/admin/calls.csv", Some(&session))).await;
    assert!(csv.body.contains("call_o2") && !csv.body.contains("call_o1"));
    let cbs = send(&d, get("/admin/callbacks", Some(&session))).await;
    assert!(!cbs.body.contains("+49301234567"), "{}", cbs.body);
    let campaigns = send(&d, get("/admin/campaigns", Some(&session))).await;
    assert!(campaigns.body.contains("rival") && !campaigns.body.contains(">sales<"));
    // The o1 key still works: nothing was revoked.
    assert_eq!(
        d.store.api_keys("o1").await.expect("keys")[0].revoked_at,
        None
    );
}

#[tokio::test]
async fn strings_from_browsers_and_sip_are_escaped_on_every_page() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    let mut seen = 0;
    for path in PAGES.iter().filter(|p| !p.ends_with(".csv")) {
        let r = send(&d, get(path, Some(&session))).await;
        assert!(!r.body.contains(XSS_SCRIPT), "raw <script> on {path}");
        assert!(!r.body.contains("<img"), "raw <img> on {path}");
        assert!(!r.body.contains(XSS_ATTR), "attribute break-out on {path}");
        if r.body.contains("alert(1)") {
            seen += 1;
        }
    }
    // The call page (User-Agent, page URL, a SIP message in the ladder) and the callbacks
    // page show them.
    assert!(
        seen >= 2,
        "the hostile strings were shown (escaped) on {seen} pages"
    );
    let call = send(&d, get("/admin/calls/call_o1", Some(&session))).await;
    for escaped in ["&#60;script&#62;", "&#34;&#62;&#60;img"] {
        assert!(
            call.body.contains(escaped),
            "{escaped} missing: {}",
            call.body
        );
    }
    // The recorded SIP message: its first line as the rung, the whole text expandable, both
    // escaped.
    for shown in [
        "<summary>SIP/2.0 180 Ringing &#34;&#62;&#60;img src=x onerror=alert(2)&#62;</summary>",
        "From: &#34;&#60;script&#62;alert(1)&#60;/script&#62;&#34; &#60;sip:agent@pbx&#62;;tag=1",
        "<summary>INVITE sip:+4930123456@192.0.2.7 SIP/2.0</summary>",
        "<code>192.0.2.7:5060</code>",
    ] {
        assert!(
            call.body.contains(shown),
            "ladder lacks {shown}: {}",
            call.body
        );
    }
}
