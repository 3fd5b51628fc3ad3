//! `c2c serve`: builds every role from the configuration and runs them until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use c2c_sbc::demo_trunk::DemoTrunk;
use c2c_sbc::shell::{Sbc, SbcConfig, SbcOptions};
use c2c_sbc::trunk::TrunkConfig;
use c2c_token::{KeyRing, SharedKeys, TokenIssuer, TokenVerifier};
use c2c_web::screening::ActiveCalls;
use c2c_web::{AppState, CampaignConfig, Campaigns, NumberPool, SecretBox, Trunks, WebConfig};

use crate::call::Gateway;
use crate::cdr::{CallRecords, Spool};
use crate::config::{Config, SeedTrunk};
use crate::trunk_sync::{apply_trunks, sync_trunks};
use c2c_media::loops::MediaLoops;
use c2c_token::clock::unix_now;

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    // Installed first, so every count from the start is in /metrics.
    c2c_web::metrics::handle();
    let _demo_trunk = if demo {
        Some(add_demo(&mut config).await?)
    } else {
        None
    };
    let public_url = config.public_url();

    let keys_path = config.data_dir.join("keys.json");
    let keys: SharedKeys = KeyRing::load_or_create(&keys_path, unix_now())
        .with_context(|| format!("signing keys at {}", keys_path.display()))?
        .into();
    tokio::spawn(reload_keys(keys_path, keys.clone()));
    let store = config.open_store().await.context("opening the database")?;
    let node = crate::node::load_or_create(&config.data_dir)
        .with_context(|| format!("node id in {}", config.data_dir.display()))?;
    // Writes an outage kept in the spool go in first: a call that ended meanwhile is not
    // one a crash interrupted.
    let records = CallRecords {
        store: store.clone(),
        spool: Spool::open(&config.data_dir).context("the call-record spool (data_dir)")?,
    };
    let replayed = records.spool.replay(&store).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "call-record spool not replayed");
        false
    });
    records.spool.spawn_replayer(store.clone());
    // Their trunk dialogs are rebuilt before the records are closed; ended once trunks load.
    let interrupted = crate::interrupted::find(&store, &node).await;
    let closed = match replayed {
        true => store
            .close_interrupted_calls(&node, unix_now() * 1000)
            .await
            .context("closing the calls of a previous run")?,
        // Records still in the spool would be closed before their own end arrives: those of
        // the previous run are closed at the next start that finds the spool replayed.
        false => {
            tracing::warn!(
                "call-record spool not empty: the previous run's open calls stay open for now"
            );
            0
        }
    };
    if closed > 0 {
        tracing::warn!(%node, closed, "calls the previous run ended without closing recorded as interrupted");
    }
    store
        .release_node_call_slots(&node)
        .await
        .context("giving back the call slots of a previous run")?;
    let secrets_path = config.data_dir.join("secrets.key");
    let secrets = SecretBox::load_or_create(&secrets_path)
        .with_context(|| format!("trunk password key at {}", secrets_path.display()))?;
    let trunks = Trunks::new(secrets.clone());
    for t in &config.trunks {
        let replace = demo && t.org == DEMO_ORG && t.trunk.name == DEMO_TRUNK;
        trunks
            .seed(&store, &t.org, &t.trunk, replace, unix_now())
            .await
            .with_context(|| format!("trunk {} of organisation {}", t.trunk.name, t.org))?;
    }
    trunks.refresh(&store).await.context("loading trunks")?;
    let trunk_networks = config.sip.networks().map_err(anyhow::Error::msg)?;
    let registrar = config.registrar.settings().map_err(anyhow::Error::msg)?;
    let ingress = c2c_sbc::ingress::IngressConfig {
        agent_networks: registrar.as_ref().map(|(networks, _)| networks.clone()),
        ..Default::default()
    };
    let sbc = Arc::new(
        Sbc::start_with(
            SbcConfig {
                listen: config.sip.listen,
                advertised: None,
                trunks: Vec::new(),
            },
            SbcOptions {
                trunk_networks: trunk_networks.clone(),
                ingress,
                registrar: registrar.as_ref().map(|(_, config)| config.clone()),
                ..SbcOptions::default()
            },
        )
        .await
        .context("starting the SBC (sip.listen)")?,
    );
    tracing::info!(sip = %sbc.local_addr(), "SBC listening (UDP)");
    apply_trunks(&sbc, &trunks).await;
    if !interrupted.is_empty() {
        tracing::warn!(
            calls = interrupted.len(),
            "ending the interrupted calls at their trunks (BYE)"
        );
        crate::interrupted::end_all(&records, &sbc, interrupted);
    }
    let readiness = c2c_web::readiness::Readiness::default();
    let sip = sbc.clone();
    readiness.watch("sip", move || sip.is_running());
    let trunk_sync = tokio::spawn(sync_trunks(store.clone(), trunks.clone(), sbc.clone()));
    readiness.watch("trunk sync", move || !trunk_sync.is_finished());
    if let Some((_, registrar)) = &registrar {
        let changes = sbc.take_registrations().context("registrar changes")?;
        crate::agents::start(&store, &sbc, &registrar.realm, &node, changes, &readiness).await;
        tracing::info!(realm = %registrar.realm, "registrar on");
    }

    let demo_login = if demo {
        Some(add_demo_login(&store).await?)
    } else {
        None
    };
    let campaigns = Campaigns::default();
    for c in config.campaigns.clone() {
        let replace = demo && c.public_id == "demo";
        campaigns
            .seed(&store, c, replace, unix_now())
            .await
            .context("campaigns")?;
    }
    campaigns
        .refresh(&store)
        .await
        .context("loading campaigns")?;
    tokio::spawn(refresh_campaigns(store.clone(), campaigns.clone()));
    let active_calls = ActiveCalls::new();
    let state = AppState {
        config: Arc::new(WebConfig {
            public_url: public_url.clone(),
            static_dir: config.static_dir.clone(),
            number_lease_s: config.number_linger_s,
            demo_campaign: demo.then(|| "demo".to_string()),
            metrics_token: config.http.metrics_token.clone(),
            trusted_proxies: config.http.proxies().map_err(anyhow::Error::msg)?,
            trunk_networks,
        }),
        campaigns: campaigns.clone(),
        trunks,
        issuer: TokenIssuer::new(
            keys.clone(),
            config.token_issuer.clone(),
            config.token_lifetime_s,
        ),
        keys: keys.clone(),
        store: store.clone(),
        active_calls: active_calls.clone(),
        http: reqwest::Client::builder()
            .user_agent("c2c")
            .build()
            .context("HTTP client for bot checks")?,
        admin: c2c_web::AdminState::new(secrets).with_registrar(c2c_web::RegistrarInfo {
            realm: config.registrar.realm.clone(),
            sip_port: config.sip.listen.port(),
            enabled: registrar.is_some(),
        }),
        readiness: readiness.clone(),
    };
    let (drain_over_tx, drain_over) = tokio::sync::watch::channel(false);
    let media = config.media.settings();
    let media_loops = MediaLoops::start(
        config.media.ip,
        &media.ports,
        config.media.loop_threads(),
        media_panicked,
    )
    .context("starting the media loops ([media] ip, port_min/port_max)")?;
    let loops = media_loops.clone();
    readiness.watch("media loops", move || loops.stopped_loop().is_none());
    let gateway = Gateway {
        sbc,
        readiness: readiness.clone(),
        drain_over,
        verifier: TokenVerifier::new(keys, config.token_issuer.clone(), Arc::new(store.clone())),
        store,
        records,
        node,
        campaigns,
        active_calls: active_calls.clone(),
        number_linger_s: config.number_linger_s,
        media_ip: config.media.ip,
        media_loops,
        media,
        router: Default::default(),
        hold_music: Default::default(),
        agent_networks: registrar.as_ref().map(|(networks, _)| networks.clone()),
    };
    let app = c2c_web::router(state).merge(crate::signalling::routes(gateway));

    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("binding http.listen = {}", config.http.listen))?;
    let bound = listener.local_addr()?;
    tracing::info!(http = %bound, "HTTP listening");
    // Tests and scripts read this line to learn the port when they asked for port 0.
    println!("c2c listening on http://{bound} (public URL {public_url})");
    if demo {
        println!("Open {public_url}/ and click the call button: the demo trunk echoes your voice.");
    }
    if let Some(login) = demo_login {
        println!("Dashboard: {public_url}/admin/login {login}");
    }
    let stopped = std::sync::Arc::new(std::sync::Mutex::new(None));
    let end = {
        let stopped = stopped.clone();
        let drain = Drain {
            readiness: readiness.clone(),
            active_calls,
            over: drain_over_tx,
            grace: std::time::Duration::from_secs(config.server.drain_s),
        };
        async move {
            tokio::select! {
                () = shutdown() => drain.run().await,
                task = core_task_stopped(readiness) => {
                    *stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
                }
            }
        }
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(end)
    .await
    .context("HTTP server")?;
    let stopped = stopped.lock().unwrap_or_else(|p| p.into_inner()).take();
    match stopped {
        // Non-zero, so a supervisor (systemd `Restart=always`) starts a healthy process.
        Some(task) => anyhow::bail!("core task {task:?} stopped; exiting for a restart"),
        None => Ok(()),
    }
}

