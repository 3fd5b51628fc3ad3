//! The calls waiting for an agent in one campaign queue ([`Queue`]) and the rolling statistics
//! behind the wait a caller is shown ([`WaitModel`]).
//!
//! Both are plain values: the shell pushes and pops calls as events happen and passes the time.
//! The queue does not cap its length; the shell refuses a call (`ended: capacity`) before
//! pushing when the campaign's limit is reached.

use std::collections::VecDeque;

/// A call waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The call's id.
    pub call_id: String,
    /// Its priority (higher is served first).
    pub priority: i32,
    /// Unix ms when it started waiting (kept across a [`Queue::requeue`]).
    pub since_ms: i64,
}

/// The waiting calls of one queue: highest priority first, first come first served within a
/// priority.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// Kept in serving order, so `next` is a pop and `position` an index.
    calls: VecDeque<Waiting>,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Self {
        Queue::default()
    }

    /// Queues `call_id` behind every call of the same or a higher priority; returns its 1-based
    /// position. A call already queued keeps its place (a retried push moves nobody).
    pub fn push(&mut self, call_id: String, priority: i32, now_ms: i64) -> usize {
        if let Some(pos) = self.position(&call_id) {
            return pos;
        }
        let at = self.calls.partition_point(|w| w.priority >= priority);
        self.calls.insert(
            at,
            Waiting {
                call_id,
                priority,
                since_ms: now_ms,
            },
        );
        at + 1
    }

    /// Puts a call taken with [`Queue::pop_waiting`] back at the head of its priority, keeping
    /// its wait time (nobody answered the agents it was offered to); returns its position.
    pub fn requeue(&mut self, call: Waiting) -> usize {
        if let Some(pos) = self.position(&call.call_id) {
            return pos;
        }
        let at = self.calls.partition_point(|w| w.priority > call.priority);
        self.calls.insert(at, call);
        at + 1
    }

    /// Removes `call_id` (the caller hung up, or an agent took it); whether it was queued.
    pub fn remove(&mut self, call_id: &str) -> bool {
        match self.index(call_id) {
            Some(i) => self.calls.remove(i).is_some(),
            None => false,
        }
    }

    /// The 1-based position of `call_id`, `None` when it is not queued.
    pub fn position(&self, call_id: &str) -> Option<usize> {
        self.index(call_id).map(|i| i + 1)
    }

    /// Takes the call to serve next: the highest priority, the longest queued among those.
    #[allow(clippy::should_implement_trait)] // a queue, not an iterator: `next` says "serve next"
    pub fn next(&mut self) -> Option<String> {
        self.pop_waiting().map(|w| w.call_id)
    }

    /// Like [`Queue::next`], with its priority and start of waiting (for [`Queue::requeue`]).
    pub fn pop_waiting(&mut self) -> Option<Waiting> {
        self.calls.pop_front()
    }

    /// The call [`Queue::next`] would take, left in place.
    pub fn peek(&self) -> Option<&str> {
        self.calls.front().map(|w| w.call_id.as_str())
    }

    /// Calls waiting.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is waiting.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The waiting calls in serving order.
    pub fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.calls.iter()
    }

    /// Removes and returns, in serving order, the calls waiting longer than `max_wait_ms`
    /// (`i64::MAX` for no limit).
    pub fn expired(&mut self, now_ms: i64, max_wait_ms: i64) -> Vec<String> {
        let mut gone = Vec::new();
        self.calls.retain(|w| {
            let over = waited(w, now_ms) > max_wait_ms;
            if over {
                gone.push(w.call_id.clone());
            }
            !over
        });
        gone
    }

    /// Milliseconds `call_id` has waited at `now_ms` (0 if the clock reads earlier), `None` when
    /// it is not queued.
    pub fn waited_ms(&self, call_id: &str, now_ms: i64) -> Option<i64> {
        self.calls
            .iter()
            .find(|w| w.call_id == call_id)
            .map(|w| waited(w, now_ms))
    }

    fn index(&self, call_id: &str) -> Option<usize> {
        self.calls.iter().position(|w| w.call_id == call_id)
    }
}

fn waited(w: &Waiting, now_ms: i64) -> i64 {
    now_ms.saturating_sub(w.since_ms).max(0)
}

/// Weight of the newest call in the rolling averages, once [`WAIT_MODEL_WINDOW`] calls are in.
pub const WAIT_MODEL_ALPHA: f64 = 0.1;

/// Calls over which the averages are plain means before they become exponentially weighted
/// (`1 / WAIT_MODEL_ALPHA`), so the first calls do not each count as a tenth.
pub const WAIT_MODEL_WINDOW: u64 = 10;

/// Rolling statistics of one queue: average handle time and answer rate, exponentially
/// weighted (α = [`WAIT_MODEL_ALPHA`], a plain mean over the first [`WAIT_MODEL_WINDOW`]
/// samples), so the estimate follows the last few dozen calls.
///
/// The estimate for the caller at position `p` with `k` agents serving the queue is
/// `(1 + (p − 1) × answer_rate) × AHT / k`: the callers ahead who will not hang up first, plus
/// the caller itself, each waiting for one of `k` busy agents to finish (with exponential
/// handle times an agent frees up every `AHT / k` on average).
#[derive(Debug, Clone, Default)]
pub struct WaitModel {
    handle_ms: Option<f64>,
    answer_wait_ms: Option<f64>,
    answer_rate: Option<f64>,
    answered: u64,
    outcomes: u64,
}

