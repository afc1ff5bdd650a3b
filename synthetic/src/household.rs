//! Households: who lives together and how they are related. Every record is generated as a member of one.
//!
//! A household has a head ("Chủ hộ"), often a spouse of the other sex, children born when both parents were 18 to
//! 45, sometimes a parent of the head (three generations under one roof are common in Vietnam), sometimes an adult
//! child with grandchildren ("Cháu"), or siblings of the head. Members share the permanent residence; links
//! (father, mother, spouse, legal representative) point at other members by ID and name, or name someone outside
//! the register by name only. Spouses and grandparents are sometimes registered in another province, so a
//! household's personal IDs may carry several province codes.

use std::sync::OnceLock;

use crate::age::{birthday, child_birth_window, clamp_adult_birth_year, deceased_per_mille, AgeDraws, AGE_MAX};
use crate::calendar::{day_between, Day, AS_OF, ID_CARD_FIRST_ISSUE};
use crate::ethnicity::CultureDraws;
use crate::geography::{GeoDraws, Place};
use crate::ids::{household_number, legacy_number, SerialAllocator, CHUNK_RECORDS};
use crate::names::NameDraws;
use crate::person::{Chunk, Household, Link, Marital, Person, Relationship, BLOOD_GROUPS, BLOOD_SHARES_PER_MILLE};
use crate::rng::{derive_key, Rng, Weighted};

/// Households by number of members (1 to 8), per mille: mean about 3.5 people, as in the 2019 census.
const HOUSEHOLD_SIZE_PER_MILLE: [u32; 8] = [110, 190, 210, 260, 130, 60, 25, 15];

/// Every distribution, built once.
#[derive(Debug)]
pub(crate) struct Draws {
    names: NameDraws,
    culture: CultureDraws,
    geo: GeoDraws,
    ages: AgeDraws,
    blood: Weighted,
    household_size: Weighted,
}

pub(crate) fn draws() -> &'static Draws {
    static DRAWS: OnceLock<Draws> = OnceLock::new();
    DRAWS.get_or_init(|| Draws {
        names: NameDraws::new(),
        culture: CultureDraws::new(),
        geo: GeoDraws::new(),
        ages: AgeDraws::new(),
        blood: Weighted::new(BLOOD_SHARES_PER_MILLE),
        household_size: Weighted::new(HOUSEHOLD_SIZE_PER_MILLE),
    })
}

/// Fills chunks. One per thread; the allocator's table is reused between chunks.
#[derive(Debug)]
pub(crate) struct ChunkBuilder {
    seed: u64,
    allocator: SerialAllocator,
}

impl ChunkBuilder {
    pub(crate) fn new(seed: u64) -> ChunkBuilder {
        ChunkBuilder { seed, allocator: SerialAllocator::new(seed) }
    }

    /// Generates chunk `chunk_idx` with `n_records` records into `chunk`. The result depends only on the seed,
    /// the chunk index and `n_records`; the last household is cut short to fit.
    pub(crate) fn build(&mut self, chunk_idx: u64, n_records: usize, chunk: &mut Chunk) {
        assert!(n_records as u64 <= CHUNK_RECORDS);
        chunk.clear();
        self.allocator.start_chunk(chunk_idx);
        let mut rng = Rng::from_key(derive_key(self.seed, chunk_idx));
        let draws = draws();
        // Each household adds at least one record, so this loop runs at most `n_records` times.
        while chunk.people.len() < n_records {
            let n_members = (draws.household_size.sample(&mut rng) + 1).min(n_records - chunk.people.len());
            let mut composer = Composer::start(
                Context { draws, rng: &mut rng, allocator: &mut self.allocator, chunk, seed: self.seed },
                chunk_idx * CHUNK_RECORDS,
            );
            composer.compose(n_members);
        }
        assert_eq!(chunk.people.len(), n_records);
    }
}

struct Context<'a> {
    draws: &'static Draws,
    rng: &'a mut Rng,
    allocator: &'a mut SerialAllocator,
    chunk: &'a mut Chunk,
    seed: u64,
}

/// Builds one household at the end of the chunk.
struct Composer<'a> {
    cx: Context<'a>,
    /// Global index of the chunk's first record.
    chunk_first_record: u64,
    /// Chunk index of the household's first member (the head).
    first: usize,
    household: u32,
    province: u8,
    ethnicity: u8,
    religion: u8,
}

