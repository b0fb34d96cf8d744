//! Business-hours calendars: SLA targets are counted in business minutes of a tenant's opening
//! hours, so due times and compliance need arithmetic that skips nights, weekends and holidays.
//!
//! Windows are local wall-clock times of the calendar's time zone. Each window boundary is mapped
//! to the first instant at which the wall clock reads that time or later: a repeated reading (a
//! DST fold) takes its earlier occurrence, and a skipped reading (a DST gap) becomes the moment
//! the clock jumps past it. That mapping is monotonic, so a day's windows become ordered,
//! non-overlapping intervals of real time, and business minutes are real elapsed minutes inside
//! them: a window spanning a spring-forward gap is shorter, one spanning a fall-back fold longer.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

use crate::domain::validation::{Errors, FieldError};

const MINUTES_PER_DAY: u16 = 24 * 60;

/// How many local days [`BusinessCalendar::add_business_minutes`] scans before giving up and
/// answering [`Timestamp::MAX`] ("never"). Validation guarantees an opening window every week and
/// holidays are a finite list, so a valid calendar only hits this bound when asked for more
/// business time than a century holds (e.g. `u32::MAX` minutes); it caps the work at about
/// 36,500 iterations of a cheap loop.
const HORIZON_DAYS: i64 = 36_525;

/// Serialized form stored in tenant settings and accepted over the API (JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone name, e.g. "America/Lima".
    #[schema(example = "America/Lima")]
    pub timezone: String,
    /// Opening windows per weekday; a missing/empty day is closed.
    pub weekly: WeeklySchedule,
    /// Local dates (YYYY-MM-DD) on which the service is closed all day.
    #[serde(default)]
    pub holidays: Vec<Date>,
}

/// Opening windows per weekday, in local time; a missing or empty day is closed.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct WeeklySchedule {
    #[serde(default)]
    pub monday: Vec<Window>,
    #[serde(default)]
    pub tuesday: Vec<Window>,
    #[serde(default)]
    pub wednesday: Vec<Window>,
    #[serde(default)]
    pub thursday: Vec<Window>,
    #[serde(default)]
    pub friday: Vec<Window>,
    #[serde(default)]
    pub saturday: Vec<Window>,
    #[serde(default)]
    pub sunday: Vec<Window>,
}

impl WeeklySchedule {
    /// The days Monday first, with their JSON field names.
    fn days(&self) -> [(&'static str, &[Window]); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }
}

/// Half-open local-time window "HH:MM"-"HH:MM"; end may be "24:00".
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Opening time, "00:00" to "23:59".
    #[schema(example = "08:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Closing time (exclusive), "00:01" to "24:00".
    #[schema(example = "18:00", pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub end: String,
}

impl Window {
    fn new(start: &str, end: &str) -> Self {
        Self {
            start: start.to_owned(),
            end: end.to_owned(),
        }
    }
}

impl Default for BusinessHours {
    /// America/Lima, Monday to Friday 08:00–18:00, Saturday 09:00–13:00, no holidays.
    fn default() -> Self {
        let weekday = || vec![Window::new("08:00", "18:00")];
        Self {
            timezone: "America/Lima".to_owned(),
            weekly: WeeklySchedule {
                monday: weekday(),
                tuesday: weekday(),
                wednesday: weekday(),
                thursday: weekday(),
                friday: weekday(),
                saturday: vec![Window::new("09:00", "13:00")],
                sunday: Vec::new(),
            },
            holidays: Vec::new(),
        }
    }
}

impl BusinessHours {
    /// Always-open calendar (24x7, UTC) for SLA targets that ignore business hours.
    pub fn always_open() -> Self {
        let all_day = || vec![Window::new("00:00", "24:00")];
        Self {
            timezone: "UTC".to_owned(),
            weekly: WeeklySchedule {
                monday: all_day(),
                tuesday: all_day(),
                wednesday: all_day(),
                thursday: all_day(),
                friday: all_day(),
                saturday: all_day(),
                sunday: all_day(),
            },
            holidays: Vec::new(),
        }
    }