impl WaitModel {
    /// A model with no history.
    pub fn new() -> Self {
        WaitModel::default()
    }

    /// A queued call was answered after `wait_ms` and then lasted `handle_ms` (talk plus wrap-up).
    pub fn record_answered(&mut self, wait_ms: i64, handle_ms: i64) {
        self.answered = self.answered.saturating_add(1);
        self.handle_ms = Some(blend(
            self.handle_ms,
            handle_ms.max(0) as f64,
            self.answered,
        ));
        self.answer_wait_ms = Some(blend(
            self.answer_wait_ms,
            wait_ms.max(0) as f64,
            self.answered,
        ));
        self.record_outcome(1.0);
    }

    /// A queued call hung up (or expired) after `_wait_ms` without an agent; only the outcome
    /// enters the model (the answer rate), the parameter keeps both records alike for the shell.
    pub fn record_abandoned(&mut self, _wait_ms: i64) {
        self.record_outcome(0.0);
    }

    /// Estimated wait in ms for the caller at 1-based `position` (0 counts as 1) with
    /// `agents_serving` agents staffing the queue. `None` without an answered call yet or with
    /// nobody serving: callers show "unknown" then, never a made-up number.
    pub fn estimate_wait_ms(&self, position: usize, agents_serving: u32) -> Option<i64> {
        let aht = self.handle_ms?;
        let rate = self.answer_rate?;
        if agents_serving == 0 {
            return None;
        }
        let ahead = position.saturating_sub(1) as f64;
        let wait = (1.0 + ahead * rate) * aht / f64::from(agents_serving);
        // `as` saturates, so an absurd history cannot wrap.
        Some(wait.round() as i64)
    }

    /// The rolling average handle time in ms, `None` before the first answered call.
    pub fn average_handle_ms(&self) -> Option<i64> {
        self.handle_ms.map(|ms| ms.round() as i64)
    }

    /// The rolling average wait of answered calls in ms (speed of answer), `None` before one.
    pub fn average_answer_wait_ms(&self) -> Option<i64> {
        self.answer_wait_ms.map(|ms| ms.round() as i64)
    }

    /// The rolling share of queued calls that reached an agent (0–1), `None` without history.
    pub fn answer_rate(&self) -> Option<f64> {
        self.answer_rate
    }

    fn record_outcome(&mut self, answered: f64) {
        self.outcomes = self.outcomes.saturating_add(1);
        self.answer_rate = Some(blend(self.answer_rate, answered, self.outcomes));
    }
}

