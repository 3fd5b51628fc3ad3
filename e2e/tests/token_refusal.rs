//! Tokens that must not place a call, presented by a real browser over the real signalling
//! WebSocket: each is refused and the SIPp trunk never sees an INVITE.

use std::time::Duration;

use serde_json::{json, Value};

use c2c_e2e::browser::Browser;
use c2c_e2e::gateway::{config_with_trunk, Gateway};
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{http, ports, scratch_dir, tone};

const LIMIT: Duration = Duration::from_secs(120);

/// Opens the signalling WebSocket from the current page, presents `token`, returns the first
/// server message.
const PRESENT: &str = r#"
const [wsUrl, token] = arguments;
return new Promise((resolve) => {
  const ws = new WebSocket(wsUrl);
  const t = setTimeout(() => resolve({ timeout: true }), 10000);
  ws.onopen = () => ws.send(JSON.stringify({ type: "call", token, sdp: "v=0\r\n" }));
  ws.onmessage = (e) => { clearTimeout(t); ws.close(); resolve(JSON.parse(e.data)); };
  ws.onerror = () => { clearTimeout(t); resolve({ ws_error: true }); };
});
"#;

async fn present(b: &Browser, ws_url: &str, token: &str) -> Value {
    b.client
        .execute(PRESENT, vec![json!(ws_url), json!(token)])
        .await
        .expect("run script")
}

/// Flips one character in the middle of the claims segment.
fn tamper(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let claims = parts[1];
    let mid = claims.len() / 2;
    let c = &claims[mid..mid + 1];
    let swapped = if c == "A" { "B" } else { "A" };
    format!(
        "{}.{}{}{}.{}",
        parts[0],
        &claims[..mid],
        swapped,
        &claims[mid + 1..],
        parts[2]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origin_expired_and_tampered_tokens_place_no_call() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("token-refusal");
        let dir = scratch.path();
        let sipp = Sipp::uas_echo(dir);
        let http_port = ports::free_tcp();
        let gw_url = format!("http://127.0.0.1:{http_port}");
        let shop = Site::start(Site::embed_page(&gw_url, "e2e")).await;
        let foreign = Site::start("<!doctype html><title>elsewhere</title>".into()).await;
        // Tokens live 1 s here (+5 s skew), so the expiry case needs only a short wait.
        let config = format!(
            "token_lifetime_s = 1\n{}",
            config_with_trunk(
                http_port,
                sipp.port,
                &shop.origin,
                &c2c_e2e::static_dir(),
                &dir.join("data")
            )
        );
        let gw = Gateway::start(dir, &config, &[]).await;
        let tone_path = dir.join("tone.wav");
        tone::write_tone_wav(&tone_path, 1).expect("tone");
        let browser = Browser::start(dir, &tone_path).await;

        // The token endpoint itself refuses a foreign page.
        let refused = http::token(&gw.url, &foreign.origin, "e2e").await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.json()["error"], "origin_not_allowed");

        // A token issued to the shop, presented from another origin.
        let t = http::token(&gw.url, &shop.origin, "e2e").await.json();
        let ws_url = t["ws_url"].as_str().expect("ws_url").to_string();
        browser
            .client
            .goto(&foreign.origin)
            .await
            .expect("open foreign page");
        let m = present(&browser, &ws_url, t["token"].as_str().expect("token")).await;
        assert_eq!(m["type"], "error", "{m}");
        assert_eq!(m["code"], "token_origin", "{m}");

        // A tampered token, from the right origin.
        browser.client.goto(&shop.origin).await.expect("open shop");
        let t = http::token(&gw.url, &shop.origin, "e2e").await.json();
        let m = present(
            &browser,
            &ws_url,
            &tamper(t["token"].as_str().expect("token")),
        )
        .await;
        assert_eq!(m["type"], "error", "{m}");
        assert!(
            m["code"] == "token_signature" || m["code"] == "token_malformed",
            "{m}"
        );

        // An expired token, from the right origin.
        let t = http::token(&gw.url, &shop.origin, "e2e").await.json();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let m = present(&browser, &ws_url, t["token"].as_str().expect("token")).await;
        assert_eq!(m["type"], "error", "{m}");
        assert_eq!(m["code"], "token_expired", "{m}");

        // Give any stray INVITE time to arrive before asserting there was none.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            sipp.requests("INVITE").is_empty(),
            "SIPp saw an INVITE: {:?}",
            sipp.requests("INVITE")
        );
        let log = gw.log_text();
        assert!(log.contains("call token refused"), "refusals are logged");
        // ...and counted, for the operator's Prometheus (scraped from this host).
        http::assert_metrics(
            &gw.url,
            &[
                "c2c_tokens_refused_total{reason=\"origin_not_allowed\"} 1",
                "c2c_tokens_issued_total{campaign=\"e2e\"} 3",
                "c2c_calls_refused_total{reason=\"token_origin\"} 1",
                "c2c_calls_refused_total{reason=\"token_expired\"} 1",
                // No call got as far as SIP, and the series exists from the start.
                "c2c_calls_active 0",
            ],
        )
        .await;
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
