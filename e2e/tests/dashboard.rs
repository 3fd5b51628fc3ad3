//! The dashboard in a real browser: a site owner logs in, creates a campaign for their shop's
//! origin, the shop embeds it, a visitor calls a SIPp trunk, and the call shows up in the
//! calls list with its SIP ladder. Screenshots of each page go to the artefacts folder.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use c2c_e2e::gateway::c2c_binary;
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{artifacts_dir, scene, scratch_dir, widget};

const LIMIT: Duration = Duration::from_secs(180);
const EMAIL: &str = "owner@shop.test";
const PASSWORD: &str = "e2e dashboard password";

/// Creates the dashboard user with the real binary (`c2c user add`).
async fn add_user(dir: &Path) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(c2c_binary())
        .args(["user", "add", "--password-stdin", "--config"])
        .arg(dir.join("c2c.toml"))
        .args(["--email", EMAIL, "--org", "default", "--role", "owner"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run c2c user add");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write the password");
    drop(stdin);
    let out = child.wait_with_output().await.expect("c2c user add");
    assert!(
        out.status.success(),
        "c2c user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn fill(c: &Client, selector: &str, value: &str) {
    let el = c
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"));
    el.clear().await.expect("clear");
    el.send_keys(value).await.expect("type");
}

async fn submit(c: &Client) {
    c.find(Locator::Css("button[type=submit]"))
        .await
        .expect("submit button")
        .click()
        .await
        .expect("submit");
}

/// Waits until the page (after a form post and its redirect) shows `needle`.
async fn wait_for_text(c: &Client, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let text = body_text(c).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{needle:?} did not appear; the page says: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's text; empty while a navigation has no body yet (callers poll).
async fn body_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_a_campaign_and_finds_the_call_with_its_ladder() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("dashboard");
        let dir = scratch.path();
        let sipp = Sipp::uas_echo(dir);
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| Site::embed_page(gw, "shop"),
            Default::default(),
        )
        .await;
        add_user(dir).await;
        let browser = scene::browser(dir, 5).await;
        let c = &browser.client;
        let shots = artifacts_dir();

        // Log in.
        c.goto(&format!("{}/admin", gw.url))
            .await
            .expect("open the dashboard");
        assert!(c
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/admin/login"));
        browser
            .screenshot(&shots.join("dashboard-1-login.png"))
            .await;
        fill(c, "#email", EMAIL).await;
        fill(c, "#password", PASSWORD).await;
        submit(c).await;
        wait_for_text(c, "Calls today").await;
        browser
            .screenshot(&shots.join("dashboard-2-overview.png"))
            .await;

        // Create the shop's campaign.
        c.goto(&format!("{}/admin/campaigns/new", gw.url))
            .await
            .expect("new campaign");
        fill(c, "#public_id", "shop").await;
        fill(c, "#name", "Shop hotline").await;
        fill(c, "#allowed_origins", &site.origin).await;
        fill(c, "#destinations", "+15551230000").await;
        fill(c, "#pool_first", "+15558880000").await;
        fill(c, "#pool_count", "10").await;
        submit(c).await;
        wait_for_text(c, "Saved.").await;
        let snippet = c
            .find(Locator::Css("#snippet"))
            .await
            .expect("snippet")
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default();
        assert!(snippet.contains("data-campaign=\"shop\""), "{snippet}");
        assert!(
            snippet.contains(&format!("{}/widget.js", gw.url)),
            "{snippet}"
        );
        browser
            .screenshot(&shots.join("dashboard-3-campaign.png"))
            .await;

        // The shop page (which embeds exactly that snippet) places a call.
        widget::call_from(&browser, &site.origin).await;
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;

        // The call is in the list, complete, with its ladder.
        let start = Instant::now();
        loop {
            c.goto(&format!("{}/admin/calls?campaign=shop", gw.url))
                .await
                .expect("calls");
            let text = body_text(c).await;
            if text.contains("hangup_local") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the ended call is not listed: {text}\n{}",
                gw.log_text()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        browser
            .screenshot(&shots.join("dashboard-4-calls.png"))
            .await;
        c.find(Locator::Css("table[data-test=calls] tbody a"))
            .await
            .expect("a call row")
            .click()
            .await
            .expect("open the call");
        let ladder = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("table[data-test=ladder]"))
            .await
            .expect("ladder")
            .text()
            .await
            .unwrap_or_default();
        // The real messages on the wire, by their first lines, both ways.
        for msg in [
            "INVITE sip:",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK",
            "ACK sip:",
            "BYE sip:",
            "c2c ──▶ trunk",
            "c2c ◀── trunk",
        ] {
            assert!(
                ladder.contains(msg),
                "{msg} missing from the ladder: {ladder}"
            );
        }
        // The shot shows the whole ladder.
        widget::js(
            &browser,
            "document.querySelector('table[data-test=ladder]').scrollIntoView()",
        )
        .await;
        browser
            .screenshot(&shots.join("dashboard-5-call.png"))
            .await;
        // Each message opens to its full text (headers and the SDP of the INVITE).
        c.find(Locator::Css("table[data-test=ladder] summary"))
            .await
            .expect("a message")
            .click()
            .await
            .expect("open the INVITE");
        let invite = c
            .find(Locator::Css("table[data-test=ladder] details[open] pre"))
            .await
            .expect("the opened INVITE")
            .text()
            .await
            .unwrap_or_default();
        assert!(
            invite.contains("Call-ID:") && invite.contains("m=audio"),
            "the whole INVITE: {invite}"
        );
        let detail = body_text(c).await;
        assert!(
            detail.contains(&site.origin),
            "the page URL is shown: {detail}"
        );
        // The media figures follow the end of the call: the echoed second of audio both ways.
        let call_page = c.current_url().await.expect("call page url");
        let start = Instant::now();
        let (from_browser, from_trunk) = loop {
            let count = |test: &'static str| async move {
                let cell = c.find(Locator::Css(&format!("td[data-test={test}]"))).await;
                match cell {
                    Ok(cell) => cell.text().await.ok()?.trim().parse::<u64>().ok(),
                    Err(_) => None,
                }
            };
            if let (Some(b), Some(t)) = (count("from-browser").await, count("from-trunk").await) {
                break (b, t);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no media figures on the call page: {}",
                body_text(c).await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.goto(call_page.as_str()).await.expect("reload the call");
        };
        assert!(
            from_browser > 20 && from_trunk > 20,
            "RTP counted both ways: {from_browser} from the browser, {from_trunk} from the trunk"
        );

        for (i, page) in ["live", "callbacks", "keys", "users", "trunks", "campaigns"]
            .iter()
            .enumerate()
        {
            c.goto(&format!("{}/admin/{page}", gw.url))
                .await
                .expect("page");
            assert!(
                !body_text(c).await.contains("Something went wrong"),
                "/admin/{page}"
            );
            browser
                .screenshot(&shots.join(format!("dashboard-{}-{page}.png", i + 6)))
                .await;
        }
        browser.close().await;
        gw.stop().await;
        drop(sipp);
    })
    .await
    .expect("the dashboard test took too long");
}