/// One step of the average: the running mean for the first samples, then the EWMA.
fn blend(avg: Option<f64>, sample: f64, n: u64) -> f64 {
    match avg {
        None => sample,
        Some(avg) => {
            let alpha = if n < WAIT_MODEL_WINDOW {
                1.0 / n as f64
            } else {
                WAIT_MODEL_ALPHA
            };
            avg + alpha * (sample - avg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn queue(calls: &[(&str, i32)]) -> Queue {
        let mut q = Queue::new();
        for (n, &(id, priority)) in calls.iter().enumerate() {
            q.push(id.to_owned(), priority, NOW + n as i64);
        }
        q
    }

    fn drain(q: &mut Queue) -> Vec<String> {
        std::iter::from_fn(|| q.next()).collect()
    }

    #[test]
    fn fifo_within_a_priority() {
        let mut q = Queue::new();
        assert_eq!(q.push("a".into(), 0, NOW), 1);
        assert_eq!(q.push("b".into(), 0, NOW), 2);
        assert_eq!(q.push("c".into(), 0, NOW), 3);
        assert_eq!(q.len(), 3);
        assert_eq!(q.peek(), Some("a"));
        assert_eq!(drain(&mut q), ["a", "b", "c"]);
        assert!(q.is_empty());
        assert_eq!(q.next(), None);
    }

    #[test]
    fn higher_priority_is_served_first() {
        let mut q = queue(&[("low1", 0), ("low2", 0)]);
        assert_eq!(q.push("vip".into(), 10, NOW), 1);
        assert_eq!(q.push("mid".into(), 5, NOW), 2);
        assert_eq!(q.push("vip2".into(), 10, NOW), 2);
        assert_eq!(q.push("bot".into(), -1, NOW), 6);
        assert_eq!(q.position("low1"), Some(4));
        assert_eq!(drain(&mut q), ["vip", "vip2", "mid", "low1", "low2", "bot"]);
    }

    #[test]
    fn pushing_again_keeps_the_place() {
        let mut q = queue(&[("a", 0), ("b", 0)]);
        assert_eq!(q.push("a".into(), 9, NOW + 50), 1);
        assert_eq!(q.len(), 2);
        assert_eq!(q.waited_ms("a", NOW + 100), Some(100));
    }

    #[test]
    fn remove_and_position() {
        let mut q = queue(&[("a", 0), ("b", 0), ("c", 0)]);
        assert!(q.remove("b"));
        assert!(!q.remove("b"));
        assert_eq!(q.position("c"), Some(2));
        assert_eq!(q.position("b"), None);
        assert_eq!(
            q.iter().map(|w| w.call_id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
    }

    #[test]
    fn requeue_returns_to_the_head_of_its_priority_with_its_wait() {
        let mut q = queue(&[("vip", 5), ("a", 0), ("b", 0)]);
        let vip = q.pop_waiting().expect("vip first");
        let a = q.pop_waiting().expect("a next");
        q.push("c".into(), 0, NOW + 10);
        assert_eq!(q.requeue(a), 1);
        assert_eq!(q.requeue(vip), 1);
        assert_eq!(q.position("a"), Some(2));
        assert_eq!(q.waited_ms("a", NOW + 1_000), Some(999)); // pushed at NOW + 1
        assert_eq!(drain(&mut q), ["vip", "a", "b", "c"]);
    }

    #[test]
    fn expired_removes_calls_waiting_longer_than_the_max() {
        let mut q = Queue::new();
        q.push("old".into(), 0, NOW);
        q.push("vip_old".into(), 9, NOW + 1_000);
        q.push("new".into(), 0, NOW + 60_000);
        // Exactly the max is not longer than it.
        assert!(q.expired(NOW + 120_000, 120_000).is_empty());
        assert_eq!(q.expired(NOW + 121_001, 120_000), ["vip_old", "old"]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.position("new"), Some(1));
        assert!(q.expired(i64::MAX, i64::MAX).is_empty());
    }

    #[test]
    fn waited_ms_never_negative() {
        let q = queue(&[("a", 0)]);
        assert_eq!(q.waited_ms("a", NOW - 5_000), Some(0));
        assert_eq!(q.waited_ms("a", NOW + 2_500), Some(2_500));
        assert_eq!(q.waited_ms("zz", NOW), None);
    }

    #[test]
    fn no_history_no_estimate() {
        let mut m = WaitModel::new();
        assert_eq!(m.estimate_wait_ms(1, 3), None);
        assert_eq!(m.average_handle_ms(), None);
        // Abandons alone say nothing about how long agents take.
        m.record_abandoned(30_000);
        assert_eq!(m.estimate_wait_ms(1, 3), None);
        assert_eq!(m.answer_rate(), Some(0.0));
    }

    #[test]
    fn nobody_serving_no_estimate() {
        let mut m = WaitModel::new();
        m.record_answered(1_000, 120_000);
        assert_eq!(m.estimate_wait_ms(1, 0), None);
    }

    #[test]
    fn estimate_scales_with_position_and_agents() {
        let mut m = WaitModel::new();
        for _ in 0..5 {
            m.record_answered(10_000, 180_000);
        }
        assert_eq!(m.average_handle_ms(), Some(180_000));
        assert_eq!(m.average_answer_wait_ms(), Some(10_000));
        assert_eq!(m.answer_rate(), Some(1.0));
        assert_eq!(m.estimate_wait_ms(1, 1), Some(180_000));
        assert_eq!(m.estimate_wait_ms(0, 1), Some(180_000));
        assert_eq!(m.estimate_wait_ms(3, 1), Some(540_000));
        assert_eq!(m.estimate_wait_ms(3, 3), Some(180_000));
    }

    #[test]
    fn abandons_shorten_the_wait_of_those_behind() {
        let mut m = WaitModel::new();
        m.record_answered(0, 100_000);
        m.record_abandoned(0);
        // Half the callers ahead reach an agent: 1 + 4 × 0.5 = 3 handle times at position 5.
        assert_eq!(m.answer_rate(), Some(0.5));
        assert_eq!(m.estimate_wait_ms(5, 1), Some(300_000));
    }

    #[test]
    fn averages_follow_recent_calls() {
        let mut m = WaitModel::new();
        for _ in 0..50 {
            m.record_answered(0, 60_000);
        }
        for _ in 0..30 {
            m.record_answered(0, 300_000);
        }
        let aht = m.average_handle_ms().expect("history");
        // 30 calls at α = 0.1 leave (0.9)^30 ≈ 4% of the old average.
        assert!((285_000..300_000).contains(&aht), "{aht}");
        // The first calls are a plain mean, not dominated by the very first one.
        let mut early = WaitModel::new();
        early.record_answered(0, 100_000);
        early.record_answered(0, 200_000);
        assert_eq!(early.average_handle_ms(), Some(150_000));
    }

    #[test]
    fn hostile_numbers_do_not_break_the_estimate() {
        let mut m = WaitModel::new();
        m.record_answered(-5, -1_000);
        assert_eq!(m.estimate_wait_ms(1, 1), Some(0));
        m.record_answered(0, i64::MAX);
        let est = m.estimate_wait_ms(usize::MAX, 1).expect("history");
        assert_eq!(est, i64::MAX);
    }
}
