//! Whether this node should be sent traffic (`GET /readyz`): the database answers, every
//! task that carries calls still runs, and the node is not draining.
//!
//! Core tasks contain their panics per input (`c2c_sbc::supervise`); one that stops anyway
//! leaves the node unable to carry calls, so `/readyz` turns 503 at once and the process
//! exits non-zero for its supervisor to restart it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Says whether a core task still runs.
type Probe = Box<dyn Fn() -> bool + Send + Sync>;

/// The node's readiness, shared by `/readyz`, the composition root and the drain; cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    tasks: Mutex<Vec<(String, Probe)>>,
    draining: AtomicBool,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.is_draining())
            .field("stopped", &self.stopped_task())
            .finish()
    }
}

impl Readiness {
    /// Watches a core task: `running` answers whether it still runs.
    pub fn watch(
        &self,
        name: impl Into<String>,
        running: impl Fn() -> bool + Send + Sync + 'static,
    ) {
        self.tasks().push((name.into(), Box::new(running)));
    }

    /// The first watched task that has stopped, by name.
    pub fn stopped_task(&self) -> Option<String> {
        self.tasks()
            .iter()
            .find(|(_, running)| !running())
            .map(|(name, _)| name.clone())
    }

    /// From now on the node takes no new calls and `/readyz` says so.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Readiness::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<(String, Probe)>> {
        self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_task_is_named_and_draining_is_sticky() {
        let r = Readiness::default();
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        r.watch("sip", move || flag.load(Ordering::SeqCst));
        r.watch("media", || true);
        assert_eq!(r.stopped_task(), None);
        alive.store(false, Ordering::SeqCst);
        assert_eq!(r.stopped_task().as_deref(), Some("sip"));
        assert!(!r.is_draining());
        r.clone().start_draining();
        assert!(r.is_draining(), "clones share the state");
    }
}
