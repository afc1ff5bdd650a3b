//! Vietnamese names: family name, one middle name and a given name, with diacritics (NFC).
//!
//! Family-name shares follow published surveys (Nguyễn ≈ 38 %, Trần ≈ 11 %, Lê ≈ 9.5 %, ...). A child takes the
//! father's family name and a wife keeps her own, as in Vietnam, so the shares hold for the whole population.
//! "Văn" (men) and "Thị" (women) are the most common middle names and grow rarer among the young.

use unicode_normalization::UnicodeNormalization;

use crate::rng::{Rng, Weighted};

/// A name as typed on a keyboard without Vietnamese input: diacritics dropped, `đ`/`Đ` as `d`/`D`. For demos and
/// tests of diacritic-insensitive search (deliberately not the server's own search key).
pub fn unaccented(name: &str) -> String {
    name.nfd()
        .filter(|ch| !unicode_normalization::char::is_combining_mark(*ch))
        .map(|ch| match ch {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// Family names with their share of the population in units of 0.1 %.
pub(crate) const FAMILY_NAMES: [(&str, u32); 56] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 31),
    ("Huỳnh", 19),
    ("Phan", 45),
    ("Vũ", 20),
    ("Võ", 19),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 8),
    ("Đào", 7),
    ("Đoàn", 7),
    ("Trương", 8),
    ("Lâm", 6),
    ("Mai", 6),
    ("Trịnh", 6),
    ("Lương", 6),
    ("Cao", 5),
    ("Hà", 5),
    ("Tạ", 4),
    ("Lưu", 4),
    ("Phùng", 3),
    ("Tô", 2),
    ("Châu", 2),
    ("Chu", 2),
    ("Nông", 3),
    ("Lò", 2),
    ("Kiều", 2),
    ("Quách", 2),
    ("Thái", 2),
    ("Triệu", 2),
    ("Lại", 2),
    ("Mạc", 1),
    ("Vương", 2),
    ("Thân", 1),
    ("Tăng", 1),
    ("La", 1),
    ("Hứa", 1),
    ("Giang", 1),
    ("Từ", 1),
    ("Khổng", 1),
    ("Âu", 1),
    ("Diệp", 1),
    ("Tôn", 1),
    ("Văn", 1),
    ("Đàm", 2),
    ("Hầu", 1),
    ("Doãn", 1),
    ("Kim", 1),
];

/// Middle names for men; "Văn" is index 0 and drawn separately with a share that depends on the birth year.
pub(crate) const MIDDLE_NAMES_MALE: [&str; 14] =
    ["Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thanh", "Xuân", "Quốc", "Gia", "Đình", "Trọng", "Anh", "Hoàng"];

/// Middle names for women; "Thị" is index 0 and drawn separately with a share that depends on the birth year.
pub(crate) const MIDDLE_NAMES_FEMALE: [&str; 14] =
    ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Hồng", "Mai", "Kim", "Bảo", "Khánh", "Diệu", "Hoài", "Thùy"];

pub(crate) const GIVEN_NAMES_MALE: [&str; 56] = [
    "An", "Anh", "Bảo", "Bình", "Cường", "Công", "Dũng", "Duy", "Dương", "Đạt", "Đức", "Giang", "Hải", "Hào", "Hiếu",
    "Hiệp", "Hòa", "Hoàng", "Hùng", "Huy", "Hưng", "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Lợi",
    "Minh", "Nam", "Nghĩa", "Nhân", "Phong", "Phúc", "Phước", "Quang", "Quân", "Sơn", "Tài", "Tâm", "Thắng", "Thành",
    "Thịnh", "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Thông", "Hậu", "Khải", "Trí",
];

pub(crate) const GIVEN_NAMES_FEMALE: [&str; 56] = [
    "Anh", "Ánh", "Bích", "Chi", "Châu", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng",
    "Huyền", "Hương", "Hường", "Lan", "Liên", "Linh", "Loan", "Ly", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Nhi",
    "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thanh", "Thơ", "Thu", "Thủy", "Trang", "Trâm", "Trinh",
    "Tuyết", "Uyên", "Vân", "Vy", "Yến", "Xuân", "Hoài", "Hậu", "Lệ", "Nhàn", "Thúy", "Vi", "Nguyệt",
];

/// A full name as indices into the tables above: small, `Copy`, and written out only when needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) family: u8,
    pub(crate) middle: u8,
    pub(crate) given: u8,
    pub(crate) female: bool,
}

