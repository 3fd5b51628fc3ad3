//! Caps glibc's malloc arenas for `c2c serve`, the largest single item of memory per call.
//!
//! glibc gives threads that allocate concurrently their own arenas, up to 8 per core. A call
//! allocates on the tokio workers (signalling, SIP), the media loops (DTLS, SRTP) and the
//! SQLite workers, so its memory spreads over a dozen arenas whose free space no other
//! arena reuses. With two arenas RSS per call fell by about half (BENCHMARKS.md, "Memory
//! per call"). glibc reads the limit only when a process starts, and setting it in-process
//! (`mallopt`) needs `unsafe`, so `serve` re-executes itself once with `MALLOC_ARENA_MAX`.

/// Arenas when the environment does not choose.
pub const DEFAULT_ARENAS: &str = "2";

/// The variable glibc reads the limit from.
const VAR: &str = "MALLOC_ARENA_MAX";

/// Whether the environment leaves the arena count to us.
pub fn unset(malloc_arena_max: Option<&str>, glibc_tunables: Option<&str>) -> bool {
    malloc_arena_max.is_none() && !glibc_tunables.is_some_and(|t| t.contains("arena_max"))
}

/// Re-executes this binary with the cap unless the environment sets one; returns only when
/// it did not re-execute, with the error if exec failed.
pub fn cap() -> Option<std::io::Error> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let var = |k: &str| std::env::var(k).ok();
        if !unset(var(VAR).as_deref(), var("GLIBC_TUNABLES").as_deref()) {
            return None;
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return Some(e),
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        Some(command.args(args).env(VAR, DEFAULT_ARENAS).exec())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

#[cfg(test)]
mod tests {
    use super::unset;

    #[test]
    fn an_explicit_setting_is_respected() {
        assert!(unset(None, None));
        assert!(unset(None, Some("glibc.malloc.tcache_count=0")));
        assert!(!unset(Some("8"), None));
        assert!(!unset(None, Some("glibc.malloc.arena_max=4")));
    }
}