/// How long calls ended by a drain get for their BYE and their last record writes.
const DRAIN_WRAP_UP: std::time::Duration = std::time::Duration::from_secs(10);

/// A graceful stop: no new calls, the live ones get a grace period, then they are ended.
struct Drain {
    readiness: c2c_web::readiness::Readiness,
    active_calls: ActiveCalls,
    over: tokio::sync::watch::Sender<bool>,
    grace: std::time::Duration,
}

impl Drain {
    /// Runs the drain; returns when the process may exit.
    async fn run(self) {
        self.readiness.start_draining();
        let live = self.active_calls.total();
        tracing::info!(
            calls = live,
            grace_s = self.grace.as_secs(),
            "draining: no new calls"
        );
        let calls = &self.active_calls;
        if !within(self.grace, || calls.total() == 0).await {
            tracing::info!(
                calls = self.active_calls.total(),
                "drain period over: ending the calls"
            );
            let _ = self.over.send(true);
            if !within(DRAIN_WRAP_UP, || calls.total() == 0).await {
                tracing::warn!(
                    calls = self.active_calls.total(),
                    "calls still up after the drain"
                );
            }
        }
        if !within(DRAIN_WRAP_UP, || crate::cdr::pending_writes() == 0).await {
            tracing::error!("call record writes still pending at exit: the database is away");
        }
        tracing::info!("drained");
    }
}

