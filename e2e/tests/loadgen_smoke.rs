//! The load generator at a small N as a smoke test: 20 simulated browsers (real ICE,
//! DTLS-SRTP) call through the real `c2c` binary to SIPp's echoing UAS for 10 s. Asserts that
//! every call completes and the packets come back; timings belong in BENCHMARKS.md, not here.

use std::time::Duration;

use c2c_e2e::loadgen::spawn::{self, SippEcho};
use c2c_e2e::loadgen::{self, LoadConfig};
use c2c_e2e::scratch_dir;

const CALLS: usize = 20;
const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simulated_browsers_call_through_the_gateway_and_hear_their_echo() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("loadgen-smoke");
        let dir = scratch.path();
        let sipp = SippEcho::start(dir, CALLS).expect("SIPp");
        let (gw, pid) = spawn::gateway(dir, sipp.port).await.expect("gateway");
        let config = LoadConfig::spawned_gateway(&gw.url, CALLS, Duration::from_secs(10), pid);
        let report = loadgen::run(&config).await.expect("load run");
        println!("{}", report.text());
        assert_eq!(
            report.established,
            CALLS,
            "every call is answered with media: {}\ngateway log:\n{}",
            report.text(),
            gw.log_text()
        );
        assert_eq!(report.failed, 0, "{}", report.text());
        // 20 calls × 50 packets/s × ≥ 10 s, minus each call's warm-up frames.
        assert!(
            report.packets_sent > (CALLS as u64) * 450,
            "{}",
            report.text()
        );
        assert!(
            report.packets_received * 10 > report.packets_sent * 9,
            "more than 90 % of the packets come back: {}",
            report.text()
        );
        assert!(report.server.is_some(), "the gateway's /proc was read");
        gw.stop().await;
    })
    .await
    .expect("the smoke run exceeded its time limit");
}
