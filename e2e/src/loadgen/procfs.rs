//! CPU time and resident memory of a process, from `/proc/<pid>` (Linux only).

use std::path::Path;
use std::time::Instant;

/// Kernel clock ticks per second for `/proc/<pid>/stat` times. `USER_HZ` is 100 on every
/// Linux architecture this runs on (it is fixed ABI, unlike `HZ`).
const TICKS_PER_S: f64 = 100.0;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was read.
    pub at: Instant,
    /// User + system CPU seconds of all its threads so far.
    pub cpu_s: f64,
    /// Resident set, KiB.
    pub rss_kib: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; None if the process is gone.
pub fn sample(pid: u32) -> Option<Sample> {
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Sample {
        at,
        cpu_s: (utime + stime) / TICKS_PER_S,
        rss_kib,
    })
}

/// CPU seconds per wall second between two samples.
pub fn cpu_rate(a: &Sample, b: &Sample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    (b.cpu_s - a.cpu_s) / wall
}

/// The pid of the running process whose command line contains `needle`, e.g. a run's unique
/// config path (the harness does not expose its child's pid).
pub fn find_pid(needle: &str) -> Option<u32> {
    let entries = std::fs::read_dir(Path::new("/proc")).ok()?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            return Some(pid);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_can_be_sampled() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(s.cpu_s >= 0.0);
    }
}