    /// Validates and compiles into a calendar; reports every field at fault with JSON-path field
    /// names relative to this object, e.g. `timezone`, `weekly.monday[1].end`, `holidays[0]`.
    pub fn compile(&self) -> Result<BusinessCalendar, Vec<FieldError>> {
        let mut errors = Errors::new();

        let tz = TimeZone::get(&self.timezone)
            .map_err(|_| errors.add("timezone", "must be a known IANA time zone name"))
            .ok();

        let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
        let days = self.weekly.days();
        if days.iter().all(|(_, windows)| windows.is_empty()) {
            errors.add("weekly", "must have at least one opening window");
        }
        for (ranges, (day, windows)) in weekly.iter_mut().zip(days) {
            // (index, start, end) of the windows of this day accepted so far.
            let mut accepted: Vec<(usize, u16, u16)> = Vec::with_capacity(windows.len());
            for (i, window) in windows.iter().enumerate() {
                let field = format!("weekly.{day}[{i}]");
                let start = parse_hhmm(&window.start, false)
                    .map_err(|message| errors.add(format!("{field}.start"), message))
                    .ok();
                let end = parse_hhmm(&window.end, true)
                    .map_err(|message| errors.add(format!("{field}.end"), message))
                    .ok();
                let (Some(start), Some(end)) = (start, end) else {
                    continue;
                };
                if start >= end {
                    errors.add(format!("{field}.end"), "must be later than start");
                } else if let Some(&(j, ..)) =
                    accepted.iter().find(|&&(_, s, e)| start < e && s < end)
                {
                    errors.add(field, format!("must not overlap weekly.{day}[{j}]"));
                } else {
                    accepted.push((i, start, end));
                }
            }
            *ranges = accepted.into_iter().map(|(_, s, e)| (s, e)).collect();
            ranges.sort_unstable();
        }

        let mut holidays: BTreeMap<Date, usize> = BTreeMap::new();
        for (i, date) in self.holidays.iter().enumerate() {
            if let Some(first) = holidays.get(date) {
                errors.add(
                    format!("holidays[{i}]"),
                    format!("must not repeat holidays[{first}]"),
                );
            } else {
                holidays.insert(*date, i);
            }
        }

        match tz {
            Some(tz) if errors.is_empty() => Ok(BusinessCalendar {
                inner: Arc::new(Compiled {
                    tz,
                    weekly,
                    holidays: holidays.into_keys().collect(),
                }),
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

/// Parses "HH:MM" into minutes after midnight; "24:00" only when `is_end`.
fn parse_hhmm(text: &str, is_end: bool) -> Result<u16, &'static str> {
    let &[h1, h2, b':', m1, m2] = text.as_bytes() else {
        return Err("must be a time in HH:MM format");
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| u16::from(b - b'0'));
    let (Some(h1), Some(h2), Some(m1), Some(m2)) = (digit(h1), digit(h2), digit(m1), digit(m2))
    else {
        return Err("must be a time in HH:MM format");
    };
    let (hour, minute) = (h1 * 10 + h2, m1 * 10 + m2);
    match (hour, minute) {
        (0..=23, 0..=59) => Ok(hour * 60 + minute),
        (24, 0) if is_end => Ok(MINUTES_PER_DAY),
        _ if is_end => Err("must be between 00:00 and 24:00"),
        _ => Err("must be between 00:00 and 23:59"),
    }
}

/// Validated, ready-to-use calendar (cheap to clone).
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    tz: TimeZone,
    /// Monday first; minutes after local midnight, sorted and non-overlapping, end may be 1440.
    weekly: [Vec<(u16, u16)>; 7],
    /// Sorted, unique.
    holidays: Vec<Date>,
}

impl BusinessCalendar {
    /// The calendar's time zone, for rendering due times in local time.
    pub fn time_zone(&self) -> &TimeZone {
        &self.inner.tz
    }

    /// The instant when `minutes` business minutes have elapsed after `start`.
    ///
    /// The clock starts at `start` if open, else at the next opening; the sub-minute part of
    /// `start` is kept. Landing exactly on a closing time returns that closing instant. Answers
    /// [`Timestamp::MAX`] ("never") when the time cannot be found within a century of local days
    /// (36,525) or before the end of representable time.
    pub fn add_business_minutes(&self, start: Timestamp, minutes: u32) -> Timestamp {
        let first_day = self.inner.local_date(start);
        let last_day = first_day
            .checked_add(Span::new().days(HORIZON_DAYS))
            .unwrap_or(Date::MAX);
        let mut remaining = SignedDuration::from_mins(i64::from(minutes));
        for (open, close) in self.inner.open_intervals(start, last_day) {
            let length = close.duration_since(open);
            if remaining <= length {
                return open.checked_add(remaining).unwrap_or(Timestamp::MAX);
            }
            remaining -= length;
        }
        Timestamp::MAX
    }

    /// Business minutes elapsed between two instants (0 if end <= start), rounded down to whole
    /// minutes. Used later for SLA compliance. Work grows with the number of days in between.
    pub fn business_minutes_between(&self, start: Timestamp, end: Timestamp) -> u64 {
        if end <= start {
            return 0;
        }
        let mut total = SignedDuration::ZERO;
        for (open, close) in self
            .inner
            .open_intervals(start, self.inner.day_after_next(end))
        {
            if open >= end {
                break;
            }
            total += close.min(end).duration_since(open);
        }
        u64::try_from(total.as_mins()).unwrap_or(0)
    }

    /// Whether the instant falls inside opening hours.
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.inner
            .open_intervals(at, self.inner.day_after_next(at))
            .next()
            .is_some_and(|(open, _)| open == at)
    }
}

impl Compiled {
    fn local_date(&self, at: Timestamp) -> Date {
        self.tz.to_datetime(at).date()
    }

    /// A safe last day to scan for intervals that start at or before `at` (two days of slack
    /// covers a fold that takes the wall clock back across midnight).
    fn day_after_next(&self, at: Timestamp) -> Date {
        self.local_date(at)
            .checked_add(Span::new().days(2))
            .unwrap_or(Date::MAX)
    }

    /// Opening intervals `[open, close)` in increasing order, clipped to start at `from`,
    /// scanning local dates from the one containing `from` through `last_day`.
    ///
    /// Intervals of earlier dates cannot reach past `from`: a date's windows end no later than
    /// the first instant the clock reads the next midnight, which is not after `from`.
    fn open_intervals(&self, from: Timestamp, last_day: Date) -> OpenIntervals<'_> {
        OpenIntervals {
            calendar: self,
            next_day: Some(self.local_date(from)),
            last_day,
            day: Date::MIN,
            windows: [].iter(),
            frontier: from,
        }
    }

    fn is_holiday(&self, date: Date) -> bool {
        self.holidays.binary_search(&date).is_ok()
    }

    /// The first instant at which the local wall clock reads `minute` (after midnight, up to
    /// 1440) of `date` or later, clamped to the representable range of instants.
    fn boundary(&self, date: Date, minute: u16) -> Timestamp {
        let civil: DateTime = if minute >= MINUTES_PER_DAY {
            match date.tomorrow() {
                Ok(next) => next.at(0, 0, 0, 0),
                Err(_) => return Timestamp::MAX,
            }
        } else {
            // Both values fit: hour < 24, minute < 60.
            date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        };
        let ambiguous = self.tz.to_ambiguous_timestamp(civil);
        // Conversions fail only within a day of either end of time.
        let clamp = |instant: Result<Timestamp, jiff::Error>| {
            instant.unwrap_or(if civil.year() < 0 {
                Timestamp::MIN
            } else {
                Timestamp::MAX
            })
        };
        // `compatible` is the only reading for an unambiguous time and the earlier one in a fold.
        let compatible = clamp(ambiguous.compatible());
        if let AmbiguousOffset::Gap { .. } = ambiguous.offset() {
            // The clock skips this reading: the boundary is the transition that jumps past it,
            // which lies between the `earlier` and `compatible` (later) interpretations.
            let before = clamp(ambiguous.earlier());
            let transition = self.tz.following(before).next().map(|t| t.timestamp());
            return transition
                .filter(|&t| t <= compatible)
                .unwrap_or(compatible);
        }
        compatible
    }
}

/// Day-by-day walk over the opening windows of a calendar, as real-time intervals.
struct OpenIntervals<'c> {
    calendar: &'c Compiled,
    /// Next local date to expand; `None` once `last_day` or the end of time is reached.
    next_day: Option<Date>,
    last_day: Date,
    /// The date whose remaining `windows` are being walked.
    day: Date,
    windows: std::slice::Iter<'c, (u16, u16)>,
    /// Nothing before this instant is yielded; it only moves forward.
    frontier: Timestamp,
}

impl Iterator for OpenIntervals<'_> {
    type Item = (Timestamp, Timestamp);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(&(start, end)) = self.windows.next() {
                let open = self.calendar.boundary(self.day, start).max(self.frontier);
                let close = self.calendar.boundary(self.day, end);
                if open < close {
                    self.frontier = close;
                    return Some((open, close));
                }
                continue;
            }
            let day = self.next_day?;
            self.next_day = if day < self.last_day {
                day.tomorrow().ok()
            } else {
                None
            };
            self.day = day;
            self.windows = if self.calendar.is_holiday(day) {
                [].iter()
            } else {
                let weekday = day.weekday().to_monday_zero_offset().unsigned_abs();
                self.calendar.weekly[usize::from(weekday)].iter()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, date};

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    /// A local civil datetime ("2026-03-09T10:00") in `tz` as an instant.
    fn at(tz: &str, civil: &str) -> Timestamp {
        let civil: DateTime = civil.parse().unwrap();
        zone(tz)
            .to_ambiguous_timestamp(civil)
            .unambiguous()
            .unwrap()
    }