impl Name {
    pub(crate) fn family_str(self) -> &'static str {
        FAMILY_NAMES[usize::from(self.family)].0
    }

    pub(crate) fn middle_str(self) -> &'static str {
        let table = if self.female { &MIDDLE_NAMES_FEMALE } else { &MIDDLE_NAMES_MALE };
        table[usize::from(self.middle)]
    }

    pub(crate) fn given_str(self) -> &'static str {
        let table = if self.female { &GIVEN_NAMES_FEMALE } else { &GIVEN_NAMES_MALE };
        table[usize::from(self.given)]
    }

    /// The three parts, in the order they are written.
    pub(crate) fn parts(self) -> [&'static str; 3] {
        [self.family_str(), self.middle_str(), self.given_str()]
    }

    /// "Family Middle Given", as one string (for records; the JSON writer writes the parts directly).
    pub(crate) fn full(self) -> String {
        self.parts().join(" ")
    }
}

/// Draws names. Built once; the tables are static.
#[derive(Debug)]
pub(crate) struct NameDraws {
    family: Weighted,
}

impl NameDraws {
    pub(crate) fn new() -> NameDraws {
        NameDraws { family: Weighted::new(FAMILY_NAMES.iter().map(|(_, weight)| *weight)) }
    }

    /// A family name index drawn by frequency.
    pub(crate) fn family(&self, rng: &mut Rng) -> u8 {
        self.family.sample(rng) as u8
    }

    /// A person's name: `family` is inherited (father's) or drawn by the caller.
    pub(crate) fn person(&self, rng: &mut Rng, family: u8, female: bool, birth_year: u16) -> Name {
        // "Thị"/"Văn" were near-universal for the old and are a minority choice for the young.
        let classic_per_mille = match birth_year {
            ..1960 => 780,
            1960..1980 => 620,
            1980..1995 => 450,
            1995..2010 => 300,
            _ => 180,
        };
        let classic_per_mille = if female { classic_per_mille } else { classic_per_mille * 5 / 6 };
        let middle =
            if rng.chance(classic_per_mille) { 0 } else { 1 + rng.below(MIDDLE_NAMES_MALE.len() as u32 - 1) as u8 };
        let n_given = if female { GIVEN_NAMES_FEMALE.len() } else { GIVEN_NAMES_MALE.len() };
        Name { family, middle, given: rng.below(n_given as u32) as u8, female }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_name_shares_match_the_surveys() {
        let draws = NameDraws::new();
        let share = |name: &str| {
            let idx = FAMILY_NAMES.iter().position(|(family, _)| *family == name).expect("listed");
            draws.family.share(idx)
        };
        assert!((share("Nguyễn") - 0.38).abs() < 0.005);
        assert!((share("Trần") - 0.11).abs() < 0.005);
        assert!((share("Hoàng") + share("Huỳnh") - 0.05).abs() < 0.005);
        assert!((share("Vũ") + share("Võ") - 0.039).abs() < 0.002);
        let total: u32 = FAMILY_NAMES.iter().map(|(_, weight)| weight).sum();
        assert_eq!(total, 1000, "weights are in units of 0.1 % of the population");
    }

    #[test]
    fn tables_are_distinct_and_large_enough() {
        fn distinct(names: &[&str]) -> bool {
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.windows(2).all(|pair| pair[0] != pair[1])
        }
        let families: Vec<&str> = FAMILY_NAMES.iter().map(|(name, _)| *name).collect();
        assert!(distinct(&families));
        assert!(distinct(&MIDDLE_NAMES_MALE) && distinct(&MIDDLE_NAMES_FEMALE));
        assert!(distinct(&GIVEN_NAMES_MALE) && distinct(&GIVEN_NAMES_FEMALE));
        assert!(GIVEN_NAMES_MALE.len() >= 40 && GIVEN_NAMES_FEMALE.len() >= 40);
        assert!(MIDDLE_NAMES_MALE.len() >= 10 && MIDDLE_NAMES_FEMALE.len() >= 10);
        assert_eq!(MIDDLE_NAMES_MALE[0], "Văn");
        assert_eq!(MIDDLE_NAMES_FEMALE[0], "Thị");
        assert!(families.len() <= usize::from(u8::MAX) && GIVEN_NAMES_MALE.len() <= usize::from(u8::MAX));
    }

    #[test]
    fn the_classic_middle_names_are_common_among_the_old() {
        let draws = NameDraws::new();
        let mut rng = Rng::from_key(3);
        let n_thi = (0..10_000).filter(|_| draws.person(&mut rng, 0, true, 1950).middle == 0).count();
        assert!((7_000..8_600).contains(&n_thi), "{n_thi}");
        let name = Name { family: 0, middle: 0, given: 0, female: true };
        assert_eq!(name.full(), "Nguyễn Thị Anh");
    }
}