/// Waits until `done` holds, at most `limit`; false if it still did not then.
async fn within(limit: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let give_up = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    true
}

/// How often the core tasks are checked.
const CORE_TASK_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Waits until a core task has stopped and names it.
async fn core_task_stopped(readiness: c2c_web::readiness::Readiness) -> String {
    let mut interval = tokio::time::interval(CORE_TASK_CHECK);
    loop {
        interval.tick().await;
        if let Some(task) = readiness.stopped_task() {
            tracing::error!(%task, "a core task has stopped: not ready, exiting");
            return task;
        }
    }
}

/// How often campaigns are reloaded from the database, so another node's dashboard edit
/// applies here too (this node's own edits apply at once).
const CAMPAIGN_RELOAD: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps the campaign cache in step with the database.
async fn refresh_campaigns(store: c2c_store::Store, campaigns: Campaigns) {
    let mut interval = tokio::time::interval(CAMPAIGN_RELOAD);
    loop {
        interval.tick().await;
        if let Err(e) = campaigns.refresh(&store).await {
            tracing::warn!(error = %e, "reloading campaigns failed; keeping the old ones");
        }
    }
}

/// How often the key file is checked for a rotation by `c2c keys rotate`.
const KEY_RELOAD: std::time::Duration = std::time::Duration::from_secs(10);

