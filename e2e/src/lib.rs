//! Shared harness for the end-to-end tests: the real `c2c` binary, a real SIPp, headless
//! Chromium through chromedriver, and a stand-in customer website on its own origin.
//!
//! Every process a test starts is killed when its guard drops, every wait is bounded, and every
//! port is picked free at run time, so tests can run in parallel.

pub mod agents;
pub mod baresip;
pub mod browser;
pub mod gateway;
pub mod http;
pub mod loadgen;
pub mod ports;
pub mod postgres;
pub mod scene;
pub mod sipp;
pub mod site;
pub mod tone;
pub mod widget;

use std::path::PathBuf;

/// The workspace root (parent of `e2e/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The folder the gateway serves `widget.js` and the built widget from: `static/` of the
/// workspace, or `$C2C_E2E_STATIC_DIR` to test another build of the widget.
pub fn static_dir() -> PathBuf {
    std::env::var("C2C_E2E_STATIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("static"))
}

/// A fresh, empty directory under the system temp dir for one test's files, removed when the
/// guard drops (`.path()` gives the folder).
pub fn scratch_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("c2c-e2e-{name}-"))
        .tempdir()
        .expect("a temp dir")
}

/// Where tests save artefacts (screenshots, SIP traces) for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("e2e/artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