    fn lima(civil: &str) -> Timestamp {
        at("America/Lima", civil)
    }

    /// An instant rendered as local civil time of `tz`.
    fn local(tz: &str, instant: Timestamp) -> String {
        zone(tz).to_datetime(instant).to_string()
    }

    fn lima_local(instant: Timestamp) -> String {
        local("America/Lima", instant)
    }

    fn default_calendar() -> BusinessCalendar {
        BusinessHours::default().compile().unwrap()
    }

    fn hours(timezone: &str, weekly: WeeklySchedule) -> BusinessHours {
        BusinessHours {
            timezone: timezone.to_owned(),
            weekly,
            holidays: Vec::new(),
        }
    }

    fn windows(pairs: &[(&str, &str)]) -> Vec<Window> {
        pairs.iter().map(|(s, e)| Window::new(s, e)).collect()
    }

    fn fields(hours: &BusinessHours) -> Vec<String> {
        hours
            .compile()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn test_dates_are_the_weekdays_assumed() {
        assert_eq!(date(2026, 3, 9).weekday(), Weekday::Monday);
        assert_eq!(date(2026, 3, 13).weekday(), Weekday::Friday);
        assert_eq!(date(2026, 7, 28).weekday(), Weekday::Tuesday);
        assert_eq!(date(2026, 4, 4).weekday(), Weekday::Saturday);
        assert_eq!(date(2026, 9, 6).weekday(), Weekday::Sunday);
    }

    #[test]
    fn adds_within_one_window() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-09T10:00"), 90);
        assert_eq!(lima_local(due), "2026-03-09T11:30:00");
    }

