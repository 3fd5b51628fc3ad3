//! The usual stage of an end-to-end test: a customer site on its own origin and the real
//! gateway configured for it and one SIP trunk, plus a browser with a fake microphone.

use std::path::Path;

use crate::browser::Browser;
use crate::gateway::{config_with_campaign, Gateway, TestCampaign, E2E_DESTINATION, E2E_POOL};
use crate::site::Site;
use crate::{ports, static_dir, tone};

/// Extra configuration for a scene.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extra<'a> {
    /// TOML keys at the top level (before any table).
    pub root: &'a str,
    /// TOML keys appended to campaign `e2e`.
    pub campaign: &'a str,
    /// Replaces campaign `e2e`'s one destination when not empty, e.g. `["+1555…", "+1555…"]`.
    pub destinations: &'a str,
}

/// Starts the site serving `page(gateway_url)` and the gateway whose campaign `e2e` allows
/// that site and calls out through the trunk at 127.0.0.1:`trunk_port`.
pub async fn start(
    dir: &Path,
    trunk_port: u16,
    page: impl FnOnce(&str) -> String,
    extra: Extra<'_>,
) -> (Site, Gateway) {
    let http_port = ports::free_tcp();
    let gw_url = format!("http://127.0.0.1:{http_port}");
    let site = Site::start(page(&gw_url)).await;
    let destinations = match extra.destinations {
        "" => E2E_DESTINATION.to_string(),
        list => format!("destinations = {list}"),
    };
    let keys = format!("{destinations}\n{E2E_POOL}\n");
    let campaign = TestCampaign {
        id: "e2e",
        origin: &site.origin,
        keys: &keys,
    };
    let config = config_with_campaign(
        http_port,
        trunk_port,
        campaign,
        &static_dir(),
        &dir.join("data"),
    );
    let config = format!("{}\n{config}{}\n", extra.root, extra.campaign);
    let gw = Gateway::start(dir, &config, &[]).await;
    assert_eq!(gw.url, gw_url);
    (site, gw)
}

/// A browser whose microphone plays a 440 Hz tone of `secs` seconds.
pub async fn browser(dir: &Path, secs: u32) -> Browser {
    let tone_path = dir.join("tone.wav");
    tone::write_tone_wav(&tone_path, secs).expect("write the tone");
    Browser::start(dir, &tone_path).await
}

/// A browser that refuses the microphone.
pub async fn browser_denying_microphone(dir: &Path) -> Browser {
    let tone_path = dir.join("tone.wav");
    tone::write_tone_wav(&tone_path, 1).expect("write the tone");
    Browser::start_denying_microphone(dir, &tone_path).await
}
