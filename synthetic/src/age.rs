//! Ages: who heads a household, how far apart spouses are, when mothers give birth, who has died.
//!
//! The population's age pyramid is not drawn directly: it emerges from households (heads, their spouses, children
//! born when the parents were 18 to 45, sometimes a grandparent). The weights below are tuned so that it looks like
//! Vietnam's 2019 census: wide from 0 to 40, tapering after 50, few people over 85.

use crate::calendar::{day_in_year, Day, AS_OF, BIRTH_YEAR_MIN};
use crate::rng::{Rng, Weighted};

/// Oldest age drawn for anyone.
pub(crate) const AGE_MAX: u16 = 100;

/// Heads of households of two or more, by 5-year age group starting at 20.
const HEAD_AGE_GROUP_WEIGHTS: [u32; 14] = [6, 16, 24, 26, 26, 24, 22, 18, 14, 10, 6, 3, 2, 1];

/// People living alone, by 5-year age group starting at 20 (the first group is 18-24).
const SINGLE_AGE_GROUP_WEIGHTS: [u32; 15] = [24, 24, 18, 14, 12, 12, 14, 16, 18, 16, 12, 8, 5, 2, 1];

/// How many years the husband is older than the wife, from -5 to 15.
const HUSBAND_OLDER_BY_WEIGHTS: [u32; 21] = [1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 9, 7, 6, 5, 4, 3, 2, 2, 1, 1, 1];
const HUSBAND_OLDER_BY_MIN: i32 = -5;

/// The mother's age when a child is born, from 18 to 45.
const MOTHER_AGE_WEIGHTS: [u32; 28] =
    [3, 5, 7, 9, 11, 12, 12, 12, 11, 10, 9, 8, 7, 6, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1];
pub(crate) const PARENT_AGE_MIN: u16 = 18;
pub(crate) const PARENT_AGE_MAX: u16 = 45;

const _: () = assert!(MOTHER_AGE_WEIGHTS.len() == (PARENT_AGE_MAX - PARENT_AGE_MIN + 1) as usize);

/// Draws ages and birth dates.
#[derive(Debug)]
pub(crate) struct AgeDraws {
    head_group: Weighted,
    single_group: Weighted,
    husband_older_by: Weighted,
    mother_age: Weighted,
}

impl AgeDraws {
    pub(crate) fn new() -> AgeDraws {
        AgeDraws {
            head_group: Weighted::new(HEAD_AGE_GROUP_WEIGHTS),
            single_group: Weighted::new(SINGLE_AGE_GROUP_WEIGHTS),
            husband_older_by: Weighted::new(HUSBAND_OLDER_BY_WEIGHTS),
            mother_age: Weighted::new(MOTHER_AGE_WEIGHTS),
        }
    }

    /// Birth year of the head of a household of two or more.
    pub(crate) fn head_birth_year(&self, rng: &mut Rng) -> u16 {
        let age = 20 + 5 * self.head_group.sample(rng) as u16 + rng.below(5) as u16;
        AS_OF.year - age
    }

    /// Birth year of someone living alone (18 or older).
    pub(crate) fn single_birth_year(&self, rng: &mut Rng) -> u16 {
        let group = self.single_group.sample(rng) as u16;
        let age = if group == 0 { 18 + rng.below(7) as u16 } else { 20 + 5 * group + rng.below(5) as u16 };
        AS_OF.year - age.min(AGE_MAX)
    }

    /// Birth year of a spouse, from the head's, kept within adult ages.
    pub(crate) fn spouse_birth_year(&self, rng: &mut Rng, head_birth_year: u16, head_female: bool) -> u16 {
        let husband_older_by = self.husband_older_by.sample(rng) as i32 + HUSBAND_OLDER_BY_MIN;
        let delta = if head_female { -husband_older_by } else { husband_older_by };
        clamp_adult_birth_year(i32::from(head_birth_year) + delta)
    }

