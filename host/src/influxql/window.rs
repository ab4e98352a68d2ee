//! `GROUP BY time(interval[, offset])` windows as InfluxDB 1.x cuts them:
//! multiples of the interval since the epoch, moved by the offset and, with
//! `tz()`, by the zone's UTC offset (so `time(1d)` buckets start at local
//! midnight, DST changes included).

use chrono::{Offset, TimeZone};

#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub interval: i64,
    pub offset: i64,
    pub tz: Option<chrono_tz::Tz>,
}

impl Windows {
    /// The zone's offset from UTC at `t`, in ns.
    fn zone(&self, t: i64) -> i64 {
        let Some(tz) = self.tz else { return 0 };
        let secs = tz.timestamp_nanos(t).offset().fix().local_minus_utc();
        i64::from(secs) * 1_000_000_000
    }

    /// [start, end) of the window holding `t`.
    pub fn window(&self, t: i64) -> (i64, i64) {
        let t0 = t - self.offset;
        let zone = self.zone(t0);
        let dt = (t0 + zone).rem_euclid(self.interval);
        let mut start = t0.saturating_sub(dt);
        if self.tz.is_some() {
            // A DST change between `start` and `t`: InfluxDB moves the start by
            // it when it is shorter than the interval.
            let o = zone - self.zone(start);
            if o != 0 && o.abs() < self.interval {
                start += o;
            }
        }
        let mut end = t0.saturating_add(self.interval - dt);
        if self.tz.is_some() {
            let o = zone - self.zone(end);
            if o > 0 {
                if end - start + o < self.interval {
                    end += o;
                }
            } else if o < 0 {
                end += o;
            }
        }
        (start + self.offset, end + self.offset)
    }

    /// The start of every window overlapping [min, max], oldest first, or
    /// `None` when there would be more than `limit`.
    pub fn starts(&self, min: i64, max: i64, limit: u64) -> Option<Vec<i64>> {
        let estimate = (max.saturating_sub(min) / self.interval).unsigned_abs();
        if estimate > limit {
            return None;
        }
        let mut out = Vec::with_capacity(estimate as usize + 2);
        let mut t = self.window(min).0;
        while t <= max {
            out.push(t);
            let (_, end) = self.window(t);
            if end <= t {
                break;
            }
            t = end;
            if out.len() as u64 > limit {
                return None;
            }
        }
        Some(out)
    }

    /// Whether every window boundary falls on a whole minute, so per-minute
    /// rollups can be summed into windows.
    pub fn whole_minutes(&self) -> bool {
        const MINUTE: i64 = 60_000_000_000;
        self.interval % MINUTE == 0 && self.offset % MINUTE == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn windows_are_multiples_of_the_interval_since_the_epoch() {
        let w = Windows {
            interval: 10 * S,
            offset: 0,
            tz: None,
        };
        assert_eq!(w.window(1_700_000_003 * S), (1_700_000_000 * S, 1_700_000_010 * S));
        assert_eq!(w.window(-3 * S), (-10 * S, 0));
        let shifted = Windows {
            interval: 10 * S,
            offset: 3 * S,
            tz: None,
        };
        assert_eq!(
            shifted.window(1_700_000_002 * S),
            (1_699_999_993 * S, 1_700_000_003 * S)
        );
        assert_eq!(w.starts(5 * S, 25 * S, 100).unwrap(), [0, 10 * S, 20 * S]);
        assert_eq!(w.starts(0, 1_000_000 * S, 10), None);
    }

    #[test]
    fn days_start_at_local_midnight_with_tz() {
        let w = Windows {
            interval: 86_400 * S,
            offset: 0,
            tz: Some(chrono_tz::Europe::Berlin),
        };
        // 2024-06-01T12:00:00Z is 14:00 in Berlin (UTC+2): the day began at 2024-05-31T22:00:00Z.
        let noon = 1_717_243_200 * S;
        assert_eq!(w.window(noon).0, noon - 14 * 3600 * S);
        // The day of the spring DST change (2024-03-31) is 23 hours long.
        let (start, end) = w.window(1_711_886_400 * S); // 2024-03-31T12:00:00Z
        assert_eq!(start, 1_711_839_600 * S); // 2024-03-30T23:00:00Z = local midnight (UTC+1)
        assert_eq!(end - start, 23 * 3600 * S);
    }
}
