//! Times as people read them: `3h ago`, `2026-11-01 12:00:00 CET`.
//!
//! Absolute times are in the local time zone (`TZ`, else the system's).

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

static LOCAL: LazyLock<TimeZone> = LazyLock::new(TimeZone::system);

/// Now, in epoch seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long before `now` the epoch time `then` was: `42s ago`, `5m ago`,
/// `3h ago`, `12d ago`, `2y ago`. A time slightly ahead (clocks of other
/// machines drift) reads `0s ago`; one further ahead `in 5m`.
pub fn age(then: f64, now: f64) -> String {
    let secs = now - then;
    if !secs.is_finite() {
        return "-".to_owned();
    }
    if secs <= -1.0 {
        return format!("in {}", span(-secs));
    }
    format!("{} ago", span(secs.max(0.0)))
}

/// A duration in its largest whole unit: `42s`, `5m`, `3h`, `12d`, `2y`.
fn span(secs: f64) -> String {
    let secs = secs as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        86_400..31_536_000 => format!("{}d", secs / 86_400),
        _ => format!("{}y", secs / 31_536_000),
    }
}

/// The local date and time of an epoch time, to the second, with the zone:
/// `2026-11-01 12:00:00 CET`.
pub fn datetime(epoch: f64) -> String {
    format_local(epoch, "%Y-%m-%d %H:%M:%S %Z")
}

/// The local date and time without the zone, for table cells:
/// `2026-11-01 12:00:00`.
pub fn datetime_short(epoch: f64) -> String {
    format_local(epoch, "%Y-%m-%d %H:%M:%S")
}

/// The local time of day: `12:00:03`.
pub fn clock(epoch: f64) -> String {
    format_local(epoch, "%H:%M:%S")
}

fn format_local(epoch: f64, format: &str) -> String {
    if !epoch.is_finite() {
        return "-".to_owned();
    }
    match Timestamp::from_microsecond((epoch * 1e6) as i64) {
        Ok(ts) => ts.to_zoned(LOCAL.clone()).strftime(format).to_string(),
        Err(_) => epoch.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_the_largest_whole_unit() {
        let now = 1_000_000_000.0;
        assert_eq!(age(now - 0.4, now), "0s ago");
        assert_eq!(age(now - 59.9, now), "59s ago");
        assert_eq!(age(now - 60.0, now), "1m ago");
        assert_eq!(age(now - 3.0 * 3600.0 - 5.0, now), "3h ago");
        assert_eq!(age(now - 86_400.0 * 12.0, now), "12d ago");
        assert_eq!(age(now - 86_400.0 * 800.0, now), "2y ago");
    }

    #[test]
    fn future_times_say_so_beyond_a_second() {
        let now = 1_000_000_000.0;
        assert_eq!(age(now + 0.5, now), "0s ago");
        assert_eq!(age(now + 300.0, now), "in 5m");
        assert_eq!(age(f64::NAN, now), "-");
    }

    #[test]
    fn absolute_times_have_date_time_and_zone() {
        let text = datetime(0.0);
        // The zone is the machine's; the shape is fixed.
        assert_eq!(&text[4..5], "-");
        assert!(text.len() >= "1970-01-01 00:00:00 X".len(), "{text}");
        assert_eq!(datetime(f64::INFINITY), "-");
    }
}