    /// Birth year of a child of parents born in `parent_birth_years` (the mother's first, if known), or `None`
    /// when no year has every parent between 18 and 45 and is not in the future.
    pub(crate) fn child_birth_year(&self, rng: &mut Rng, parent_birth_years: &[u16]) -> Option<u16> {
        let (lo, hi) = child_birth_window(parent_birth_years)?;
        for _ in 0..4 {
            let year = parent_birth_years[0] + PARENT_AGE_MIN + self.mother_age.sample(rng) as u16;
            if (lo..=hi).contains(&year) {
                return Some(year);
            }
        }
        Some(rng.between(u32::from(lo), u32::from(hi)) as u16)
    }

    /// Birth years of the father and mother of someone born in `child_birth_year`, both 18 to 45 at that birth;
    /// `None` for a parent who would now be older than [`AGE_MAX`] (or born before 1900).
    pub(crate) fn parent_birth_years(&self, rng: &mut Rng, child_birth_year: u16) -> (Option<u16>, Option<u16>) {
        let mother = child_birth_year - PARENT_AGE_MIN - self.mother_age.sample(rng) as u16;
        let husband_older_by = self.husband_older_by.sample(rng) as i32 + HUSBAND_OLDER_BY_MIN;
        let father = (i32::from(mother) - husband_older_by)
            .clamp(i32::from(child_birth_year - PARENT_AGE_MAX), i32::from(child_birth_year - PARENT_AGE_MIN));
        let earliest = (AS_OF.year - AGE_MAX).max(BIRTH_YEAR_MIN);
        let living_age = |year: u16| (year >= earliest).then_some(year);
        (living_age(father as u16), living_age(mother))
    }
}

/// Years in which a child of parents born in `parent_birth_years` can be born: every parent 18 to 45, not after
/// the "as of" year.
pub(crate) fn child_birth_window(parent_birth_years: &[u16]) -> Option<(u16, u16)> {
    let oldest = *parent_birth_years.iter().min()?;
    let youngest = *parent_birth_years.iter().max()?;
    let lo = youngest + PARENT_AGE_MIN;
    let hi = (oldest + PARENT_AGE_MAX).min(AS_OF.year);
    (lo <= hi).then_some((lo, hi))
}

/// An adult's birth year: 18 to 100 years before the "as of" year.
pub(crate) fn clamp_adult_birth_year(year: i32) -> u16 {
    year.clamp(i32::from(AS_OF.year - AGE_MAX), i32::from(AS_OF.year - 18)) as u16
}

/// A birthday in `year`.
pub(crate) fn birthday(rng: &mut Rng, year: u16) -> Day {
    day_in_year(rng, year)
}

/// Chance, per mille, that someone of this age (as it would be on the "as of" date) has died: a register keeps
/// the records of the dead, and most of them were old. Only members without a spouse in the household and not
/// heading one can die (see `household.rs`), about half of all people, hence rates above real mortality.
pub(crate) fn deceased_per_mille(age: u16) -> u32 {
    match age {
        0..50 => 6,
        50..60 => 40,
        60..70 => 130,
        70..80 => 320,
        80..90 => 550,
        _ => 750,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_respect_parent_ages() {
        assert_eq!(child_birth_window(&[1990, 1985]), Some((2008, 2026)));
        assert_eq!(child_birth_window(&[1960]), Some((1978, 2005)));
        assert_eq!(child_birth_window(&[2010]), None);
        assert_eq!(child_birth_window(&[1940, 2000]), None);
    }

    #[test]
    fn children_are_born_inside_the_window() {
        let ages = AgeDraws::new();
        let mut rng = Rng::from_key(11);
        for _ in 0..10_000 {
            let mother = rng.between(1950, 2000) as u16;
            let father = mother - rng.between(0, 8) as u16;
            if let Some(year) = ages.child_birth_year(&mut rng, &[mother, father]) {
                assert!(year >= mother + 18 && year <= father + 45 && year <= AS_OF.year, "{mother} {father} {year}");
            }
        }
    }
}
