//! Headless Chromium through chromedriver, with a fake microphone.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use tokio::process::{Child, Command};

/// Whether the browser grants the microphone when a page asks.
#[derive(Debug, Clone, Copy)]
enum Microphone {
    Allowed,
    Denied,
}

/// A browser session; the driver is killed when dropped.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self._driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose microphone plays `tone` (a WAV).
    pub async fn start(dir: &Path, tone: &Path) -> Browser {
        Self::launch(dir, tone, Microphone::Allowed).await
    }

    /// Like [`Browser::start`], but every permission prompt is answered "deny", as when a
    /// visitor refuses the microphone (a fake device still exists, so `getUserMedia` fails
    /// with `NotAllowedError`, not `NotFoundError`).
    pub async fn start_denying_microphone(dir: &Path, tone: &Path) -> Browser {
        Self::launch(dir, tone, Microphone::Denied).await
    }

    async fn launch(dir: &Path, tone: &Path, microphone: Microphone) -> Browser {
        let port = crate::ports::free_tcp();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // Its own process group, so Chromium (its child) dies with it even when the
            // test panics before closing the session.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver is required (apt-get install chromium-driver; `make test` installs it): {e}")
            });
        let profile = dir.join(format!("chromium-profile-{port}"));
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--user-data-dir={}", profile.display()),
            match microphone {
                Microphone::Allowed => "--use-fake-ui-for-media-stream".into(),
                Microphone::Denied => "--deny-permission-prompts".into(),
            },
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-audio-capture={}", tone.display()),
            "--allow-loopback-in-peer-connection".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            "--window-size=1024,768".into(),
        ];
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = String::new();
        for _ in 0..100 {
            let builder = ClientBuilder::rustls().map(|mut b| {
                b.capabilities(caps.clone());
                b
            });
            match builder {
                Ok(b) => match b.connect(&url).await {
                    Ok(client) => {
                        return Browser {
                            client,
                            _driver: driver,
                        }
                    }
                    Err(e) => last_err = e.to_string(),
                },
                Err(e) => last_err = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not start a Chromium session through chromedriver: {last_err}");
    }

    /// Saves a screenshot of the page to `path`.
    pub async fn screenshot(&self, path: &Path) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(path, png);
        }
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        // Dropping self then kills whatever of the driver's process group is left.
    }
}
