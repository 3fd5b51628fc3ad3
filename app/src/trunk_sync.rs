//! Keeps the SBC's trunks in step with the database: the trunk cache is reloaded every few
//! seconds (another node's dashboard edit) and pushed into the SBC then, and at once when
//! this node's dashboard changed it, so an edit applies to the next call without a restart.

use std::sync::Arc;
use std::time::Duration;

use c2c_sbc::shell::Sbc;
use c2c_store::Store;
use c2c_web::Trunks;

/// How often trunks are reloaded from the database.
pub const TRUNK_RELOAD: Duration = Duration::from_secs(5);

/// Runs forever: reload on a timer or wake on a local change, then push into the SBC.
pub async fn sync_trunks(store: Store, trunks: Trunks, sbc: Arc<Sbc>) {
    let mut interval = tokio::time::interval(TRUNK_RELOAD);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(e) = trunks.refresh(&store).await {
                    tracing::warn!(error = %e, "reloading trunks failed; keeping the old ones");
                }
            }
            () = trunks.changed() => {}
        }
        apply_trunks(&sbc, &trunks).await;
    }
}

/// Pushes the cached trunk set into the SBC; a trunk the SBC refuses (say, an unreadable
/// CA file) is logged and left out so the others still apply.
pub async fn apply_trunks(sbc: &Sbc, trunks: &Trunks) {
    let mut set = trunks.sbc_set();
    loop {
        match sbc.set_trunks(set.clone()).await {
            Ok(()) => return,
            Err(e) => match e.trunk().map(str::to_owned) {
                Some(bad) if set.iter().any(|t| t.name == bad) => {
                    tracing::error!(trunk = %bad, error = %e, "trunk left out of the SBC");
                    set.retain(|t| t.name != bad);
                }
                _ => {
                    tracing::error!(error = %e, "the SBC refused the trunk set; keeping the old one");
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use c2c_sbc::demo_trunk::DemoTrunk;
    use c2c_sbc::leg::LegEvent;
    use c2c_sbc::shell::{Attempt, SbcConfig, SbcError};
    use c2c_sbc::trunk::{Transport, TrunkConfig};
    use c2c_token::{Route, VerifiedCall};
    use c2c_web::SecretBox;

    /// Waits (bounded) until the SBC's trunk names are `want`.
    async fn until_names(sbc: &Sbc, want: &[&str]) {
        tokio::time::timeout(Duration::from_secs(20), async {
            while sbc.trunk_names() != want {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("SBC trunks {:?}, wanted {want:?}", sbc.trunk_names()));
    }

    /// A verified call of organisation o1 through its trunk "echo", and its first attempt.
    fn call() -> (VerifiedCall, Attempt) {
        let claims = serde_json::json!({
            "iss": "c2c", "aud": "c2c-sbc", "sub": "ws_1", "org": "o1", "cmp": "demo",
            "num": "+15550100000", "ori": "https://shop.example", "iat": 0, "nbf": 0,
            "exp": 60, "jti": "j1", "rte": "sealed"
        });
        let route = Route {
            trunk: "echo".into(),
            destinations: vec!["echo".into()],
            privacy: false,
            agents: false,
        };
        let attempt = Attempt {
            destination: 0,
            context: Default::default(),
            sdp_offer: c2c_sbc::sdp::build_offer(&c2c_sbc::sdp::MediaOffer {
                addr: "127.0.0.1:40000".parse().expect("addr"),
                session_id: 1,
                session_version: 1,
            }),
        };
        let claims = serde_json::from_value(claims).expect("claims");
        (VerifiedCall::for_tests(claims, route), attempt)
    }

    #[tokio::test]
    async fn a_trunk_saved_on_this_node_takes_the_next_call_and_a_deleted_one_none() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_sqlite_in(dir.path()).await.expect("store");
        let trunks = Trunks::new(SecretBox::ephemeral().expect("key"));
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo trunk");
        let sbc = Arc::new(
            Sbc::start(SbcConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                advertised: None,
                trunks: Vec::new(),
            })
            .await
            .expect("sbc"),
        );
        let sync = tokio::spawn(sync_trunks(store.clone(), trunks.clone(), sbc.clone()));
        let (verified, attempt) = call();
        assert!(matches!(
            sbc.place_call(&verified, &attempt).await,
            Err(SbcError::UnknownTrunk(_))
        ));
        // What the dashboard does on save: store, then reload this node's cache.
        let trunk = TrunkConfig {
            name: "echo".into(),
            host: demo.sip_addr.ip().to_string(),
            port: demo.sip_addr.port(),
            transport: Transport::Udp,
            from_domain: Some("c2c.test".into()),
            ..TrunkConfig::default()
        };
        trunks
            .seed(&store, "o1", &trunk, false, 1)
            .await
            .expect("save");
        until_names(&sbc, &["o1/echo"]).await;
        let mut placed = sbc.place_call(&verified, &attempt).await.expect("call");
        let first = tokio::time::timeout(Duration::from_secs(10), placed.next_event())
            .await
            .expect("event in time");
        assert_eq!(first, Some(LegEvent::Trying));
        placed.hangup();
        // Deleted in the database (say, by another node): gone after the periodic reload.
        assert!(store.delete_trunk("o1", "echo").await.expect("delete"));
        until_names(&sbc, &[]).await;
        assert!(matches!(
            sbc.place_call(&verified, &attempt).await,
            Err(SbcError::UnknownTrunk(_))
        ));
        sync.abort();
        store.close().await;
    }
}
