//! Ethnic groups and religions, drawn per household with national weights (2019 census).

use crate::rng::{Rng, Weighted};

/// The 54 officially recognised ethnic groups with their 2019 census head counts.
pub(crate) const ETHNIC_GROUPS: [(&str, u32); 54] = [
    ("Kinh", 82_085_826),
    ("Tày", 1_845_492),
    ("Thái", 1_820_950),
    ("Mường", 1_452_095),
    ("Hmông", 1_393_547),
    ("Khmer", 1_319_652),
    ("Nùng", 1_083_298),
    ("Dao", 891_151),
    ("Hoa", 749_466),
    ("Gia Rai", 513_930),
    ("Ê Đê", 398_671),
    ("Ba Na", 286_910),
    ("Xơ Đăng", 212_277),
    ("Sán Chay", 201_398),
    ("Cơ Ho", 200_800),
    ("Chăm", 178_948),
    ("Sán Dìu", 183_004),
    ("Hrê", 149_460),
    ("Ra Glai", 146_613),
    ("Mnông", 127_334),
    ("Xtiêng", 100_752),
    ("Bru Vân Kiều", 94_598),
    ("Thổ", 91_430),
    ("Khơ Mú", 90_612),
    ("Cơ Tu", 74_173),
    ("Giáy", 67_858),
    ("Giẻ Triêng", 63_322),
    ("Tà Ôi", 52_356),
    ("Mạ", 50_322),
    ("Co", 40_442),
    ("Chơ Ro", 29_520),
    ("Xinh Mun", 29_503),
    ("Hà Nhì", 25_539),
    ("Chu Ru", 23_242),
    ("Lào", 17_532),
    ("Kháng", 16_180),
    ("La Chí", 15_126),
    ("Phù Lá", 12_471),
    ("La Hủ", 12_113),
    ("La Ha", 10_157),
    ("Pà Thẻn", 8_248),
    ("Chứt", 7_513),
    ("Lự", 6_757),
    ("Lô Lô", 4_827),
    ("Mảng", 4_650),
    ("Cờ Lao", 4_003),
    ("Bố Y", 3_232),
    ("Cống", 2_729),
    ("Ngái", 1_649),
    ("Si La", 909),
    ("Pu Péo", 903),
    ("Rơ Măm", 639),
    ("Brâu", 525),
    ("Ơ Đu", 428),
];

/// Religions as the register writes them, with their 2019 census follower counts; "Không" is no religion.
pub(crate) const RELIGIONS: [(&str, u32); 14] = [
    ("Không", 83_050_000),
    ("Công giáo", 5_867_000),
    ("Phật giáo", 4_607_000),
    ("Phật giáo Hòa Hảo", 984_000),
    ("Tin Lành", 961_000),
    ("Cao Đài", 557_000),
    ("Hồi giáo", 70_000),
    ("Bà-la-môn", 65_000),
    ("Tứ Ân Hiếu Nghĩa", 40_000),
    ("Tịnh độ cư sĩ Phật hội Việt Nam", 20_000),
    ("Bửu Sơn Kỳ Hương", 15_000),
    ("Minh Sư Đạo", 1_000),
    ("Minh Lý Đạo", 1_000),
    ("Bahá'í", 7_000),
];

/// Draws ethnicity and religion.
#[derive(Debug)]
pub(crate) struct CultureDraws {
    ethnicity: Weighted,
    religion: Weighted,
}

impl CultureDraws {
    pub(crate) fn new() -> CultureDraws {
        CultureDraws {
            ethnicity: Weighted::new(ETHNIC_GROUPS.iter().map(|(_, n)| *n)),
            religion: Weighted::new(RELIGIONS.iter().map(|(_, n)| *n)),
        }
    }

    pub(crate) fn ethnicity(&self, rng: &mut Rng) -> u8 {
        self.ethnicity.sample(rng) as u8
    }

    pub(crate) fn religion(&self, rng: &mut Rng) -> u8 {
        self.religion.sample(rng) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_four_distinct_groups_with_census_shares() {
        let mut names: Vec<&str> = ETHNIC_GROUPS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 54);
        let draws = CultureDraws::new();
        assert!((draws.ethnicity.share(0) - 0.853).abs() < 0.002, "Kinh {}", draws.ethnicity.share(0));
        assert!((draws.ethnicity.share(4) - 0.0145).abs() < 0.001, "Hmông");
        assert!((draws.religion.share(0) - 0.86).abs() < 0.005, "Không {}", draws.religion.share(0));
    }
}
