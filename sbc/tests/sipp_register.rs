//! The registrar against SIPp phones (Debian `sip-tester`): many agents register with
//! digest and refresh; wrong passwords are refused, then backed off.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use c2c_sbc::digest::{self, Algorithm};
use c2c_sbc::ingress::IngressConfig;
use c2c_sbc::networks::Networks;
use c2c_sbc::registrar::{AgentCredential, AgentRef, Change, RegistrarConfig};
use c2c_sbc::shell::{Sbc, SbcConfig, SbcOptions};
use common::sipp::scenario;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(90);

fn credential(n: usize, password: &str) -> AgentCredential {
    let user = format!("agent{n}");
    let realm = RegistrarConfig::default().realm;
    AgentCredential {
        agent: AgentRef {
            org: "acme".into(),
            agent: format!("ag_{n}"),
            username: user.clone(),
        },
        ha1_md5: digest::ha1(Algorithm::Md5, &user, &realm, password),
        ha1_sha256: digest::ha1(Algorithm::Sha256, &user, &realm, password),
    }
}

async fn registrar_sbc(agents: usize) -> Sbc {
    let sbc = Sbc::start_with(
        SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: Vec::new(),
        },
        SbcOptions {
            ingress: IngressConfig {
                agent_networks: Some(Networks::parse(&["127.0.0.0/8".into()]).expect("nets")),
                ..IngressConfig::default()
            },
            // SIPp 3.6 reads only the first challenge and knows MD5 alone.
            registrar: Some(RegistrarConfig {
                algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
                ..RegistrarConfig::default()
            }),
            ..SbcOptions::default()
        },
    )
    .await
    .expect("sbc starts");
    sbc.set_agent_credentials(
        (0..agents)
            .map(|n| credential(n, &format!("pw-{n}")))
            .collect(),
    )
    .expect("credentials");
    sbc
}

/// Runs the registering scenario for every line of `accounts` at `rate` per second.
async fn sipp_register(sbc: &Sbc, accounts: &[(String, String)], rate: u32) -> bool {
    let dir = tempfile::tempdir().expect("dir");
    let csv = dir.path().join("agents.csv");
    let mut text = String::from("SEQUENTIAL\n");
    for (user, password) in accounts {
        // SIPp expands a keyword held in a field, not a field inside a keyword.
        text.push_str(&format!(
            "{user};[authentication username={user} password={password}]\n"
        ));
    }
    std::fs::write(&csv, text).expect("csv");
    let status = Command::new("sipp")
        .arg(sbc.local_addr().to_string())
        .args(["-sf", &scenario("uac_register.xml")])
        .args(["-inf", &csv.display().to_string()])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin"])
        .args(["-m", &accounts.len().to_string(), "-r", &rate.to_string()])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-trace_err",
            "-trace_msg",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .expect("SIPp is required (apt-get install sip-tester)");
    if !status.success() {
        // What SIPp found unexpected, for the test's output.
        for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            if entry.file_name().to_string_lossy().ends_with("_errors.log") {
                let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
                eprintln!(
                    "SIPp errors:\n{}",
                    log.chars().take(3000).collect::<String>()
                );
            }
        }
    }
    status.success()
}

#[tokio::test]
async fn five_hundred_sipp_agents_register_and_refresh() {
    tokio::time::timeout(LIMIT, async {
        const AGENTS: usize = 500;
        let sbc = registrar_sbc(AGENTS).await;
        let mut changes = sbc.take_registrations().expect("changes");
        let accounts: Vec<(String, String)> = (0..AGENTS)
            .map(|n| (format!("agent{n}"), format!("pw-{n}")))
            .collect();
        let started = Instant::now();
        assert!(
            sipp_register(&sbc, &accounts, 200).await,
            "every agent registered"
        );
        let took = started.elapsed();
        let mut bound = std::collections::HashSet::new();
        let mut events = 0;
        while let Ok(change) = changes.try_recv() {
            if let Change::Bound { agent, binding } = change {
                assert!(binding.source.ip().is_loopback());
                bound.insert(agent.username);
                events += 1;
            }
        }
        assert_eq!(bound.len(), AGENTS, "each agent bound");
        assert_eq!(events, 2 * AGENTS, "registered, then refreshed");
        eprintln!("{AGENTS} agents registered and refreshed in {took:?}");
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_backed_off() {
    tokio::time::timeout(LIMIT, async {
        let sbc = registrar_sbc(3).await;
        let mut changes = sbc.take_registrations().expect("changes");
        let wrong = vec![("agent1".to_owned(), "guess".to_owned())];
        assert!(
            !sipp_register(&sbc, &wrong, 10).await,
            "a wrong password is refused"
        );
        // Four more guesses spend agent1's allowance of five failures …
        for _ in 0..4 {
            assert!(!sipp_register(&sbc, &wrong, 10).await);
        }
        // … so even the right password now gets 403 (Retry-After), not a challenge.
        let right = vec![("agent1".to_owned(), "pw-1".to_owned())];
        assert!(!sipp_register(&sbc, &right, 10).await, "agent1 backs off");
        assert!(changes.try_recv().is_err(), "nothing was bound");
        let other = vec![("agent2".to_owned(), "pw-2".to_owned())];
        assert!(
            sipp_register(&sbc, &other, 10).await,
            "other agents are not affected"
        );
    })
    .await
    .expect("test finished in time");
}
