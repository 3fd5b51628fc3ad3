//! The wait a queued call can expect. The queue itself lives in the database (every node
//! sees one line per campaign); this is the arithmetic over what the shell reads there.

/// Seconds the caller at `position` (1 is next) can expect to wait: 0 while at least that
/// many agents are free; else `position` × the mean handle time (talk plus wrap-up) shared
/// by the agents serving, rounded up; None when that is unknown (nobody logged in, or no
/// answered call to learn from), which the widget shows as "unknown", never a made-up
/// number.
pub fn wait_estimate_s(
    position: u32,
    available: u32,
    staffed: u32,
    avg_handle_s: Option<f64>,
) -> Option<u32> {
    if available >= position.max(1) {
        return Some(0);
    }
    if staffed == 0 {
        return None;
    }
    let ahead = f64::from(position.max(1) - available);
    let wait = ahead * avg_handle_s? / f64::from(staffed);
    // `as` saturates: an absurd history cannot wrap.
    Some(wait.max(0.0).ceil() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_agents_mean_no_wait_and_no_history_means_unknown() {
        assert_eq!(wait_estimate_s(1, 1, 3, None), Some(0));
        assert_eq!(wait_estimate_s(2, 2, 3, None), Some(0));
        assert_eq!(
            wait_estimate_s(1, 0, 0, Some(120.0)),
            None,
            "nobody logged in"
        );
        assert_eq!(wait_estimate_s(1, 0, 2, None), None, "no history");
    }

    #[test]
    fn the_wait_grows_with_the_place_and_shrinks_with_the_agents() {
        assert_eq!(wait_estimate_s(1, 0, 2, Some(121.0)), Some(61));
        assert_eq!(wait_estimate_s(3, 0, 2, Some(120.0)), Some(180));
        assert_eq!(
            wait_estimate_s(3, 1, 2, Some(120.0)),
            Some(120),
            "one is free"
        );
        assert_eq!(
            wait_estimate_s(0, 0, 1, Some(60.0)),
            Some(60),
            "0 counts as next"
        );
        assert_eq!(wait_estimate_s(1, 0, 1, Some(f64::MAX)), Some(u32::MAX));
    }
}
