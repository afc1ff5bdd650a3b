//! Whole-population tests: determinism, uniqueness, realism and consistency of the links.
//!
//! The statistical checks use seed 42 and 200,000 records, like the acceptance check of `dancuctl gen`; they print
//! the figures they check (`cargo test --release -p dancu-synthetic -- --nocapture`).

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::sync::OnceLock;

use dancu_cluster_config::provinces::PROVINCES;
use dancu_proto::v1::{Citizen, Date, LifeStatus, MaritalStatus, Sex};
use unicode_normalization::is_nfc;

use crate::calendar::{Day, AS_OF};
use crate::household::ChunkBuilder;
use crate::ids::{CHUNK_RECORDS, RECORDS_MAX};
use crate::person::Chunk;
use crate::{GenError, Population};

const STATS_SEED: u64 = 42;
const STATS_COUNT: u64 = 200_000;

fn json(seed: u64, count: u64, threads: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let stats =
        Population::new(seed, count).expect("within capacity").write_json(threads, &mut out).expect("in memory");
    assert_eq!(stats.n_records, count);
    assert_eq!(stats.n_bytes, out.len() as u64);
    out
}

/// The seed-42 sample, generated once for all statistical tests.
fn sample() -> &'static [Citizen] {
    static SAMPLE: OnceLock<Vec<Citizen>> = OnceLock::new();
    SAMPLE.get_or_init(|| Population::new(STATS_SEED, STATS_COUNT).expect("within capacity").citizens().collect())
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

fn day(date: Option<&Date>) -> Day {
    let date = date.expect("date set");
    Day { year: date.year as u16, month: date.month as u8, day: date.day as u8 }
}

#[test]
fn same_seed_gives_the_same_bytes_on_any_number_of_threads() {
    // Four chunks, the last one partial.
    let count = 3 * CHUNK_RECORDS + 1_234;
    let reference = json(7, count, 1);
    assert_eq!(reference, json(7, count, 1));
    assert_eq!(reference, json(7, count, 2));
    assert_eq!(reference, json(7, count, 3));
    assert_eq!(reference, json(7, count, 8), "more threads than chunks");
    assert_ne!(reference, json(8, count, 1));
    assert_eq!(reference.iter().filter(|byte| **byte == b'\n').count() as u64, count);
    assert!(json(7, 0, 2).is_empty());
}

#[test]
fn lines_are_the_records_in_order() {
    let population = Population::new(3, 5_000).expect("within capacity");
    let text = String::from_utf8(json(3, 5_000, 2)).expect("UTF-8");
    for (line, citizen) in text.lines().zip(population.citizens()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(value["id"], citizen.id.as_str());
        assert_eq!(value["full_name"], citizen.full_name.as_str());
        assert_eq!(value["household_id"], citizen.household_id.as_str());
        let place = citizen.permanent_residence.as_ref().expect("set");
        assert_eq!(value["permanent_residence"]["address_line"], place.address_line.as_str());
        assert_eq!(value["permanent_residence"]["commune_code"], place.commune_code.as_str());
    }
    assert_eq!(text.lines().count(), 5_000);
}

#[test]
fn any_range_of_records_is_the_same_slice_of_the_whole() {
    let population = Population::new(9, 3 * CHUNK_RECORDS).expect("within capacity");
    let all: Vec<Citizen> = population.citizens().collect();
    let (start, end) = (CHUNK_RECORDS - 10, 2 * CHUNK_RECORDS + 5);
    let part: Vec<Citizen> = population.citizens_in(start..end).collect();
    assert_eq!(part, all[start as usize..end as usize]);
    assert_eq!(population.chunk_citizens(1), all[CHUNK_RECORDS as usize..2 * CHUNK_RECORDS as usize]);
}

#[test]
fn every_table_string_is_nfc_trimmed_and_short() {
    use crate::ethnicity::{ETHNIC_GROUPS, RELIGIONS};
    use crate::geography::STREETS;
    use crate::names::{FAMILY_NAMES, GIVEN_NAMES_FEMALE, GIVEN_NAMES_MALE, MIDDLE_NAMES_FEMALE, MIDDLE_NAMES_MALE};
    use crate::person::{Relationship, NATIONALITY};
    let relationships = [
        Relationship::Head,
        Relationship::Wife,
        Relationship::Husband,
        Relationship::Child,
        Relationship::Grandchild,
        Relationship::Father,
        Relationship::Mother,
        Relationship::OlderBrother,
        Relationship::OlderSister,
        Relationship::YoungerSibling,
    ];
    let texts = FAMILY_NAMES
        .iter()
        .chain(&ETHNIC_GROUPS)
        .chain(&RELIGIONS)
        .map(|(text, _)| *text)
        .chain(MIDDLE_NAMES_MALE.into_iter().chain(MIDDLE_NAMES_FEMALE))
        .chain(GIVEN_NAMES_MALE.into_iter().chain(GIVEN_NAMES_FEMALE))
        .chain(STREETS)
        .chain(PROVINCES.iter().map(|p| p.name))
        .chain(relationships.map(Relationship::text))
        .chain([NATIONALITY]);
    for text in texts {
        assert!(is_nfc(text), "{text:?} is not NFC");
        assert!(!text.is_empty() && text.trim() == text, "{text:?}");
        assert!(text.chars().count() <= 64 && !text.chars().any(char::is_control), "{text:?}");
    }
}

