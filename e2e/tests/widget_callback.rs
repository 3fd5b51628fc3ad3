//! A closed campaign whose fallback is a callback request: the visitor sees when it opens,
//! opens the form with the keyboard, is told what is wrong with a bad number, sends a good
//! one, gets a confirmation, and the request lands in the database.

use std::time::Duration;

use c2c_e2e::browser::Browser;
use c2c_e2e::gateway::{config_with_trunk, Gateway};
use c2c_e2e::site::Site;
use c2c_e2e::{artifacts_dir, ports, scratch_dir, tone, widget};
use fantoccini::key::Key;

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_campaign_takes_a_callback_request_that_lands_in_the_database() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("widget-callback");
        let dir = scratch.path();
        let http_port = ports::free_tcp();
        let gw_url = format!("http://127.0.0.1:{http_port}");
        let site = Site::start(widget::csp_embed_page(&gw_url, "e2e", "")).await;
        let data = dir.join("data");
        let config = config_with_trunk(
            http_port,
            ports::free_udp(),
            &site.origin,
            &c2c_e2e::static_dir(),
            &data,
        );
        // Campaign `e2e` is closed right now, with the callback fallback: open one hour on a
        // weekday two days from today (UTC), so never now. These keys belong to the
        // `[[campaigns]]` table `config_with_trunk` ends with.
        let config = format!(
            "{config}fallback = \"callback\"\ntimezone = \"UTC\"\nhours = [\"{} 09:00-10:00\"]\n",
            weekday_in_two_days()
        );
        let gw = Gateway::start(dir, &config, &[]).await;
        let tone_path = dir.join("tone.wav");
        tone::write_tone_wav(&tone_path, 1).expect("tone");
        let b = Browser::start(dir, &tone_path).await;
        b.client
            .goto(&site.origin)
            .await
            .expect("open the shop page");
        let s = Duration::from_secs;
        widget::wait_state(&b, "closed", s(20)).await;
        assert_eq!(
            widget::text(&b, "[data-c2c=open]").await,
            "Request a callback"
        );
        assert!(
            !widget::visible(&b, "[data-c2c=call]").await,
            "no call while closed"
        );

        // Keyboard: Tab to the launcher, Enter opens the form with focus on the phone field.
        widget::tab_to(&b, "open", false, 10).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        assert_eq!(widget::focused(&b).await, "phone");
        let status = widget::text(&b, "[data-c2c=status]").await;
        assert!(status.starts_with("We're closed"), "{status:?}");

        // A number without a country code is refused in place; focus returns to it.
        widget::press(&b, &"030 1234567".chars().collect::<Vec<_>>()).await;
        widget::tab_to(&b, "send", false, 6).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        assert_eq!(widget::focused(&b).await, "phone");
        assert_eq!(
            widget::attr(&b, "[data-c2c=phone]", "aria-invalid").await,
            "true"
        );
        assert_eq!(
            widget::text(&b, "#c2c-phone-err").await,
            "Please enter a valid phone number."
        );
        assert_eq!(
            widget::text(&b, "#c2c-consent-err").await,
            "Please agree to be called back."
        );
        b.screenshot(&artifacts_dir().join("widget-callback-invalid.png"))
            .await;

        // Fix it, give a name, consent (Space on the checkbox), send.
        widget::tab_to(&b, "phone", true, 6).await;
        widget::js(
            &b,
            "document.querySelector('c2c-widget').shadowRoot\
             .querySelector('[data-c2c=phone]').select(); return 1;",
        )
        .await;
        widget::press(&b, &"+49 30 1234567".chars().collect::<Vec<_>>()).await;
        widget::tab_to(&b, "name", false, 3).await;
        widget::press(&b, &"Ada".chars().collect::<Vec<_>>()).await;
        widget::tab_to(&b, "consent", false, 3).await;
        widget::press(&b, &[Key::Space.into()]).await;
        widget::tab_to(&b, "send", false, 3).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        let start = std::time::Instant::now();
        while !widget::text(&b, "[data-c2c=status]")
            .await
            .starts_with("Thank you")
        {
            assert!(start.elapsed() < s(10), "no confirmation");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !widget::visible(&b, "[data-c2c=callback]").await,
            "the form is done"
        );
        b.screenshot(&artifacts_dir().join("widget-callback-sent.png"))
            .await;

        // Read the stored request with the real sqlite3 client.
        let rows = std::process::Command::new("sqlite3")
            .arg(data.join("c2c.db"))
            .arg("SELECT phone, name, consent FROM callback_requests;")
            .output()
            .expect("sqlite3 (apt-get install sqlite3)");
        let rows = String::from_utf8_lossy(&rows.stdout);
        assert_eq!(rows.trim(), "+49301234567|Ada|1", "stored: {rows:?}");

        b.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}

/// The UTC weekday two days from now, as campaign hours name it (`mon` … `sun`).
fn weekday_in_two_days() -> &'static str {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let days = c2c_token::clock::unix_now().max(0).unsigned_abs() / 86_400;
    // 1970-01-01 was a Thursday (index 3).
    DAYS[((days + 3 + 2) % 7) as usize]
}
