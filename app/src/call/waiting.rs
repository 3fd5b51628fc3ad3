//! A call waiting in its campaign's queue: its row in the database (so every node sees one
//! line per campaign), and what each poll finds for the flow: the call's place and the wait
//! to expect, or that it is its turn and agents are free.

use std::path::{Path, PathBuf};
use std::time::Duration;

use c2c_media::hold::HoldAudio;

use c2c_store::{Store, WebSession};
use c2c_token::clock::{unix_ms, unix_now};
use c2c_token::VerifiedCall;
use c2c_web::availability_cache::{agent_counts, recent_handle_s};

use super::callees::Callees;
use super::flow::Input;
use super::{agent_side, Gateway};

/// How often a waiting call looks at its place and at the agents.
pub(super) const QUEUE_POLL: Duration = Duration::from_secs(1);

/// A call's place in its campaign's queue; its row goes when this is dropped.
pub(super) struct QueueSpot {
    store: Store,
    campaign: String,
    call_id: String,
    node: String,
    /// From the campaign's rules: higher goes first.
    priority: i64,
    /// When it first waited: a call back from an agent who did not answer keeps its place.
    since_ms: i64,
    /// The latest its row counts (the queue's longest wait), Unix seconds.
    until_s: i64,
    /// Whether its row is in the queue now (not while an agent rings).
    in_line: bool,
}

impl QueueSpot {
    /// The spot of `call_id`, waiting from now for at most `max_wait`.
    pub(super) fn new(
        gw: &Gateway,
        v: &VerifiedCall,
        call_id: &str,
        priority: i32,
        max_wait: Duration,
    ) -> Self {
        QueueSpot {
            store: gw.store.clone(),
            campaign: v.campaign().to_owned(),
            call_id: call_id.to_owned(),
            node: gw.node.clone(),
            priority: i64::from(priority),
            since_ms: unix_ms(),
            until_s: unix_now() + max_wait.as_secs() as i64 + 1,
            in_line: false,
        }
    }

    /// Looks at the call's place and the agents: when as many are free as stand before it
    /// (itself included), they become the callees and the flow hears `AgentsFree`; else
    /// its place and the wait to expect.
    pub(super) async fn poll(
        &mut self,
        gw: &Gateway,
        v: &VerifiedCall,
        session: Option<&WebSession>,
        callees: &mut Callees,
    ) -> Result<Input, String> {
        if !self.in_line {
            self.store
                .enqueue_call(
                    &self.campaign,
                    &self.call_id,
                    &self.node,
                    self.priority,
                    self.since_ms,
                    self.until_s,
                )
                .await
                .map_err(|e| format!("queue: {e}"))?;
            self.in_line = true;
        }
        let position = self
            .store
            .queue_position(&self.call_id, unix_now())
            .await
            .map_err(|e| format!("queue position: {e}"))?
            .unwrap_or(1);
        let campaign = gw
            .campaigns
            .get(&self.campaign)
            .ok_or("the campaign is gone")?;
        // The campaign's counts are one shared load a second, however many calls wait:
        // only a call whose turn may have come loads the agents to plan its ring.
        let counts = agent_counts(&gw.store, &campaign).await?;
        if counts.available >= position {
            let plan = agent_side::plan(gw, v, session).await?;
            let free = u32::try_from(plan.targets.len()).unwrap_or(u32::MAX);
            if free >= position {
                callees.agents = Some(plan);
                self.leave().await;
                tracing::info!(call = %self.call_id, position, free, "queued call's turn: ringing");
                return Ok(Input::AgentsFree {
                    callees: callees.count(v),
                });
            }
        }
        let avg = recent_handle_s(&gw.store, &campaign).await;
        Ok(Input::QueuePosition {
            position,
            estimated_wait_s: c2c_routing::wait_estimate_s(
                position,
                counts.available,
                counts.staffed,
                avg,
            ),
        })
    }

    /// Takes the row out of the line (an agent rings; the next poll puts it back with its
    /// first moment should nobody answer).
    async fn leave(&mut self) {
        if let Err(e) = self.store.dequeue_call(&self.call_id).await {
            tracing::warn!(error = %e, call = %self.call_id, "queued call not taken out of line");
        }
        self.in_line = false;
    }
}

impl Drop for QueueSpot {
    fn drop(&mut self) {
        if !self.in_line {
            return;
        }
        let (store, call_id) = (self.store.clone(), std::mem::take(&mut self.call_id));
        // Should this fail, the row stops counting at its `expires_at`, or at the node's start.
        tokio::spawn(async move {
            if let Err(e) = store.dequeue_call(&call_id).await {
                tracing::warn!(error = %e, call = %call_id, "queued call not taken out of line");
            }
        });
    }
}

/// Music on hold: the default tones, and each campaign's WAV file decoded once (on a blocking
/// thread) and shared by every call that plays it.
#[derive(Default)]
pub struct HoldMusic {
    tones: std::sync::OnceLock<HoldAudio>,
    files: tokio::sync::Mutex<std::collections::HashMap<PathBuf, HoldAudio>>,
}

impl HoldMusic {
    /// What a caller of a campaign with `file` hears while waiting; the tones when there is
    /// no file, or when it cannot be used (logged, naming the file and the problem).
    pub(super) async fn for_file(&self, file: Option<&Path>) -> HoldAudio {
        let tones = || self.tones.get_or_init(HoldAudio::tones).clone();
        let Some(file) = file else {
            return tones();
        };
        let mut files = self.files.lock().await;
        if let Some(audio) = files.get(file) {
            return audio.clone();
        }
        let path = file.to_owned();
        let loaded = tokio::task::spawn_blocking(move || HoldAudio::load_wav(&path)).await;
        let audio = match loaded {
            Ok(Ok(audio)) => audio,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "music on hold: playing the default tones instead");
                tones()
            }
            Err(e) => {
                tracing::warn!(error = %e, "music on hold file not loaded");
                tones()
            }
        };
        files.insert(file.to_owned(), audio.clone());
        audio
    }
}
