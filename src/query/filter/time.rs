//! Time literals: UTC dates and date-times, and times relative to now.

use super::TimeLiteral;

/// Seconds in one `unit` (`s m h d w`).
pub(super) fn unit_seconds(unit: char) -> f64 {
    match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        _ => 604_800.0,
    }
}

/// `-7d`, `-12h`, `-30m`, `-45s`, `-2w`.
pub(super) fn parse_relative(raw: &str) -> Option<TimeLiteral> {
    let body = raw.strip_prefix('-')?;
    let unit = body.chars().last()?;
    if !matches!(unit, 's' | 'm' | 'h' | 'd' | 'w') {
        return None;
    }
    let digits = &body[..body.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount = digits.parse().ok()?;
    Some(TimeLiteral::Relative { amount, unit })
}

/// `YYYY-MM-DD`, optionally followed by `THH:MM` or `THH:MM:SS`, and an
/// optional `Z`; all UTC. Epoch seconds.
pub(super) fn parse_absolute(raw: &str) -> Option<f64> {
    let raw = raw.strip_suffix(['Z', 'z']).unwrap_or(raw);
    let (date, time) = match raw.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (raw, None),
    };
    let mut parts = date.split('-');
    let year: i64 = number(parts.next()?, 4)?;
    let month: u32 = number(parts.next()?, 2)?;
    let day: u32 = number(parts.next()?, 2)?;
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut seconds = 0i64;
    if let Some(time) = time {
        let mut parts = time.split(':');
        let hour: i64 = number(parts.next()?, 2)?;
        let minute: i64 = number(parts.next()?, 2)?;
        let second: i64 = match parts.next() {
            Some(s) => number(s, 2)?,
            None => 0,
        };
        if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        seconds = hour * 3600 + minute * 60 + second;
    }
    Some((days_from_civil(year, month, day) * 86_400 + seconds) as f64)
}

fn number<T: std::str::FromStr>(text: &str, width: usize) -> Option<T> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_epoch_seconds() {
        assert_eq!(parse_absolute("1970-01-01"), Some(0.0));
        assert_eq!(parse_absolute("2026-11-01"), Some(1_793_491_200.0));
        assert_eq!(
            parse_absolute("2026-11-01T12:00"),
            Some(1_793_491_200.0 + 43_200.0)
        );
        assert_eq!(
            parse_absolute("2026-11-01T12:00:30Z"),
            Some(1_793_491_200.0 + 43_230.0)
        );
        assert_eq!(parse_absolute("2024-02-29"), Some(1_709_164_800.0));
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2026-13-01",
            "2026-02-29",
            "2026-11-31",
            "2026-1-01",
            "2026-11-01T25:00",
            "2026-11-01T12",
            "20261101",
        ] {
            assert_eq!(parse_absolute(bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_times_need_a_minus_digits_and_a_unit() {
        assert_eq!(
            parse_relative("-7d"),
            Some(TimeLiteral::Relative {
                amount: 7,
                unit: 'd'
            })
        );
        assert_eq!(
            parse_relative("-30m"),
            Some(TimeLiteral::Relative {
                amount: 30,
                unit: 'm'
            })
        );
        for bad in ["7d", "-d", "-7x", "-7.5h", "--7d"] {
            assert_eq!(parse_relative(bad), None, "{bad}");
        }
        let week = TimeLiteral::Relative {
            amount: 2,
            unit: 'w',
        };
        assert_eq!(week.resolve(1_000_000.0), 1_000_000.0 - 1_209_600.0);
    }
}
