//! Latency histograms and the report a run produces.

use serde::{Deserialize, Serialize};

/// Bucket width of [`Histogram`], nanoseconds: 10 µs resolution is far below the 5 ms
/// criterion the ramp uses.
const BUCKET_NS: u64 = 10_000;
/// Buckets: up to 5 s; anything slower lands in the last one.
const BUCKETS: usize = 500_000;

/// A fixed-resolution latency histogram (10 µs buckets up to 5 s).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// Records one sample.
    pub fn record_ns(&mut self, ns: u64) {
        let i = ((ns / BUCKET_NS) as usize).min(BUCKETS - 1);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `q` quantile (0..=1) in milliseconds (upper edge of its bucket); 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return ((i as u64 + 1) * BUCKET_NS) as f64 / 1e6;
            }
        }
        (BUCKETS as u64 * BUCKET_NS) as f64 / 1e6
    }

    /// p50 and p99 in milliseconds.
    pub fn summary(&self) -> Percentiles {
        Percentiles {
            p50_ms: round3(self.quantile_ms(0.50)),
            p99_ms: round3(self.quantile_ms(0.99)),
            samples: self.total,
        }
    }
}

/// Two quantiles of a latency distribution.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// How many samples.
    pub samples: u64,
}

/// What the relay under test cost, from `/proc/<pid>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerCost {
    /// Process id sampled.
    pub pid: u32,
    /// CPU seconds (user + system, all threads) per wall second while all calls were up.
    pub cpu_s_per_s: f64,
    /// The same per established call, milliseconds of CPU per second.
    pub cpu_ms_per_s_per_call: f64,
    /// Resident set before the first call, KiB.
    pub rss_idle_kib: u64,
    /// Resident set with all calls up, KiB.
    pub rss_loaded_kib: u64,
    /// (loaded − idle) / established calls, KiB.
    pub rss_kib_per_call: f64,
    /// RSS every 5 s while all calls held, KiB (flat in a healthy soak).
    #[serde(default)]
    pub rss_timeline_kib: Vec<u64>,
}

/// The result of one run at a fixed number of calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// `c2c` or `rtpengine`.
    pub target: String,
    /// Calls attempted.
    pub calls: usize,
    /// Calls answered with media connected.
    pub established: usize,
    /// Calls that failed at any step.
    pub failed: usize,
    /// Why calls failed, one line per distinct reason with its count.
    pub failures: Vec<String>,
    /// Seconds each call held with media after the ramp.
    pub duration_s: f64,
    /// Calls started per second during the ramp.
    pub ramp_per_s: f64,
    /// Calls answered per second over the ramp (first offer to last answer).
    pub setup_rate_per_s: f64,
    /// Offer sent → answered.
    pub setup: Percentiles,
    /// Media round trip through the relay and the echo.
    pub rtt: Percentiles,
    /// Stamped packets sent by all browsers.
    pub packets_sent: u64,
    /// Distinct stamped packets that came back.
    pub packets_received: u64,
    /// 100 × (sent − received) / sent.
    pub loss_pct: f64,
    /// Frames the load generator itself skipped because it ran late (its own overload).
    pub frames_skipped: u64,
    /// The relay's CPU and memory; absent without a pid.
    pub server: Option<ServerCost>,
    /// The load generator's own CPU seconds per second (it shares the machine).
    pub loadgen_cpu_s_per_s: f64,
}

impl Report {
    /// A human-readable summary.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{target}: {est}/{calls} calls established, {failed} failed\n\
             setup p50 {sp50:.1} ms, p99 {sp99:.1} ms ({rate:.1} calls/s)\n\
             rtt p50 {rp50:.2} ms, p99 {rp99:.2} ms\n\
             packets sent {sent}, received {recv}, loss {loss:.3} %, loadgen skipped {skip}\n\
             loadgen cpu {lg:.2} s/s\n",
            target = self.target,
            est = self.established,
            calls = self.calls,
            failed = self.failed,
            sp50 = self.setup.p50_ms,
            sp99 = self.setup.p99_ms,
            rate = self.setup_rate_per_s,
            rp50 = self.rtt.p50_ms,
            rp99 = self.rtt.p99_ms,
            sent = self.packets_sent,
            recv = self.packets_received,
            loss = self.loss_pct,
            skip = self.frames_skipped,
            lg = self.loadgen_cpu_s_per_s,
        );
        if let Some(c) = &self.server {
            let timeline: Vec<String> = c.rss_timeline_kib.iter().map(u64::to_string).collect();
            s.push_str(&format!(
                "server pid {}: cpu {:.3} s/s ({:.3} ms/s per call), rss {} → {} KiB ({:.1} KiB per call)\n",
                c.pid,
                c.cpu_s_per_s,
                c.cpu_ms_per_s_per_call,
                c.rss_idle_kib,
                c.rss_loaded_kib,
                c.rss_kib_per_call
            ));
            s.push_str(&format!(
                "server rss every 5 s (KiB): {}\n",
                timeline.join(" ")
            ));
        }
        for f in &self.failures {
            s.push_str(&format!("failure: {f}\n"));
        }
        s
    }
}

/// Rounds to three decimals for a readable report.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_bucket_upper_edges() {
        let mut h = Histogram::default();
        for ms in 1..=100u64 {
            h.record_ns(ms * 1_000_000 - 1);
        }
        assert_eq!(h.len(), 100);
        assert!((h.quantile_ms(0.5) - 50.0).abs() < 0.011);
        assert!((h.quantile_ms(0.99) - 99.0).abs() < 0.011);
        let mut other = Histogram::default();
        other.merge(&h);
        assert_eq!(other.len(), 100);
        assert_eq!(Histogram::default().quantile_ms(0.5), 0.0);
    }
}