impl<'a> Composer<'a> {
    fn start(cx: Context<'a>, chunk_first_record: u64) -> Composer<'a> {
        let first = cx.chunk.people.len();
        let province = cx.draws.geo.province(cx.rng);
        let residence = cx.draws.geo.dwelling(cx.rng, province);
        let number = household_number(cx.seed, chunk_first_record + first as u64);
        let household = cx.chunk.households.len() as u32;
        cx.chunk.households.push(Household { number, residence });
        let ethnicity = cx.draws.culture.ethnicity(cx.rng);
        let religion = cx.draws.culture.religion(cx.rng);
        Composer { cx, chunk_first_record, first, household, province, ethnicity, religion }
    }

    fn compose(&mut self, n_members: usize) {
        let Context { draws, .. } = self.cx;
        let couple = n_members >= 2 && self.chance(if n_members == 2 { 650 } else { 850 });
        let (head_year, head_female) = if n_members == 1 {
            (draws.ages.single_birth_year(self.cx.rng), self.chance(540))
        } else {
            (draws.ages.head_birth_year(self.cx.rng), self.chance(if couple { 200 } else { 620 }))
        };
        let lineage = draws.names.family(self.cx.rng);
        let head_province = self.local_or_elsewhere(60);
        let head = self.push(Relationship::Head, head_female, head_year, lineage, head_province);
        let mut remaining = n_members - 1;
        let spouse = if couple {
            remaining -= 1;
            Some(self.add_spouse(head))
        } else {
            let age = self.person(head).birth.age_on(AS_OF);
            self.cx.chunk.people[head].marital = self.marital_without_spouse(age);
            None
        };
        let head_age = self.person(head).birth.age_on(AS_OF);
        let grandparents_wanted =
            head_age <= 60 && ((n_members >= 4 && self.chance(300)) || (!couple && self.chance(150)));
        if remaining >= 1 && grandparents_wanted {
            remaining -= self.add_parents_of_head(head, remaining);
        }
        self.name_outside_parents(head);
        if let Some(spouse) = spouse {
            self.name_outside_parents(spouse);
        }
        let (father, mother) = match (spouse, head_female) {
            (Some(spouse), false) => (Some(head), Some(spouse)),
            (Some(spouse), true) => (Some(spouse), Some(head)),
            (None, false) => (Some(head), None),
            (None, true) => (None, Some(head)),
        };
        if remaining >= 2 && head_age >= 50 && self.chance(450) {
            remaining -= self.add_three_generations(father, mother, remaining);
        }
        remaining -= self.add_children(father, mother, remaining);
        remaining -= self.add_siblings(head, remaining);
        assert_eq!(remaining, 0, "every slot of the household is filled");
        self.finish();
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.cx.rng.chance(per_mille)
    }

    fn person(&self, idx: usize) -> &Person {
        &self.cx.chunk.people[idx]
    }

    /// The household's province, or with probability `elsewhere_per_mille` one drawn by population.
    fn local_or_elsewhere(&mut self, elsewhere_per_mille: u32) -> u8 {
        if self.chance(elsewhere_per_mille) {
            self.cx.draws.geo.province(self.cx.rng)
        } else {
            self.province
        }
    }

    /// Appends a member; the ID and the details that depend on the whole household come in `finish`.
    fn push(&mut self, relationship: Relationship, female: bool, birth_year: u16, family: u8, province: u8) -> usize {
        let Context { draws, .. } = self.cx;
        let rng = &mut *self.cx.rng;
        let name = draws.names.person(rng, family, female, birth_year);
        let birth = birthday(rng, birth_year);
        let blood = BLOOD_GROUPS[draws.blood.sample(rng)];
        let place = draws.geo.place_in(rng, province);
        let idx = self.cx.chunk.people.len();
        self.cx.chunk.people.push(Person {
            id: 0,
            name,
            birth,
            birth_place: place,
            hometown: place,
            ethnicity: self.ethnicity,
            religion: self.religion,
            blood,
            household: self.household,
            relationship,
            father: Link::None,
            mother: Link::None,
            spouse: Link::None,
            legal_representative: Link::None,
            death: None,
            id_card_issue: None,
            legacy_number: None,
            marital: Marital::Single,
            away: None,
        });
        idx
    }

    fn marry(&mut self, a: usize, b: usize) {
        let people = &mut self.cx.chunk.people;
        people[a].spouse = Link::Member(b as u32);
        people[b].spouse = Link::Member(a as u32);
        people[a].marital = Marital::Married;
        people[b].marital = Marital::Married;
    }

    fn add_spouse(&mut self, head: usize) -> usize {
        let Context { draws, .. } = self.cx;
        let head_female = self.person(head).female();
        let year = draws.ages.spouse_birth_year(self.cx.rng, self.person(head).birth.year, head_female);
        let family = draws.names.family(self.cx.rng);
        let province = self.local_or_elsewhere(110);
        let relationship = if head_female { Relationship::Husband } else { Relationship::Wife };
        let spouse = self.push(relationship, !head_female, year, family, province);
        // One marriage in ten crosses ethnic or religious lines.
        if self.chance(100) {
            self.cx.chunk.people[spouse].ethnicity = draws.culture.ethnicity(self.cx.rng);
        }
        if self.chance(120) {
            self.cx.chunk.people[spouse].religion = draws.culture.religion(self.cx.rng);
        }
        self.marry(head, spouse);
        spouse
    }

    /// Marital status of an adult who lives without a spouse.
    fn marital_without_spouse(&mut self, age: u16) -> Marital {
        let roll = self.cx.rng.below(100);
        match age {
            0..18 => Marital::Single,
            18..30 => pick_marital(roll, &[(85, Marital::Single), (95, Marital::Divorced), (100, Marital::Married)]),
            30..60 => pick_marital(
                roll,
                &[(30, Marital::Single), (60, Marital::Divorced), (85, Marital::Widowed), (100, Marital::Married)],
            ),
            _ => pick_marital(
                roll,
                &[(15, Marital::Single), (25, Marital::Divorced), (90, Marital::Widowed), (100, Marital::Married)],
            ),
        }
    }

    /// The head's father and/or mother ("Bố", "Mẹ"), if the head is young enough to have living parents.
    fn add_parents_of_head(&mut self, head: usize, slots: usize) -> usize {
        let Context { draws, .. } = self.cx;
        let head_family = self.person(head).name.family;
        let (father_year, mother_year) = draws.ages.parent_birth_years(self.cx.rng, self.person(head).birth.year);
        // Widows outnumber widowers: a parent living alone with a child is the mother two times in three.
        let (father_year, mother_year) = if slots >= 2 && self.chance(400) {
            (father_year, mother_year)
        } else if self.chance(350) {
            (father_year, None)
        } else {
            (None, mother_year)
        };
        let father = father_year.map(|year| {
            let province = self.local_or_elsewhere(60);
            self.push(Relationship::Father, false, year, head_family, province)
        });
        let mother = mother_year.map(|year| {
            let family = draws.names.family(self.cx.rng);
            let province = self.local_or_elsewhere(60);
            self.push(Relationship::Mother, true, year, family, province)
        });
        match (father, mother) {
            (Some(father), Some(mother)) => self.marry(father, mother),
            (Some(alone), None) | (None, Some(alone)) => {
                let roll = self.cx.rng.below(100);
                self.cx.chunk.people[alone].marital =
                    pick_marital(roll, &[(80, Marital::Widowed), (90, Marital::Divorced), (100, Marital::Married)]);
            }
            (None, None) => return 0,
        }
        let people = &mut self.cx.chunk.people;
        people[head].father = father.map_or(Link::None, |idx| Link::Member(idx as u32));
        people[head].mother = mother.map_or(Link::None, |idx| Link::Member(idx as u32));
        usize::from(father.is_some()) + usize::from(mother.is_some())
    }

    /// Parents who are not in the household: often known by name (the father shares the family name).
    fn name_outside_parents(&mut self, idx: usize) {
        let person = *self.person(idx);
        let parents_year = clamp_adult_birth_year(i32::from(person.birth.year) - 28);
        if person.father == Link::None && self.chance(550) {
            let name = self.cx.draws.names.person(self.cx.rng, person.name.family, false, parents_year);
            self.cx.chunk.people[idx].father = Link::External(name);
        }
        if person.mother == Link::None && self.chance(550) {
            let family = self.cx.draws.names.family(self.cx.rng);
            let name = self.cx.draws.names.person(self.cx.rng, family, true, parents_year);
            self.cx.chunk.people[idx].mother = Link::External(name);
        }
    }

    /// The other parent of a single parent's children: named (but not registered here) or unknown.
    fn absent_parent(&mut self, female: bool, year: u16) -> Link {
        if !self.chance(500) {
            return Link::None;
        }
        let Context { draws, .. } = self.cx;
        let family = draws.names.family(self.cx.rng);
        Link::External(draws.names.person(self.cx.rng, family, female, year))
    }

    /// Children of `father` and `mother` (members; at least one is set), as many as fit the years in which both
    /// could have had them, at most `slots`.
    fn add_children(&mut self, father: Option<usize>, mother: Option<usize>, slots: usize) -> usize {
        let parent_years: Vec<u16> =
            [mother, father].iter().flatten().map(|&idx| self.person(idx).birth.year).collect();
        let Some((lo, hi)) = child_birth_window(&parent_years) else { return 0 };
        let n_children = slots.min(usize::from(hi - lo) / 2 + 1);
        let (father_link, mother_link) = self.parent_links(father, mother, parent_years[0]);
        let family = self.child_family(father_link, mother_link);
        for _ in 0..n_children {
            let year = self.cx.draws.ages.child_birth_year(self.cx.rng, &parent_years).expect("window is not empty");
            let female = self.chance(475);
            let province = self.local_or_elsewhere(20);
            let child = self.push(Relationship::Child, female, year, family, province);
            self.set_parents_and_status(child, father_link, mother_link);
        }
        n_children
    }

    /// An adult child ("Con") and that child's children ("Cháu"): three generations under an older head.
    fn add_three_generations(&mut self, father: Option<usize>, mother: Option<usize>, slots: usize) -> usize {
        let parent_years: Vec<u16> =
            [mother, father].iter().flatten().map(|&idx| self.person(idx).birth.year).collect();
        let Some((lo, hi)) = child_birth_window(&parent_years) else { return 0 };
        let hi = hi.min(AS_OF.year - 20);
        if lo > hi {
            return 0;
        }
        let (father_link, mother_link) = self.parent_links(father, mother, parent_years[0]);
        let family = self.child_family(father_link, mother_link);
        let year = self.cx.rng.between(u32::from(lo), u32::from(hi)) as u16;
        let female = self.chance(450);
        let province = self.local_or_elsewhere(30);
        let adult = self.push(Relationship::Child, female, year, family, province);
        self.set_parents_and_status(adult, father_link, mother_link);
        let age = self.person(adult).birth.age_on(AS_OF);
        let roll = self.cx.rng.below(100);
        self.cx.chunk.people[adult].marital = match age {
            0..25 => Marital::Single,
            _ => pick_marital(
                roll,
                &[(15, Marital::Single), (75, Marital::Married), (90, Marital::Divorced), (100, Marital::Widowed)],
            ),
        };
        let Some((lo, hi)) = child_birth_window(&[year]) else { return 1 };
        let n_grandchildren = (slots - 1).min(usize::from(hi - lo) / 2 + 1);
        let adult_link = Link::Member(adult as u32);
        let other = self.absent_parent(!female, year);
        let (father_link, mother_link) = if female { (other, adult_link) } else { (adult_link, other) };
        let grandchild_family = self.child_family(father_link, mother_link);
        for _ in 0..n_grandchildren {
            let child_year = self.cx.draws.ages.child_birth_year(self.cx.rng, &[year]).expect("window is not empty");
            let female = self.chance(475);
            let province = self.local_or_elsewhere(15);
            let child = self.push(Relationship::Grandchild, female, child_year, grandchild_family, province);
            self.set_parents_and_status(child, father_link, mother_link);
        }
        1 + n_grandchildren
    }

    /// Links for the children of `father` and `mother`: members where present, the absent one named or unknown.
    fn parent_links(&mut self, father: Option<usize>, mother: Option<usize>, parent_year: u16) -> (Link, Link) {
        let member = |idx: Option<usize>| idx.map(|idx| Link::Member(idx as u32));
        match (member(father), member(mother)) {
            (Some(father), Some(mother)) => (father, mother),
            (Some(father), None) => (father, self.absent_parent(true, parent_year)),
            (None, Some(mother)) => (self.absent_parent(false, parent_year), mother),
            (None, None) => (Link::None, Link::None),
        }
    }

    /// A child takes the father's family name, or the mother's when the father is unknown.
    fn child_family(&self, father: Link, mother: Link) -> u8 {
        let family_of = |link: Link| match link {
            Link::Member(idx) => Some(self.person(idx as usize).name.family),
            Link::External(name) => Some(name.family),
            Link::None => None,
        };
        family_of(father).or_else(|| family_of(mother)).unwrap_or(0)
    }

    fn set_parents_and_status(&mut self, child: usize, father: Link, mother: Link) {
        let age = self.person(child).birth.age_on(AS_OF);
        let marital = if age >= 20 && self.chance(200) { self.marital_without_spouse(age) } else { Marital::Single };
        let person = &mut self.cx.chunk.people[child];
        person.father = father;
        person.mother = mother;
        person.marital = marital;
    }

    /// Brothers and sisters of the head ("Anh", "Chị", "Em"): same parents, born within ten years of the head.
    fn add_siblings(&mut self, head: usize, slots: usize) -> usize {
        let head_person = *self.person(head);
        let parent_years: Vec<u16> = [head_person.father, head_person.mother]
            .iter()
            .filter_map(|link| match link {
                Link::Member(idx) => Some(self.person(*idx as usize).birth.year),
                _ => None,
            })
            .collect();
        let (lo, hi) = child_birth_window(&parent_years).unwrap_or((AS_OF.year - AGE_MAX, AS_OF.year));
        let head_year = i32::from(head_person.birth.year);
        for _ in 0..slots {
            let year = (head_year + self.cx.rng.between(0, 20) as i32 - 10).clamp(i32::from(lo), i32::from(hi));
            let female = self.chance(500);
            let province = if self.chance(900) { head_person.birth_place.province } else { self.province };
            let sibling =
                self.push(Relationship::YoungerSibling, female, year as u16, head_person.name.family, province);
            let older = self.person(sibling).birth < head_person.birth;
            let relationship = match (older, female) {
                (true, false) => Relationship::OlderBrother,
                (true, true) => Relationship::OlderSister,
                (false, _) => Relationship::YoungerSibling,
            };
            self.cx.chunk.people[sibling].relationship = relationship;
            self.set_parents_and_status(sibling, head_person.father, head_person.mother);
        }
        slots
    }

    /// IDs, birth places, hometowns, deaths, legal representatives, identity cards, legacy numbers and where
    /// members actually live: everything that needs the whole household.
    fn finish(&mut self) {
        let members = self.first..self.cx.chunk.people.len();
        for idx in members.clone() {
            self.register_birth(idx);
        }
        for idx in members.clone() {
            self.set_hometown(idx);
        }
        for idx in members.clone() {
            self.maybe_deceased(idx);
        }
        for idx in members {
            self.set_legal_representative(idx);
            self.set_documents(idx);
            self.maybe_away(idx);
        }
    }

    fn register_birth(&mut self, idx: usize) {
        let person = *self.person(idx);
        let (province, id) =
            self.cx.allocator.allocate(person.birth_place.province, person.female(), person.birth.year);
        let residence = self.cx.chunk.households[self.household as usize].residence;
        let born_here = province == self.province && self.chance(700);
        let commune = if born_here { residence.commune } else { self.cx.draws.geo.commune(self.cx.rng, province) };
        let person = &mut self.cx.chunk.people[idx];
        person.id = id;
        person.birth_place.province = province;
        person.birth_place.commune = commune;
    }

    /// Quê quán follows the father's line: children inherit their father's, the head's father gives the head's.
    fn set_hometown(&mut self, idx: usize) {
        let person = *self.person(idx);
        let inherited = match (person.relationship, person.father) {
            (Relationship::Father, _) => Some(self.person(self.first).hometown),
            (_, Link::Member(father)) if (father as usize) < idx => Some(self.person(father as usize).hometown),
            (Relationship::OlderBrother | Relationship::OlderSister | Relationship::YoungerSibling, _) => {
                Some(self.person(self.first).hometown)
            }
            _ => None,
        };
        let hometown = inherited.unwrap_or_else(|| {
            let province =
                if self.chance(800) { person.birth_place.province } else { self.cx.draws.geo.province(self.cx.rng) };
            self.cx.draws.geo.place_in(self.cx.rng, province)
        });
        self.cx.chunk.people[idx].hometown = hometown;
    }

    /// Some members have died, within the last ten years, after their own birth and their youngest child's.
    /// Never the head of a household of several (the register names a living head), and never one of a married
    /// couple in the household: a spouse link always joins two married records.
    fn maybe_deceased(&mut self, idx: usize) {
        let person = *self.person(idx);
        let n_members = self.cx.chunk.people.len() - self.first;
        let may_die = !(person.relationship == Relationship::Head && n_members > 1) && person.spouse == Link::None;
        if !may_die || !self.chance(deceased_per_mille(person.birth.age_on(AS_OF))) {
            return;
        }
        let members = &self.cx.chunk.people[self.first..];
        let youngest_child = members
            .iter()
            .filter(|member| [member.father, member.mother].contains(&Link::Member(idx as u32)))
            .map(|member| member.birth)
            .max();
        let ten_years_ago = Day { year: AS_OF.year - 10, ..AS_OF };
        let earliest = person.birth.max(ten_years_ago).max(youngest_child.unwrap_or(person.birth));
        let death = day_between(self.cx.rng, earliest, AS_OF);
        self.cx.chunk.people[idx].death = Some(death);
    }

    /// A living minor is represented by a living parent in the household, else by the head.
    fn set_legal_representative(&mut self, idx: usize) {
        let person = *self.person(idx);
        if person.death.is_some() || person.birth.age_on(AS_OF) >= 18 {
            return;
        }
        let alive_member = |link: Link| match link {
            Link::Member(member) if self.person(member as usize).death.is_none() => Some(member),
            _ => None,
        };
        let head = (self.first != idx).then_some(self.first as u32);
        let representative = alive_member(person.father).or_else(|| alive_member(person.mother)).or(head);
        self.cx.chunk.people[idx].legal_representative = representative.map_or(Link::None, Link::Member);
    }

    /// Identity card from age 14 (most were issued in the 2021-2022 chip-card campaign); a legacy 9-digit number
    /// for most of those who were adults before 2016.
    fn set_documents(&mut self, idx: usize) {
        let person = *self.person(idx);
        let last = person.death.unwrap_or(AS_OF);
        let first = person.birth.plus_years(14).max(ID_CARD_FIRST_ISSUE);
        if first <= last && self.chance(850) {
            let campaign =
                (first.max(Day { year: 2021, month: 1, day: 1 }), last.min(Day { year: 2022, month: 6, day: 30 }));
            let (from, to) = if campaign.0 <= campaign.1 && self.chance(600) { campaign } else { (first, last) };
            self.cx.chunk.people[idx].id_card_issue = Some(day_between(self.cx.rng, from, to));
        }
        if person.birth.year < 2002 && self.chance(600) {
            let record_idx = self.chunk_first_record + idx as u64;
            self.cx.chunk.people[idx].legacy_number = Some(legacy_number(self.cx.seed, record_idx));
        }
    }

    /// Young adults often live where they study or work, registered there temporarily.
    fn maybe_away(&mut self, idx: usize) {
        let person = *self.person(idx);
        if person.death.is_some() {
            return;
        }
        let per_mille = match person.birth.age_on(AS_OF) {
            0..18 => 10,
            18..36 => 180,
            _ => 30,
        };
        if self.chance(per_mille) {
            let province = self.cx.draws.geo.destination(self.cx.rng);
            let place: Place = self.cx.draws.geo.dwelling(self.cx.rng, province);
            self.cx.chunk.people[idx].away = Some(place);
        }
    }
}

/// The first status whose cumulative percentage threshold is above `roll` (0..100); thresholds end at 100.
fn pick_marital(roll: u32, thresholds: &[(u32, Marital)]) -> Marital {
    assert_eq!(thresholds.last().map(|(threshold, _)| *threshold), Some(100), "thresholds end at 100");
    thresholds.iter().find(|(threshold, _)| roll < *threshold).map_or(Marital::Single, |(_, marital)| *marital)
}
