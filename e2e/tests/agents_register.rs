//! Agents' phones register with the real binary: agents added with `c2c agent add`, SIPp
//! phones register with digest and refresh, the registrations land in the database for every
//! node to see; a wrong password is refused.

use std::process::Stdio;
use std::time::Duration;

use c2c_e2e::gateway::Gateway;
use c2c_e2e::{agents, ports, scratch_dir, sipp::scenario, static_dir};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(120);
const AGENTS: usize = 3;

fn config(dir: &std::path::Path, http: u16, sip: u16) -> String {
    format!(
        r#"data_dir = "{data}"
static_dir = "{stat}"

[http]
listen = "127.0.0.1:{http}"

[sip]
listen = "127.0.0.1:{sip}"

[registrar]
networks = ["127.0.0.0/8"]
realm = "c2c.test"
# SIPp 3.6 answers only the first challenge, and only MD5.
algorithms = ["MD5", "SHA-256"]
"#,
        data = dir.join("data").display(),
        stat = static_dir().display(),
    )
}

/// SIPp's registering scenario for these accounts against `sip`; true when all registered.
async fn sipp_register(dir: &std::path::Path, sip: u16, accounts: &[(String, String)]) -> bool {
    let csv = dir.join("agents.csv");
    let mut text = String::from("SEQUENTIAL\n");
    for (user, password) in accounts {
        text.push_str(&format!(
            "{user};[authentication username={user} password={password}]\n"
        ));
    }
    std::fs::write(&csv, text).expect("csv");
    Command::new("sipp")
        .arg(format!("127.0.0.1:{sip}"))
        .args(["-sf", &scenario("uac_register.xml").display().to_string()])
        .args(["-inf", &csv.display().to_string()])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-m"])
        .arg(accounts.len().to_string())
        .args(["-timeout", "30s", "-timeout_error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .expect("SIPp is required (apt-get install sip-tester)")
        .success()
}

#[tokio::test]
async fn agents_added_by_cli_register_their_phones_and_every_node_sees_them() {
    tokio::time::timeout(LIMIT, async {
        let dir = scratch_dir("agents_register");
        let (http, sip) = (ports::free_tcp(), ports::free_udp());
        let text = config(dir.path(), http, sip);
        let config_path = dir.path().join("c2c.toml");
        std::fs::write(&config_path, &text).expect("config");
        let mut accounts = Vec::new();
        for n in 0..AGENTS {
            let user = format!("agent{n}");
            let password = agents::add(&config_path, "acme", &user, &["lang:de=4"])
                .await
                .password;
            accounts.push((user, password));
        }
        let gateway = Gateway::start(dir.path(), &text, &[]).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while !gateway
                .log_text()
                .contains("SIP accounts loaded into the registrar")
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the accounts reach the registrar");

        let wrong = vec![(accounts[0].0.clone(), "not-the-password".to_owned())];
        assert!(
            !sipp_register(dir.path(), sip, &wrong).await,
            "a wrong password is refused"
        );
        assert!(
            sipp_register(dir.path(), sip, &accounts).await,
            "every phone registered"
        );

        let store = c2c_store::Store::open_sqlite_in(&dir.path().join("data"))
            .await
            .expect("store");
        let rows = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let now = c2c_token::clock::unix_now();
                let rows = store.org_registrations("acme", now).await.expect("rows");
                if rows.len() == AGENTS {
                    return rows;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the registrations reach the database");
        let agents = store.org_agents("acme").await.expect("agents");
        for row in &rows {
            assert!(row.source.starts_with("127.0.0.1:"), "{row:?}");
            assert_eq!(row.transport, "udp");
            assert!(
                row.expires_at > c2c_token::clock::unix_now() + 200,
                "{row:?}"
            );
            assert!(agents.iter().any(|a| a.id == row.agent), "{row:?}");
        }
        let log = gateway.log_text();
        assert!(!log.contains("panicked"), "{log}");
        gateway.stop().await;
    })
    .await
    .expect("test finished in time");
}
