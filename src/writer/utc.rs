//! UTC calendar dates for run directories and run ids, without a date crate.

/// A moment broken down into UTC calendar fields, millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl UtcTime {
    pub fn from_unix_millis(millis: u128) -> UtcTime {
        let secs = i64::try_from(millis / 1000).unwrap_or(i64::MAX / 2);
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
            millis: (millis % 1000) as u32,
        }
    }

    /// `YYYYMMDD`, the day folder under `runs/`.
    pub fn date(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `HHMMSS`, the time folder under the day folder.
    pub fn time(&self) -> String {
        format!("{:02}{:02}{:02}", self.hour, self.minute, self.second)
    }
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, exact for every `i64` day count we use).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UtcTime {
        UtcTime::from_unix_millis(u128::from(secs) * 1000)
    }

    #[test]
    fn known_dates() {
        // `date -u -d @N +%Y%m%d%H%M%S`
        let cases = [
            (0, "19700101", "000000"),
            (951_782_400, "20000229", "000000"), // leap day of a leap century
            (1_762_266_612, "20251104", "143012"),
            (1_798_761_599, "20261231", "235959"),
            (1_798_761_600, "20270101", "000000"),
            (4_107_542_400, "21000301", "000000"), // 2100 is not a leap year
            (4_107_456_000, "21000228", "000000"),
        ];
        for (secs, date, time) in cases {
            let t = at(secs);
            assert_eq!(
                (t.date().as_str(), t.time().as_str()),
                (date, time),
                "{secs}"
            );
        }
    }

    #[test]
    fn every_day_for_four_centuries_is_consecutive() {
        let (mut y, mut m, mut d) = (1970, 1, 1);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn millis_are_kept() {
        let t = UtcTime::from_unix_millis(1_762_266_612_481);
        assert_eq!((t.second, t.millis), (12, 481));
    }

    #[test]
    fn far_future_times_do_not_panic() {
        let t = UtcTime::from_unix_millis(u128::MAX);
        assert!(t.year > 9999);
    }
}