    #[test]
    fn keeps_sub_minute_precision_of_start() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-09T10:00:30.25"), 60);
        assert_eq!(lima_local(due), "2026-03-09T11:00:30.25");
        // Carried across a night as well.
        let due = cal.add_business_minutes(lima("2026-03-09T17:59:30"), 2);
        assert_eq!(lima_local(due), "2026-03-10T08:01:30");
    }

    #[test]
    fn crosses_end_of_day_into_next_morning() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-09T17:00"), 120);
        assert_eq!(lima_local(due), "2026-03-10T09:00:00");
    }

    #[test]
    fn landing_on_closing_time_returns_closing_time() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-09T17:00"), 60);
        assert_eq!(lima_local(due), "2026-03-09T18:00:00");
        assert!(!cal.is_open(due));
    }

    #[test]
    fn friday_evening_runs_through_saturday_half_day_to_monday() {
        let cal = default_calendar();
        // Friday 17:00–18:00 (60) + Saturday 09:00–13:00 (240) + Monday 08:00–09:00 (60).
        let due = cal.add_business_minutes(lima("2026-03-13T17:00"), 360);
        assert_eq!(lima_local(due), "2026-03-16T09:00:00");
        // Saturday afternoon is closed until Monday.
        let due = cal.add_business_minutes(lima("2026-03-14T14:00"), 30);
        assert_eq!(lima_local(due), "2026-03-16T08:30:00");
    }

    #[test]
    fn holidays_are_skipped() {
        // Fiestas Patrias 2026: Tuesday 28 and Wednesday 29 July.
        let hours = BusinessHours {
            holidays: vec![date(2026, 7, 28), date(2026, 7, 29)],
            ..BusinessHours::default()
        };
        let cal = hours.compile().unwrap();
        let due = cal.add_business_minutes(lima("2026-07-27T17:00"), 120);
        assert_eq!(lima_local(due), "2026-07-30T09:00:00");
        assert!(!cal.is_open(lima("2026-07-28T10:00")));
        assert!(cal.is_open(lima("2026-07-30T10:00")));
        assert_eq!(
            cal.business_minutes_between(lima("2026-07-27T00:00"), lima("2026-07-31T00:00")),
            2 * 600
        );
    }

    #[test]
    fn start_before_opening_waits_for_opening() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-09T06:15"), 30);
        assert_eq!(lima_local(due), "2026-03-09T08:30:00");
    }

    #[test]
    fn zero_minutes_is_start_when_open_else_next_opening() {
        let cal = default_calendar();
        let open = lima("2026-03-09T10:00:05");
        assert_eq!(cal.add_business_minutes(open, 0), open);
        let due = cal.add_business_minutes(lima("2026-03-09T06:15"), 0);
        assert_eq!(lima_local(due), "2026-03-09T08:00:00");
        let due = cal.add_business_minutes(lima("2026-03-09T18:00"), 0);
        assert_eq!(lima_local(due), "2026-03-10T08:00:00");
    }

    #[test]
    fn start_on_closed_day_waits_for_next_open_day() {
        let cal = default_calendar();
        let due = cal.add_business_minutes(lima("2026-03-15T12:00"), 60);
        assert_eq!(lima_local(due), "2026-03-16T09:00:00");
    }

    #[test]
    fn window_ending_at_24_00_runs_into_next_day() {
        let weekly = WeeklySchedule {
            monday: windows(&[("18:00", "24:00")]),
            tuesday: windows(&[("00:00", "06:00")]),
            ..Default::default()
        };
        let cal = hours("America/Bogota", weekly).compile().unwrap();
        let bogota = |civil| at("America/Bogota", civil);
        let due = cal.add_business_minutes(bogota("2026-03-09T23:00"), 120);
        assert_eq!(local("America/Bogota", due), "2026-03-10T01:00:00");
        assert!(cal.is_open(bogota("2026-03-09T23:59:59")));
        assert!(cal.is_open(bogota("2026-03-10T00:00")));
        assert!(!cal.is_open(bogota("2026-03-10T06:00")));
        assert_eq!(
            cal.business_minutes_between(bogota("2026-03-09T12:00"), bogota("2026-03-10T12:00")),
            720
        );
        // Without a Tuesday window the 24:00 end closes at midnight.
        let weekly = WeeklySchedule {
            monday: windows(&[("18:00", "24:00")]),
            ..Default::default()
        };
        let cal = hours("America/Bogota", weekly).compile().unwrap();
        assert!(!cal.is_open(bogota("2026-03-10T00:00")));
        let due = cal.add_business_minutes(bogota("2026-03-09T23:00"), 60);
        assert_eq!(local("America/Bogota", due), "2026-03-10T00:00:00");
        let due = cal.add_business_minutes(bogota("2026-03-09T23:00"), 61);
        assert_eq!(local("America/Bogota", due), "2026-03-16T18:01:00");
    }

    #[test]
    fn lunch_break_is_skipped() {
        let weekday = || windows(&[("14:00", "18:00"), ("08:00", "13:00")]);
        let weekly = WeeklySchedule {
            monday: weekday(),
            tuesday: weekday(),
            ..Default::default()
        };
        let cal = hours("America/Lima", weekly).compile().unwrap();
        let due = cal.add_business_minutes(lima("2026-03-09T12:30"), 60);
        assert_eq!(lima_local(due), "2026-03-09T14:30:00");
        assert!(!cal.is_open(lima("2026-03-09T13:30")));
        let due = cal.add_business_minutes(lima("2026-03-09T13:30"), 0);
        assert_eq!(lima_local(due), "2026-03-09T14:00:00");
        assert_eq!(
            cal.business_minutes_between(lima("2026-03-09T00:00"), lima("2026-03-10T00:00")),
            540
        );
        // Tuesday 17:00 + 120 runs out of the week and resumes next Monday.
        let due = cal.add_business_minutes(lima("2026-03-10T17:00"), 120);
        assert_eq!(lima_local(due), "2026-03-16T09:00:00");
    }

    const SANTIAGO: &str = "America/Santiago";

    fn santiago(civil: &str) -> Timestamp {
        at(SANTIAGO, civil)
    }

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn santiago_2026_transitions_are_where_the_tests_assume() {
        let tz = zone(SANTIAGO);
        let mut transitions = tz
            .following(utc("2026-01-01T00:00Z"))
            .map(|t| t.timestamp());
        // 5 April: at 00:00 -03 the clock goes back to Saturday 23:00 -04 (fold).
        assert_eq!(transitions.next(), Some(utc("2026-04-05T03:00Z")));
        // 6 September: at 00:00 -04 the clock jumps to 01:00 -03 (gap).
        assert_eq!(transitions.next(), Some(utc("2026-09-06T04:00Z")));
    }

    #[test]
    fn dst_gap_shortens_windows_across_it() {
        // Saturday 5 to Sunday 6 September 2026: Sunday 00:00–01:00 does not exist.
        let weekly = WeeklySchedule {
            saturday: windows(&[("20:00", "24:00")]),
            sunday: windows(&[("00:00", "04:00")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        // 4 hours on Saturday, but Sunday 00:00–04:00 is only 3 real hours.
        assert_eq!(
            cal.business_minutes_between(utc("2026-09-05T12:00Z"), utc("2026-09-06T12:00Z")),
            7 * 60
        );
        let due = cal.add_business_minutes(santiago("2026-09-05T23:30"), 60);
        assert_eq!(due, utc("2026-09-06T04:30Z"));
        assert_eq!(local(SANTIAGO, due), "2026-09-06T01:30:00");
        assert!(cal.is_open(utc("2026-09-06T04:00Z")));
    }

    #[test]
    fn dst_gap_window_starting_inside_the_gap_opens_when_clock_jumps() {
        let weekly = WeeklySchedule {
            sunday: windows(&[("00:30", "02:00")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        let opening = cal.add_business_minutes(santiago("2026-09-05T12:00"), 0);
        // 00:30 never shows; the clock reads past it at 01:00 -03.
        assert_eq!(opening, utc("2026-09-06T04:00Z"));
        assert_eq!(local(SANTIAGO, opening), "2026-09-06T01:00:00");
        assert_eq!(
            cal.business_minutes_between(utc("2026-09-05T00:00Z"), utc("2026-09-07T00:00Z")),
            60
        );
        // The following Sunday is a normal 90-minute window.
        assert_eq!(
            cal.business_minutes_between(
                santiago("2026-09-13T00:00"),
                santiago("2026-09-14T00:00")
            ),
            90
        );
        // A window entirely inside the gap is empty that day, without panicking.
        let weekly = WeeklySchedule {
            sunday: windows(&[("00:15", "00:45")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        let next = cal.add_business_minutes(santiago("2026-09-05T12:00"), 0);
        assert_eq!(local(SANTIAGO, next), "2026-09-13T00:15:00");
    }

    #[test]
    fn dst_fold_lengthens_windows_across_it() {
        // Saturday 4 April 2026: 23:00–24:00 happens twice (-03, then -04).
        let weekly = WeeklySchedule {
            saturday: windows(&[("22:00", "24:00")]),
            sunday: windows(&[("00:00", "01:00")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        assert_eq!(
            cal.business_minutes_between(utc("2026-04-04T12:00Z"), utc("2026-04-05T12:00Z")),
            4 * 60
        );
        let due = cal.add_business_minutes(santiago("2026-04-04T22:00"), 120);
        // Two real hours after 22:00 -03 is the second 23:00, at -04.
        assert_eq!(due, utc("2026-04-05T03:00Z"));
        assert_eq!(
            due.to_zoned(zone(SANTIAGO)).to_string(),
            "2026-04-04T23:00:00-04:00[America/Santiago]"
        );
        let due = cal.add_business_minutes(santiago("2026-04-04T22:00"), 200);
        assert_eq!(local(SANTIAGO, due), "2026-04-05T00:20:00");
    }

    #[test]
    fn dst_fold_window_ending_inside_the_fold_closes_at_first_reading() {
        let weekly = WeeklySchedule {
            saturday: windows(&[("22:00", "23:30")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        assert_eq!(
            cal.business_minutes_between(utc("2026-04-04T12:00Z"), utc("2026-04-05T12:00Z")),
            90
        );
        // First 23:15 (-03) is open, the repeated 23:15 (-04) is not.
        assert!(cal.is_open(utc("2026-04-05T02:15Z")));
        assert!(!cal.is_open(utc("2026-04-05T03:15Z")));
        // A window starting inside the fold opens at the first reading.
        let weekly = WeeklySchedule {
            saturday: windows(&[("23:30", "24:00")]),
            ..Default::default()
        };
        let cal = hours(SANTIAGO, weekly).compile().unwrap();
        assert_eq!(
            cal.add_business_minutes(utc("2026-04-04T12:00Z"), 0),
            utc("2026-04-05T02:30Z")
        );
        assert_eq!(
            cal.business_minutes_between(utc("2026-04-04T12:00Z"), utc("2026-04-05T12:00Z")),
            90
        );
    }

    #[test]
    fn default_santiago_week_is_unaffected_by_transitions_at_midnight() {
        let hours = BusinessHours {
            timezone: SANTIAGO.to_owned(),
            ..BusinessHours::default()
        };
        let cal = hours.compile().unwrap();
        let due = cal.add_business_minutes(santiago("2026-04-03T17:00"), 360);
        assert_eq!(local(SANTIAGO, due), "2026-04-06T09:00:00");
        let due = cal.add_business_minutes(santiago("2026-09-04T17:00"), 360);
        assert_eq!(local(SANTIAGO, due), "2026-09-07T09:00:00");
    }

    /// Calendars and instants spread over a week (and the Santiago transitions) for round trips.
    fn sample_calendars() -> Vec<(BusinessCalendar, Timestamp)> {
        let lunch = || windows(&[("08:00", "13:00"), ("14:00", "18:00")]);
        let with_holidays = BusinessHours {
            holidays: vec![date(2026, 3, 11), date(2026, 3, 12)],
            ..BusinessHours::default()
        };
        let night = WeeklySchedule {
            friday: windows(&[("20:00", "24:00")]),
            saturday: windows(&[("00:00", "02:00"), ("22:00", "24:00")]),
            sunday: windows(&[("00:00", "04:00"), ("07:30", "07:45")]),
            ..Default::default()
        };
        vec![
            (default_calendar(), lima("2026-03-09T00:00")),
            (with_holidays.compile().unwrap(), lima("2026-03-09T00:00")),
            (
                hours(
                    "America/Bogota",
                    WeeklySchedule {
                        monday: lunch(),
                        wednesday: lunch(),
                        friday: lunch(),
                        ..Default::default()
                    },
                )
                .compile()
                .unwrap(),
                at("America/Bogota", "2026-03-09T00:00"),
            ),
            (
                hours(SANTIAGO, night.clone()).compile().unwrap(),
                santiago("2026-04-01T00:00"),
            ),
            (
                hours(SANTIAGO, night).compile().unwrap(),
                santiago("2026-09-02T00:00"),
            ),
            (
                BusinessHours::always_open().compile().unwrap(),
                utc("2026-03-09T00:00Z"),
            ),
        ]
    }

    #[test]
    fn business_minutes_between_inverts_add_business_minutes() {
        for (cal, week_start) in sample_calendars() {
            // Every 37 minutes and 11 seconds over eight days.
            let starts =
                (0..310).map(|i| week_start + SignedDuration::from_secs(i * (37 * 60 + 11)));
            for start in starts {
                for minutes in [0, 1, 59, 60, 61, 240, 599, 600, 601, 1441, 5000] {
                    let due = cal.add_business_minutes(start, minutes);
                    assert!(due >= start);
                    assert_eq!(
                        cal.business_minutes_between(start, due),
                        u64::from(minutes),
                        "{cal:?} {start} + {minutes} = {due}"
                    );
                    // Nothing earlier would do: one second less is one minute short.
                    if minutes > 0 {
                        let before = due - SignedDuration::from_secs(1);
                        assert!(cal.business_minutes_between(start, before) < u64::from(minutes));
                    }
                }
            }
        }
    }

    #[test]
    fn zero_minutes_agrees_with_is_open() {
        for (cal, week_start) in sample_calendars() {
            for i in 0..(8 * 24 * 4) {
                let t = week_start + SignedDuration::from_mins(i * 15);
                assert_eq!(cal.add_business_minutes(t, 0) == t, cal.is_open(t), "{t}");
                let elapsed = cal.business_minutes_between(t, t + SignedDuration::from_mins(1));
                assert_eq!(elapsed == 1, cal.is_open(t), "{t}");
            }
        }
    }

    #[test]
    fn business_minutes_between_edge_cases() {
        let cal = default_calendar();
        let t = lima("2026-03-09T10:00");
        assert_eq!(cal.business_minutes_between(t, t), 0);
        assert_eq!(
            cal.business_minutes_between(t, t - SignedDuration::from_mins(5)),
            0
        );
        assert_eq!(
            cal.business_minutes_between(t, t + SignedDuration::from_secs(59)),
            0
        );
        assert_eq!(
            cal.business_minutes_between(t, t + SignedDuration::from_secs(61)),
            1
        );
        // A whole default week: 5 × 600 + 240.
        assert_eq!(
            cal.business_minutes_between(lima("2026-03-09T00:00"), lima("2026-03-16T00:00")),
            3240
        );
    }

    #[test]
    fn always_open_counts_every_minute() {
        let cal = BusinessHours::always_open().compile().unwrap();
        let t = utc("2026-03-14T23:59:30Z");
        assert!(cal.is_open(t));
        assert_eq!(
            cal.add_business_minutes(t, 1),
            t + SignedDuration::from_mins(1)
        );
        assert_eq!(
            cal.add_business_minutes(t, 3 * 1440),
            t + SignedDuration::from_hours(72)
        );
        assert_eq!(
            cal.business_minutes_between(t, t + SignedDuration::from_hours(50)),
            3000
        );
    }

    #[test]
    fn out_of_range_requests_saturate_without_panicking() {
        let cal = default_calendar();
        // More business time than the horizon holds.
        assert_eq!(
            cal.add_business_minutes(lima("2026-03-09T10:00"), u32::MAX),
            Timestamp::MAX
        );
        let always = BusinessHours::always_open().compile().unwrap();
        assert_eq!(
            always.add_business_minutes(Timestamp::MAX, 10),
            Timestamp::MAX
        );
        assert!(!cal.is_open(Timestamp::MAX));
        assert!(!cal.is_open(Timestamp::MIN));
        assert!(always.is_open(Timestamp::MIN));
        assert_eq!(
            always.business_minutes_between(
                Timestamp::MAX - SignedDuration::from_hours(1),
                Timestamp::MAX
            ),
            60
        );
        assert_eq!(
            always.add_business_minutes(Timestamp::MIN, 60),
            Timestamp::MIN + SignedDuration::from_hours(1)
        );
    }

    #[test]
    fn default_and_always_open_compile() {
        let cal = default_calendar();
        assert_eq!(cal.time_zone().iana_name(), Some("America/Lima"));
        assert!(cal.is_open(lima("2026-03-14T12:59")));
        assert!(!cal.is_open(lima("2026-03-14T13:00")));
        assert!(!cal.is_open(lima("2026-03-15T12:00")));
        let always = BusinessHours::always_open().compile().unwrap();
        assert_eq!(always.time_zone().iana_name(), Some("UTC"));
    }

    #[test]
    fn unknown_time_zone_is_reported() {
        for name in ["Mars/Olympus_Mons", "", "Lima"] {
            let hours = BusinessHours {
                timezone: name.to_owned(),
                ..BusinessHours::default()
            };
            let errors = hours.compile().unwrap_err();
            assert_eq!(
                errors,
                vec![FieldError::new(
                    "timezone",
                    "must be a known IANA time zone name"
                )]
            );
        }
    }

    #[test]
    fn malformed_times_are_reported_per_field() {
        let cases = [
            (
                "8:00",
                "18:00",
                "weekly.monday[0].start",
                "must be a time in HH:MM format",
            ),
            (
                "08:00",
                "18h00",
                "weekly.monday[0].end",
                "must be a time in HH:MM format",
            ),
            (
                "08:00 ",
                "18:00",
                "weekly.monday[0].start",
                "must be a time in HH:MM format",
            ),
            (
                "+8:00",
                "18:00",
                "weekly.monday[0].start",
                "must be a time in HH:MM format",
            ),
            (
                "08:60",
                "18:00",
                "weekly.monday[0].start",
                "must be between 00:00 and 23:59",
            ),
            (
                "24:00",
                "24:00",
                "weekly.monday[0].start",
                "must be between 00:00 and 23:59",
            ),
            (
                "08:00",
                "24:30",
                "weekly.monday[0].end",
                "must be between 00:00 and 24:00",
            ),
            (
                "08:00",
                "25:00",
                "weekly.monday[0].end",
                "must be between 00:00 and 24:00",
            ),
            (
                "18:00",
                "08:00",
                "weekly.monday[0].end",
                "must be later than start",
            ),
            (
                "08:00",
                "08:00",
                "weekly.monday[0].end",
                "must be later than start",
            ),
        ];
        for (start, end, field, message) in cases {
            let mut hours = BusinessHours::default();
            hours.weekly.monday = windows(&[(start, end)]);
            assert_eq!(
                hours.compile().unwrap_err(),
                vec![FieldError::new(field, message)],
                "{start}-{end}"
            );
        }
        for (start, end) in [("00:00", "00:01"), ("23:59", "24:00"), ("00:00", "24:00")] {
            let mut hours = BusinessHours::default();
            hours.weekly.monday = windows(&[(start, end)]);
            assert!(hours.compile().is_ok(), "{start}-{end}");
        }
    }

    #[test]
    fn overlapping_windows_report_the_later_one() {
        let mut hours = BusinessHours::default();
        hours.weekly.wednesday =
            windows(&[("08:00", "12:00"), ("13:00", "18:00"), ("11:00", "14:00")]);
        assert_eq!(
            hours.compile().unwrap_err(),
            vec![FieldError::new(
                "weekly.wednesday[2]",
                "must not overlap weekly.wednesday[0]"
            )]
        );
        // Touching windows do not overlap; order in the list does not matter.
        hours.weekly.wednesday = windows(&[("13:00", "18:00"), ("08:00", "13:00")]);
        let cal = hours.compile().unwrap();
        assert_eq!(
            cal.business_minutes_between(lima("2026-03-11T00:00"), lima("2026-03-12T00:00")),
            600
        );
        // A duplicate window overlaps too.
        hours.weekly.friday = windows(&[("08:00", "18:00"), ("08:00", "18:00")]);
        assert_eq!(fields(&hours), ["weekly.friday[1]"]);
    }

    #[test]
    fn empty_week_is_reported() {
        let hours = hours("America/Lima", WeeklySchedule::default());
        assert_eq!(
            hours.compile().unwrap_err(),
            vec![FieldError::new(
                "weekly",
                "must have at least one opening window"
            )]
        );
    }

    #[test]
    fn duplicate_holidays_are_reported() {
        let hours = BusinessHours {
            holidays: vec![date(2026, 1, 1), date(2026, 7, 28), date(2026, 1, 1)],
            ..BusinessHours::default()
        };
        assert_eq!(
            hours.compile().unwrap_err(),
            vec![FieldError::new(
                "holidays[2]",
                "must not repeat holidays[0]"
            )]
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let hours = BusinessHours {
            timezone: "Nowhere/Special".to_owned(),
            weekly: WeeklySchedule {
                monday: windows(&[("08:00", "12:00"), ("7:00", "09:00"), ("10:00", "11:00")]),
                sunday: windows(&[("10:00", "09:00")]),
                ..Default::default()
            },
            holidays: vec![date(2026, 5, 1), date(2026, 5, 1)],
        };
        assert_eq!(
            fields(&hours),
            [
                "timezone",
                "weekly.monday[1].start",
                "weekly.monday[2]",
                "weekly.sunday[0].end",
                "holidays[1]",
            ]
        );
    }

    #[test]
    fn default_json_round_trips() {
        let json = serde_json::to_value(BusinessHours::default()).unwrap();
        assert_eq!(json["timezone"], "America/Lima");
        assert_eq!(
            json["weekly"]["monday"],
            serde_json::json!([{ "start": "08:00", "end": "18:00" }])
        );
        assert_eq!(
            json["weekly"]["saturday"],
            serde_json::json!([{ "start": "09:00", "end": "13:00" }])
        );
        assert_eq!(json["weekly"]["sunday"], serde_json::json!([]));
        assert_eq!(json["holidays"], serde_json::json!([]));
        let back: BusinessHours = serde_json::from_value(json).unwrap();
        assert_eq!(back, BusinessHours::default());
    }

    #[test]
    fn json_defaults_missing_days_and_holidays() {
        let hours: BusinessHours = serde_json::from_str(
            r#"{"timezone":"America/Bogota","weekly":{"monday":[{"start":"09:00","end":"17:00"}]}}"#,
        )
        .unwrap();
        assert_eq!(hours.weekly.monday, windows(&[("09:00", "17:00")]));
        assert!(hours.weekly.tuesday.is_empty());
        assert!(hours.holidays.is_empty());
        let with_holiday: BusinessHours = serde_json::from_str(
            r#"{"timezone":"UTC","weekly":{"sunday":[{"start":"00:00","end":"24:00"}]},"holidays":["2026-12-25"]}"#,
        )
        .unwrap();
        assert_eq!(with_holiday.holidays, vec![date(2026, 12, 25)]);
        assert_eq!(
            serde_json::to_value(&with_holiday).unwrap()["holidays"],
            serde_json::json!(["2026-12-25"])
        );
    }

    #[test]
    fn json_rejects_unknown_fields_and_bad_dates() {
        let bad = [
            r#"{"timezone":"UTC","weekly":{},"extra":1}"#,
            r#"{"timezone":"UTC","weekly":{"funday":[]}}"#,
            r#"{"timezone":"UTC","weekly":{"monday":[{"start":"08:00","end":"18:00","note":"x"}]}}"#,
            r#"{"timezone":"UTC","weekly":{},"holidays":["2026-02-30"]}"#,
            r#"{"weekly":{}}"#,
        ];
        for json in bad {
            assert!(
                serde_json::from_str::<BusinessHours>(json).is_err(),
                "{json}"
            );
        }
        let err = serde_json::from_str::<BusinessHours>(bad[0]).unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn openapi_schema_describes_the_json() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(BusinessHours::schema()).unwrap();
        let properties = &schema["properties"];
        assert!(properties["timezone"].is_object(), "{schema}");
        assert!(properties["holidays"].is_object(), "{schema}");
        assert!(properties["weekly"].is_object(), "{schema}");
    }
}
