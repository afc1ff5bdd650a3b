//! Calendar days: the fixed "as of" date of the synthetic population and day arithmetic for drawing dates.
//!
//! Days are counted from 1970-01-01 (Howard Hinnant's civil-from-days algorithms), so "a date between A and B" is
//! one uniform integer draw and every drawn date is a real calendar date by construction.

use crate::rng::Rng;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// The date the synthetic population describes. Fixed, not "today", so a seed gives the same bytes on every
/// day it is run; set a little before the day this was written, so no drawn date lies in the future for a
/// validator that compares with the real clock.
pub const AS_OF: Day = Day { year: 2026, month: 11, day: 1 };

/// Earliest birth year a personal ID can encode (century digit 0/1: 1900-1999).
pub(crate) const BIRTH_YEAR_MIN: u16 = 1900;

/// The day CCCD (12-digit) identity cards began to be issued; earlier cards carried the 9-digit number.
pub(crate) const ID_CARD_FIRST_ISSUE: Day = Day { year: 2016, month: 1, day: 1 };

impl Day {
    /// Days since 1970-01-01.
    pub(crate) fn to_days(self) -> i32 {
        let (year, month, day) = (i32::from(self.year), i32::from(self.month), i32::from(self.day));
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_index = (month + 9) % 12; // March = 0
        let day_of_year = (153 * month_index + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub(crate) fn from_days(days: i32) -> Day {
        let days = days + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
        let year = year_of_era + era * 400 + i32::from(month <= 2);
        Day { year: year as u16, month: month as u8, day: day as u8 }
    }

    /// The same month and day `years` later; 29 February becomes 28 February in a common year.
    pub(crate) fn plus_years(self, years: u16) -> Day {
        let year = self.year + years;
        let day = if self.month == 2 && self.day == 29 && !is_leap(year) { 28 } else { self.day };
        Day { year, month: self.month, day }
    }

    /// Whole years of age on `at`.
    pub(crate) fn age_on(self, at: Day) -> u16 {
        let had_birthday = (at.month, at.day) >= (self.month, self.day);
        at.year.saturating_sub(self.year) - u16::from(!had_birthday && at.year > self.year)
    }
}

pub(crate) fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// A uniformly drawn day in `first..=last` (`first <= last`).
pub(crate) fn day_between(rng: &mut Rng, first: Day, last: Day) -> Day {
    let (lo, hi) = (first.to_days(), last.to_days());
    assert!(lo <= hi, "empty date window {first:?}..={last:?}");
    Day::from_days(lo + rng.below((hi - lo + 1) as u32) as i32)
}

/// A uniformly drawn birthday in `year`, never after [`AS_OF`].
pub(crate) fn day_in_year(rng: &mut Rng, year: u16) -> Day {
    assert!((BIRTH_YEAR_MIN..=AS_OF.year).contains(&year), "birth year {year} out of range");
    let last = if year == AS_OF.year { AS_OF } else { Day { year, month: 12, day: 31 } };
    day_between(rng, Day { year, month: 1, day: 1 }, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(day: Day, days: i32) {
        assert_eq!(day.to_days(), days, "{day:?}");
        assert_eq!(Day::from_days(days), day, "{days}");
    }

    #[test]
    fn day_numbers_match_known_dates() {
        check(Day { year: 1970, month: 1, day: 1 }, 0);
        check(Day { year: 2000, month: 2, day: 29 }, 11_016);
        check(Day { year: 2000, month: 3, day: 1 }, 11_017);
        check(Day { year: 1900, month: 1, day: 1 }, -25_567);
        check(Day { year: 2026, month: 11, day: 1 }, 20_758);
    }

    #[test]
    fn every_day_round_trips_and_is_a_calendar_date() {
        let mut previous = Day { year: 1899, month: 12, day: 31 };
        let first = Day { year: 1900, month: 1, day: 1 }.to_days();
        for days in first..=AS_OF.to_days() {
            let day = Day::from_days(days);
            assert_eq!(day.to_days(), days);
            assert!(day > previous);
            let month_days = [31, if is_leap(day.year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            assert!((1..=12).contains(&day.month) && day.day >= 1 && day.day <= month_days[day.month as usize - 1]);
            previous = day;
        }
    }

    #[test]
    fn ages_and_anniversaries() {
        let born = Day { year: 2000, month: 2, day: 29 };
        assert_eq!(born.plus_years(14), Day { year: 2014, month: 2, day: 28 });
        assert_eq!(born.plus_years(16), Day { year: 2016, month: 2, day: 29 });
        assert_eq!(born.age_on(Day { year: 2018, month: 2, day: 28 }), 17);
        assert_eq!(born.age_on(Day { year: 2018, month: 3, day: 1 }), 18);
        assert_eq!(born.age_on(born), 0);
    }
}