#[test]
fn too_many_records_is_a_clear_error() {
    assert!(Population::new(1, RECORDS_MAX).is_ok());
    let error = Population::new(1, RECORDS_MAX + 1).expect_err("over capacity");
    assert!(matches!(error, GenError::TooManyRecords { count, max } if count == RECORDS_MAX + 1 && max == RECORDS_MAX));
    assert!(error.to_string().contains("at most 256000000"), "{error}");
    let population = Population::new(1, 10).expect("small");
    assert!(matches!(population.write_json(0, &mut Vec::new()), Err(GenError::NoThreads)));
}

/// A writer that accepts `capacity` bytes and then fails.
struct FailingWriter {
    capacity: usize,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.capacity {
            return Err(io::Error::other("disk full"));
        }
        self.capacity -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_returned_and_stop_the_workers() {
    let population = Population::new(5, 20 * CHUNK_RECORDS).expect("within capacity");
    for threads in [1, 3] {
        let result = population.write_json(threads, &mut FailingWriter { capacity: 10_000_000 });
        assert!(matches!(result, Err(GenError::Io(_))), "{threads} threads: {result:?}");
    }
}

/// Personal IDs, legacy numbers and household IDs over a million records, and every ID consistent with its
/// record (province code exists, sex and century digit, year).
#[test]
fn identifiers_are_unique_and_consistent_over_a_million_records() {
    let population = Population::new(STATS_SEED, 1_000_000).expect("within capacity");
    let mut builder = ChunkBuilder::new(population.seed());
    let mut chunk = Chunk::default();
    let mut ids = HashSet::with_capacity(1_000_000);
    let mut legacy = HashSet::with_capacity(700_000);
    let mut households = HashSet::with_capacity(300_000);
    let codes: HashSet<u64> = PROVINCES.iter().map(|p| u64::from(p.code_number())).collect();
    for chunk_idx in 0..population.n_chunks() {
        builder.build(chunk_idx, population.chunk_len(chunk_idx), &mut chunk);
        for person in &chunk.people {
            assert!(ids.insert(person.id), "duplicate personal ID {:012}", person.id);
            if let Some(number) = person.legacy_number {
                assert!(legacy.insert(number), "duplicate legacy number {number:09}");
            }
            let century_digit = (person.id / 100_000_000) % 10;
            let year = 1900 + (century_digit / 2) * 100 + (person.id / 1_000_000) % 100;
            assert_eq!(century_digit % 2 == 1, person.female(), "{:012}", person.id);
            assert_eq!(year, u64::from(person.birth.year), "{:012}", person.id);
            assert!(codes.contains(&(person.id / 1_000_000_000)), "{:012}", person.id);
            assert_eq!(u64::from(person.birth_place.province().code_number()), person.id / 1_000_000_000);
        }
        for household in &chunk.households {
            assert!(households.insert(household.number), "duplicate household {:010}", household.number);
        }
    }
    assert_eq!(ids.len(), 1_000_000);
    assert!(legacy.len() > 300_000, "{} legacy numbers", legacy.len());
}

#[test]
fn provinces_follow_population() {
    let sample = sample();
    let by_id: HashSet<&str> = sample.iter().map(|c| &c.id[..3]).collect();
    let by_residence: HashSet<&str> =
        sample.iter().map(|c| c.permanent_residence.as_ref().expect("set").province_code.as_str()).collect();
    assert_eq!(by_id.len(), 63, "provinces in IDs");
    assert_eq!(by_residence.len(), 63, "provinces of residence");
    let total_thousands: u32 = PROVINCES.iter().map(|p| p.population_thousands).sum();
    for code in ["001", "079"] {
        let thousands = dancu_cluster_config::provinces::province(code).expect("listed").population_thousands;
        let expected = f64::from(thousands) / f64::from(total_thousands);
        let ids = share(sample.iter().filter(|c| c.id.starts_with(code)).count(), sample.len());
        let residents = share(
            sample.iter().filter(|c| c.permanent_residence.as_ref().is_some_and(|p| p.province_code == code)).count(),
            sample.len(),
        );
        eprintln!("province {code}: population {expected:.4}, IDs {ids:.4}, residents {residents:.4}");
        assert!((ids - expected).abs() < 0.03 && (residents - expected).abs() < 0.03);
    }
}

#[test]
fn people_look_like_vietnam() {
    let sample = sample();
    let n = sample.len();
    let female = share(sample.iter().filter(|c| c.sex == Sex::Female as i32).count(), n);
    let nguyen = share(sample.iter().filter(|c| c.full_name.starts_with("Nguyễn ")).count(), n);
    let kinh = share(sample.iter().filter(|c| c.ethnicity == "Kinh").count(), n);
    let no_religion = share(sample.iter().filter(|c| c.religion == "Không").count(), n);
    let blood_o = share(sample.iter().filter(|c| c.blood_type == dancu_proto::v1::BloodType::O as i32).count(), n);
    let deceased = share(sample.iter().filter(|c| c.status == LifeStatus::Deceased as i32).count(), n);
    let ethnicities: HashSet<&str> = sample.iter().map(|c| c.ethnicity.as_str()).collect();
    eprintln!(
        "female {female:.4}, Nguyễn {nguyen:.4}, Kinh {kinh:.4}, no religion {no_religion:.4}, blood O {blood_o:.4}, \
         deceased {deceased:.4}, {} ethnic groups",
        ethnicities.len()
    );
    assert!((0.45..=0.55).contains(&female));
    assert!((0.33..=0.43).contains(&nguyen));
    assert!((0.80..=0.90).contains(&kinh));
    assert!((0.82..=0.90).contains(&no_religion));
    assert!((0.39..=0.45).contains(&blood_o));
    assert!((0.01..=0.02).contains(&deceased));
    let deceased_among = |ages: std::ops::Range<u16>| {
        let group: Vec<&Citizen> =
            sample.iter().filter(|c| ages.contains(&day(c.date_of_birth.as_ref()).age_on(AS_OF))).collect();
        share(group.iter().filter(|c| c.status == LifeStatus::Deceased as i32).count(), group.len())
    };
    let (young, old) = (deceased_among(0..50), deceased_among(70..120));
    eprintln!("deceased among the under-50s {young:.4}, among the over-70s {old:.4}");
    assert!(old > 10.0 * young, "death comes mostly to the old");
    assert!(ethnicities.len() >= 40, "rare groups appear too");
    for citizen in sample.iter().step_by(7) {
        assert!(is_nfc(&citizen.full_name) && citizen.full_name.trim() == citizen.full_name);
        assert_eq!(citizen.full_name.split(' ').count(), 3, "{}", citizen.full_name);
        assert_eq!(citizen.nationality, "Việt Nam");
    }
}

#[test]
fn the_age_pyramid_is_wide_below_forty_and_narrow_above_eighty_five() {
    // The census counts the living; the register also keeps the dead.
    let sample: Vec<&Citizen> = sample().iter().filter(|c| c.status == LifeStatus::Alive as i32).collect();
    let mut by_decade = [0usize; 11];
    for citizen in &sample {
        let age = day(citizen.date_of_birth.as_ref()).age_on(AS_OF);
        by_decade[usize::from(age / 10).min(10)] += 1;
    }
    let shares: Vec<String> = by_decade.iter().map(|n| format!("{:.3}", share(*n, sample.len()))).collect();
    eprintln!("age by decade 0-9, 10-19, ..., 100+: {}", shares.join(" "));
    let under_40 = share(by_decade[..4].iter().sum(), sample.len());
    let over_50 = share(by_decade[5..].iter().sum(), sample.len());
    let over_85 =
        share(sample.iter().filter(|c| day(c.date_of_birth.as_ref()).age_on(AS_OF) >= 85).count(), sample.len());
    eprintln!("under 40 {under_40:.3}, 50 and over {over_50:.3}, 85 and over {over_85:.4}");
    assert!((0.55..=0.70).contains(&under_40), "census 2019: about 62 % under 40");
    assert!((0.18..=0.32).contains(&over_50), "census 2019: about 25 % aged 50 or more");
    assert!(over_85 < 0.02, "census 2019: about 1 % aged 85 or more");
    for decade in 0..4 {
        assert!(by_decade[decade] > by_decade[6], "each decade under 40 outnumbers the sixties");
    }
}

#[test]
fn dates_are_valid_and_ordered() {
    let earliest = Day { year: 1900, month: 1, day: 1 };
    for citizen in sample() {
        let born = day(citizen.date_of_birth.as_ref());
        assert!(born >= earliest && born <= AS_OF, "{}", citizen.id);
        if citizen.status == LifeStatus::Deceased as i32 {
            let died = day(citizen.status_date.as_ref());
            assert!(died >= born && died <= AS_OF, "{}", citizen.id);
        } else {
            assert_eq!(citizen.status, LifeStatus::Alive as i32);
            assert!(citizen.status_date.is_none());
        }
        if let Some(issued) = citizen.id_card_issue_date.as_ref() {
            let issued = day(Some(issued));
            assert!(issued >= born.plus_years(14) && issued <= AS_OF, "{}", citizen.id);
            assert_eq!(citizen.id_card_number, citizen.id);
        }
        if !citizen.legacy_id_number.is_empty() {
            assert_eq!(citizen.legacy_id_number.len(), 9);
        }
    }
}

#[test]
fn households_share_a_residence_and_have_realistic_sizes() {
    let sample = sample();
    let mut households: HashMap<&str, Vec<&Citizen>> = HashMap::new();
    for citizen in sample {
        households.entry(citizen.household_id.as_str()).or_default().push(citizen);
    }
    let mut n_multi = 0;
    let mut n_spanning = 0;
    for (household_id, members) in &households {
        assert!(household_id.len() == 12 && household_id.starts_with("HK"));
        assert!((1..=8).contains(&members.len()), "{household_id}: {} members", members.len());
        let residence = &members[0].permanent_residence;
        assert!(members.iter().all(|m| &m.permanent_residence == residence), "{household_id}");
        assert_eq!(members.iter().filter(|m| m.relationship_to_head == "Chủ hộ").count(), 1, "{household_id}");
        n_multi += usize::from(members.len() > 1);
        let codes: HashSet<&str> = members.iter().map(|m| &m.id[..3]).collect();
        n_spanning += usize::from(codes.len() > 1);
    }
    let multi = share(n_multi, households.len());
    let spanning = share(n_spanning, households.len());
    let mean = sample.len() as f64 / households.len() as f64;
    eprintln!(
        "{} households, mean size {mean:.2}, {multi:.3} with more than one member, {spanning:.3} spanning provinces",
        households.len()
    );
    assert!(multi >= 0.30);
    assert!((3.0..=4.0).contains(&mean));
    assert!((0.08..=0.25).contains(&spanning));
    let relationships: HashSet<&str> = sample.iter().map(|c| c.relationship_to_head.as_str()).collect();
    let known = ["Chủ hộ", "Vợ", "Chồng", "Con", "Cháu", "Bố", "Mẹ", "Anh", "Chị", "Em"];
    assert!(relationships.iter().all(|r| known.contains(r)), "{relationships:?}");
    assert_eq!(relationships.len(), known.len(), "every relationship occurs: {relationships:?}");
}

/// Parent, spouse and representative links name records that exist, with the same name; spouses point at each
/// other and are married; parents were 18 to 45 when the child was born.
#[test]
fn links_point_at_existing_records() {
    let sample = sample();
    let by_id: HashMap<&str, &Citizen> = sample.iter().map(|c| (c.id.as_str(), c)).collect();
    let (mut n_parent_links, mut n_spouse_links) = (0, 0);
    for citizen in sample {
        let born = day(citizen.date_of_birth.as_ref());
        for (parent, sex) in [(&citizen.father, Sex::Male), (&citizen.mother, Sex::Female)] {
            let Some(parent) = parent.as_ref().filter(|p| !p.id.is_empty()) else { continue };
            let record = by_id.get(parent.id.as_str()).unwrap_or_else(|| panic!("{}: parent missing", citizen.id));
            assert_eq!(record.full_name, parent.full_name);
            assert_eq!(record.sex, sex as i32);
            assert_eq!(record.household_id, citizen.household_id);
            let parent_age = day(record.date_of_birth.as_ref()).age_on(born);
            assert!((17..=45).contains(&parent_age), "{}: parent aged {parent_age}", citizen.id);
            n_parent_links += 1;
        }
        if let Some(spouse) = citizen.spouse.as_ref().filter(|s| !s.id.is_empty()) {
            let record = by_id.get(spouse.id.as_str()).unwrap_or_else(|| panic!("{}: spouse missing", citizen.id));
            assert_eq!(record.full_name, spouse.full_name);
            assert_eq!(record.spouse.as_ref().map(|s| s.id.as_str()), Some(citizen.id.as_str()));
            assert_ne!(record.sex, citizen.sex);
            assert_eq!(citizen.marital_status, MaritalStatus::Married as i32, "{}", citizen.id);
            assert_eq!(record.status, citizen.status, "{}: a couple is alive or dead together", citizen.id);
            n_spouse_links += 1;
        }
        if let Some(representative) = citizen.legal_representative.as_ref() {
            let record = by_id.get(representative.id.as_str()).expect("representative exists");
            assert_eq!(record.full_name, representative.full_name);
            assert_eq!(record.status, LifeStatus::Alive as i32);
            assert!(born.age_on(AS_OF) < 18);
        }
    }
    eprintln!("{n_parent_links} parent links, {n_spouse_links} spouse links");
    assert!(n_parent_links > sample.len() / 4 && n_spouse_links > sample.len() / 4);
}
