//! Business hours in the campaign's time zone: `["mon-fri 09:00-17:00", "sat 10:00-14:00"]`.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A business-hours entry that cannot be used, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// Not an IANA time zone name.
    #[error("unknown time zone {0:?}: use an IANA name such as \"Europe/Berlin\"")]
    TimeZone(String),
    /// An entry is not `DAYS HH:MM-HH:MM`.
    #[error("{0:?}: write entries like \"mon-fri 09:00-17:00\" (days mon..sun, 24-hour times, start before end)")]
    Entry(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    day: Weekday,
    start_min: u16,
    end_min: u16,
}

/// When a campaign takes calls; empty means always.
#[derive(Debug, Clone)]
pub struct WeeklyHours {
    tz: TimeZone,
    spans: Vec<Span>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn day(name: &str) -> Option<usize> {
    DAYS.iter().position(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

impl WeeklyHours {
    /// Parses `entries` in time zone `tz`.
    pub fn parse(tz: &str, entries: &[String]) -> Result<Self, HoursError> {
        let tz = TimeZone::get(tz).map_err(|_| HoursError::TimeZone(tz.to_string()))?;
        let mut spans = Vec::new();
        for e in entries {
            let bad = || HoursError::Entry(e.clone());
            let (days, times) = e.trim().split_once(' ').ok_or_else(bad)?;
            let (from, to) = times.trim().split_once('-').ok_or_else(bad)?;
            let (start_min, end_min) = (
                minutes(from.trim()).ok_or_else(bad)?,
                minutes(to.trim()).ok_or_else(bad)?,
            );
            if start_min >= end_min {
                return Err(bad());
            }
            let (first, last) = match days.split_once('-') {
                Some((a, b)) => (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?),
                None => {
                    let d = day(days).ok_or_else(bad)?;
                    (d, d)
                }
            };
            if first > last {
                return Err(bad());
            }
            for (_, wd) in &DAYS[first..=last] {
                spans.push(Span {
                    day: *wd,
                    start_min,
                    end_min,
                });
            }
        }
        Ok(WeeklyHours { tz, spans })
    }

    /// Open around the clock.
    pub fn always() -> Self {
        WeeklyHours {
            tz: TimeZone::UTC,
            spans: Vec::new(),
        }
    }

    /// Whether the campaign is open at Unix second `now`.
    pub fn is_open(&self, now: i64) -> bool {
        if self.spans.is_empty() {
            return true;
        }
        let Ok(ts) = Timestamp::from_second(now) else {
            return false;
        };
        let z = ts.to_zoned(self.tz.clone());
        let m = u16::from(z.hour().unsigned_abs()) * 60 + u16::from(z.minute().unsigned_abs());
        self.spans
            .iter()
            .any(|s| s.day == z.weekday() && s.start_min <= m && m < s.end_min)
    }

    /// The next opening after `now` (Unix seconds), if the campaign ever opens.
    pub fn next_open(&self, now: i64) -> Option<i64> {
        if self.spans.is_empty() {
            return Some(now);
        }
        let today: Date = Timestamp::from_second(now)
            .ok()?
            .to_zoned(self.tz.clone())
            .date();
        let mut best: Option<i64> = None;
        let mut date = today;
        for _ in 0..8 {
            for s in self.spans.iter().filter(|s| s.day == date.weekday()) {
                let h = i8::try_from(s.start_min / 60).ok()?;
                let m = i8::try_from(s.start_min % 60).ok()?;
                let Ok(start) = date.at(h, m, 0, 0).to_zoned(self.tz.clone()) else {
                    continue;
                };
                let t = start.timestamp().as_second();
                if t > now && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            if best.is_some() {
                return best;
            }
            date = date.tomorrow().ok()?;
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("timestamp").as_second()
    }

    #[test]
    fn opening_hours_follow_the_campaign_time_zone() {
        let h =
            WeeklyHours::parse("Europe/Berlin", &["mon-fri 09:00-17:00".into()]).expect("hours");
        // Monday 2026-11-23 08:30 UTC is 09:30 in Berlin (CET, UTC+1).
        assert!(h.is_open(at("2026-11-23T08:30:00Z")));
        assert!(!h.is_open(at("2026-11-23T07:30:00Z")));
        assert!(
            !h.is_open(at("2026-11-23T16:00:00Z")),
            "17:00 Berlin is closed"
        );
        // Saturday: closed; next opening is Monday 09:00 Berlin = 08:00 UTC.
        assert!(!h.is_open(at("2026-11-21T12:00:00Z")));
        assert_eq!(
            h.next_open(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-23T08:00:00Z"))
        );
    }

    #[test]
    fn bad_entries_name_the_fix() {
        assert!(matches!(
            WeeklyHours::parse("Mars/Base", &[]),
            Err(HoursError::TimeZone(_))
        ));
        for bad in [
            "mon 9-17",
            "fri-mon 09:00-17:00",
            "mon 17:00-09:00",
            "xyz 09:00-10:00",
            "mon",
        ] {
            assert!(
                matches!(
                    WeeklyHours::parse("UTC", &[bad.into()]),
                    Err(HoursError::Entry(_))
                ),
                "{bad}"
            );
        }
        assert!(WeeklyHours::always().is_open(0));
    }
}
