//! Real baresip softphones as agents: one registers with digest from its own loopback address
//! and signs out when stopped; one with a wrong password gets no binding; they answer calls
//! on their own or on command, play their microphone and record what they hear.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use c2c_e2e::baresip::{analyse_tone, AgentOptions, Baresip, Microphone};
use c2c_e2e::gateway::Gateway;
use c2c_e2e::{agents, ports, scratch_dir, static_dir, tone};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(10);

fn config(dir: &std::path::Path, http: u16, sip: u16) -> String {
    format!(
        r#"data_dir = "{data}"
static_dir = "{stat}"

[http]
listen = "127.0.0.1:{http}"

[sip]
listen = "127.0.0.1:{sip}"

[registrar]
# baresip binds 127.0.0.X of its own.
networks = ["127.0.0.0/8"]
realm = "c2c.test"
# baresip 1.0 gives up on a 401 that offers any other algorithm than MD5.
algorithms = ["MD5"]
"#,
        data = dir.join("data").display(),
        stat = static_dir().display(),
    )
}

/// A gateway with the registrar on and agent `username` added; its SIP address and the
/// agent's password.
async fn gateway_with_agent(
    dir: &std::path::Path,
    username: &str,
) -> (Gateway, SocketAddr, String) {
    let (http, sip) = (ports::free_tcp(), ports::free_udp());
    let text = config(dir, http, sip);
    let config_path = dir.join("c2c.toml");
    std::fs::write(&config_path, &text).expect("config");
    let password = agents::add(&config_path, "acme", username, &["lang:de=4"])
        .await
        .password;
    let gateway = Gateway::start(dir, &text, &[]).await;
    tokio::time::timeout(WAIT, async {
        while !gateway
            .log_text()
            .contains("SIP accounts loaded into the registrar")
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the accounts reach the registrar");
    (gateway, SocketAddr::from(([127, 0, 0, 1], sip)), password)
}

/// The gateway's `c2c_registrar_bindings` gauge (absent until a first binding: 0).
async fn bindings_metric(gateway: &Gateway) -> u64 {
    let text = reqwest::get(format!("{}/metrics", gateway.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("c2c_registrar_bindings "))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

/// The live registration rows of `username`, polled until `done` holds (bounded).
async fn registrations_until(
    store: &c2c_store::Store,
    username: &str,
    done: impl Fn(&[c2c_store::AgentRegistration]) -> bool,
) -> Vec<c2c_store::AgentRegistration> {
    tokio::time::timeout(WAIT, async {
        loop {
            let now = c2c_token::clock::unix_now();
            let rows: Vec<_> = store
                .org_registrations("acme", now)
                .await
                .expect("rows")
                .into_iter()
                .filter(|r| r.username == username)
                .collect();
            if done(&rows) {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the registrations reach the database")
}

#[tokio::test]
async fn baresip_registers_with_digest_from_its_own_address_and_signs_out_on_stop() {
    tokio::time::timeout(LIMIT, async {
        let dir = scratch_dir("agents_baresip");
        let (gateway, registrar, password) = gateway_with_agent(dir.path(), "anna").await;
        let mut opts = AgentOptions::new("anna", &password, Some(registrar));
        opts.domain = Some("c2c.test".into());
        let mut phone = Baresip::start(opts).await.expect("baresip starts");
        phone.wait_registered(WAIT).await.expect("registered");
        assert_ne!(phone.ip.octets()[3], 1, "a loopback address of its own");

        let store = c2c_store::Store::open_sqlite_in(&dir.path().join("data"))
            .await
            .expect("store");
        let rows = registrations_until(&store, "anna", |r| !r.is_empty()).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row.source, phone.sip_addr().to_string(), "{row:?}");
        assert_eq!(row.transport, "udp");
        assert!(
            row.contact.contains(&phone.sip_addr().to_string()),
            "{row:?}"
        );
        assert!(
            row.expires_at > c2c_token::clock::unix_now() + 200,
            "{row:?}"
        );
        assert_eq!(bindings_metric(&gateway).await, 1);
        let log = gateway.log_text();
        assert!(!log.contains("panicked"), "{log}");

        // SIGTERM: baresip sends REGISTER with Expires 0 (answering the challenge) and exits.
        let status = phone.stop(WAIT).await;
        assert!(status.is_some(), "baresip exits on SIGTERM");
        let text = phone.log_text();
        assert!(text.contains(";expires=0"), "it unregistered:\n{text}");
        registrations_until(&store, "anna", |r| r.is_empty()).await;
        assert_eq!(bindings_metric(&gateway).await, 0);
        gateway.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn baresip_with_a_wrong_password_gets_no_binding() {
    tokio::time::timeout(LIMIT, async {
        let dir = scratch_dir("agents_baresip_wrong");
        let (gateway, registrar, password) = gateway_with_agent(dir.path(), "ben").await;
        let mut opts = AgentOptions::new("ben", &format!("x{password}"), Some(registrar));
        opts.domain = Some("c2c.test".into());
        let phone = Baresip::start(opts).await.expect("baresip starts");
        let reason = phone
            .wait_registration_failed(WAIT)
            .await
            .expect("the registration is refused");
        assert!(
            reason.starts_with("401") || reason.starts_with("403"),
            "{reason}"
        );
        // Its retries are refused too: still nothing bound a moment later.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(phone.registrations(), 0);
        assert_eq!(bindings_metric(&gateway).await, 0);
        let store = c2c_store::Store::open_sqlite_in(&dir.path().join("data"))
            .await
            .expect("store");
        let now = c2c_token::clock::unix_now();
        let rows = store.org_registrations("acme", now).await.expect("rows");
        assert!(rows.is_empty(), "{rows:?}");
        gateway.stop().await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn baresip_answers_a_sipp_call_on_its_own_and_records_its_tone_echoed() {
    tokio::time::timeout(LIMIT, async {
        let dir = scratch_dir("agents_baresip_answer");
        // 440 Hz at 48 kHz from tone.rs; longer than the call, as baresip hangs up at its end.
        let wav = dir.path().join("tone.wav");
        tone::write_tone_wav(&wav, 10).expect("tone");
        let mut opts = AgentOptions::new("carl", "unused-password", None);
        opts.microphone = Microphone::Wav(wav);
        let phone = Baresip::start(opts).await.expect("baresip starts");

        // SIPp's built-in UAC: INVITE straight to the phone, 3 s of echoing its RTP, BYE.
        let port = ports::free_udp().to_string();
        let media = ports::free_udp_pair().to_string();
        let target = format!("{}:{}", phone.ip, phone.port);
        let sipp = Command::new("sipp")
            .arg(&target)
            .args(["-sn", "uac", "-s", "carl", "-d", "3000", "-rtp_echo"])
            .args([
                "-i",
                "127.0.0.1",
                "-mi",
                "127.0.0.1",
                "-p",
                &port,
                "-mp",
                &media,
            ])
            .args(["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        let status = sipp
            .await
            .expect("SIPp is required (apt-get install sip-tester)");
        assert!(status.success(), "SIPp's call went through");
        phone.wait_calls_ended(1, WAIT).await.expect("call ended");
        assert_eq!(phone.calls_answered(), 1);
        assert_eq!(phone.calls_incoming(), 0, "auto-answer does not ring");

        let heard = phone.recorded().expect("a recording");
        let tone = analyse_tone(&heard, 440.0).expect("a WAV");
        assert!(tone.is_tone() && tone.seconds > 2.0, "{tone:?}");
        assert!(!analyse_tone(&heard, 1000.0).expect("a WAV").is_tone());
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn baresip_dials_another_that_rings_answers_on_command_and_echoes() {
    tokio::time::timeout(LIMIT, async {
        let mut callee_opts = AgentOptions::new("dora", "unused-password", None);
        callee_opts.auto_answer = false;
        callee_opts.microphone = Microphone::Echo;
        let mut callee = Baresip::start(callee_opts).await.expect("callee starts");
        let mut caller_opts = AgentOptions::new("emil", "unused-password", None);
        caller_opts.microphone = Microphone::Sine(700);
        let mut caller = Baresip::start(caller_opts).await.expect("caller starts");

        caller.dial(&callee.uri()).await.expect("dial");
        callee.wait_incoming_call(WAIT).await.expect("it rings");
        assert_eq!(callee.calls_answered(), 0, "no answer without auto-answer");
        callee.answer().await.expect("answer");
        callee.wait_call_established(WAIT).await.expect("callee up");
        caller.wait_call_established(WAIT).await.expect("caller up");
        tokio::time::sleep(Duration::from_secs(2)).await;
        caller.hangup().await.expect("hangup");
        callee
            .wait_calls_ended(1, WAIT)
            .await
            .expect("callee ended");
        caller
            .wait_calls_ended(1, WAIT)
            .await
            .expect("caller ended");

        // The callee heard the sine; the caller heard it back.
        for (who, phone) in [("callee", &callee), ("caller", &caller)] {
            let heard = phone.recorded().expect("a recording");
            let tone = analyse_tone(&heard, 700.0).expect("a WAV");
            assert!(tone.is_tone(), "{who}: {tone:?}");
        }
    })
    .await
    .expect("test finished in time");
}