/// Picks up rotated keys without a restart, and retires old keys when their overlap ends.
async fn reload_keys(path: std::path::PathBuf, keys: SharedKeys) {
    let mut interval = tokio::time::interval(KEY_RELOAD);
    loop {
        interval.tick().await;
        match KeyRing::load_or_create(&path, unix_now()) {
            Ok(ring) => {
                if ring.current.kid != keys.get().current.kid {
                    tracing::info!(kid = %ring.current.kid, "signing key rotated");
                }
                keys.set(ring);
            }
            Err(e) => {
                tracing::error!(error = %e, "reloading signing keys failed; keeping the old ones")
            }
        }
    }
}

/// The demo organisation.
const DEMO_ORG: &str = "demo";
/// The demo trunk's name.
const DEMO_TRUNK: &str = "demo";

/// The demo organisation's dashboard user.
const DEMO_EMAIL: &str = "admin@demo.invalid";

/// Creates the demo organisation and its owner on first use; says how to log in.
async fn add_demo_login(store: &c2c_store::Store) -> anyhow::Result<String> {
    let now = unix_now();
    store
        .create_org("demo", "Demo", now)
        .await
        .context("creating the demo organisation")?;
    let password = new_password();
    let created = store
        .create_user("demo", DEMO_EMAIL, &password, c2c_store::Role::Owner, now)
        .await
        .context("creating the demo user")?;
    Ok(match created {
        Some(_) => format!("email {DEMO_EMAIL} password {password}"),
        None => format!(
            "email {DEMO_EMAIL} (its password was printed when it was created; \
             `c2c user add` makes another user)"
        ),
    })
}

/// A random password: 20 characters from an alphabet without look-alikes.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// A media loop caught a panic (and went on): logged and counted like every task's.
fn media_panicked(panic: &(dyn std::any::Any + Send)) {
    let text = c2c_guard::supervise::panic_text(panic);
    tracing::error!(panic = text, "media loop caught a panic");
    metrics::counter!(c2c_guard::supervise::PANICS, "task" => "media").increment(1);
}

/// Starts the in-process demo trunk and adds it and a demo campaign to the configuration.
async fn add_demo(config: &mut Config) -> anyhow::Result<DemoTrunk> {
    let trunk = DemoTrunk::start(config.media.ip)
        .await
        .context("starting the demo trunk")?;
    config
        .trunks
        .retain(|t| !(t.org == DEMO_ORG && t.trunk.name == DEMO_TRUNK));
    config.trunks.push(SeedTrunk {
        org: DEMO_ORG.into(),
        trunk: TrunkConfig {
            name: DEMO_TRUNK.into(),
            host: trunk.sip_addr.ip().to_string(),
            port: trunk.sip_addr.port(),
            from_domain: Some("c2c.invalid".into()),
            ..TrunkConfig::default()
        },
    });
    // The demo trunk runs on this host: its address must be allowed, besides what the
    // operator allows (every public address when nothing is listed).
    let sip = &mut config.sip.trunk_networks;
    if sip.is_empty() {
        sip.push(c2c_sbc::networks::PUBLIC.into());
    }
    sip.push(trunk.sip_addr.ip().to_string());
    let public = config.public_url();
    let mut origins = vec![public.clone()];
    // The same server reached as localhost is a different origin to the browser.
    if let Some(rest) = public.strip_prefix("http://127.0.0.1") {
        origins.push(format!("http://localhost{rest}"));
    }
    config.campaigns.retain(|c| c.public_id != "demo");
    config.campaigns.push(CampaignConfig {
        public_id: "demo".into(),
        org: DEMO_ORG.into(),
        name: "Demo (echo)".into(),
        active: true,
        allowed_origins: origins,
        trunk: DEMO_TRUNK.into(),
        destinations: vec!["echo".into()],
        ring_timeout_s: 20,
        number_pool: NumberPool {
            first: "+15550100000".into(),
            count: 100,
            list: Vec::new(),
        },
        theme: Default::default(),
        fallback_message: "The demo is closed.".into(),
        fallback: Default::default(),
        timezone: "UTC".into(),
        hours: Vec::new(),
        max_concurrent_calls: 20,
        daily_cap: 0,
        rate_per_ip_per_minute: 20,
        rate_per_campaign_per_minute: 600,
        bot_check: None,
        privacy_id: false,
        unused_tokens_per_client: 3,
        routing: Default::default(),
    });
    Ok(trunk)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
