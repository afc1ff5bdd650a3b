//! Where people live: provinces weighted by population, synthetic commune codes and address lines.
//!
//! There is no commune table in the repository, so every province gets a contiguous block of 5-digit commune codes
//! (in province-code order, sized by population, as the real codes are) and addresses are house numbers on
//! hamlets or on streets named after national heroes, as they are all over the country.

use dancu_cluster_config::provinces::{Province, PROVINCES};

use crate::json::push_decimal;
use crate::rng::{Rng, Weighted};

/// Number of provinces (pre-2025 codes, the ones personal IDs carry).
pub(crate) const N_PROVINCES: usize = PROVINCES.len();

/// Streets for urban addresses.
pub(crate) const STREETS: [&str; 32] = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Hùng Vương",
    "Lê Duẩn",
    "Điện Biên Phủ",
    "Nguyễn Huệ",
    "Phan Chu Trinh",
    "Bà Triệu",
    "Lê Lai",
    "Trần Phú",
    "Nguyễn Du",
    "Hoàng Văn Thụ",
    "Võ Thị Sáu",
    "Nguyễn Văn Cừ",
    "Phạm Văn Đồng",
    "Lạc Long Quân",
    "Ngô Quyền",
    "Lê Thánh Tông",
    "Hoàng Hoa Thám",
    "Cách Mạng Tháng Tám",
    "Nguyễn Thị Minh Khai",
    "Trường Chinh",
    "Lê Hồng Phong",
    "Phan Đình Phùng",
    "Lý Tự Trọng",
    "Tôn Đức Thắng",
    "Phan Bội Châu",
    "Nguyễn Khuyến",
];

/// The free-text part of a place, kept as numbers and table indices until it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Address {
    /// Just the province name: birth registration places and hometowns.
    ProvinceOnly,
    /// "Số 12, Thôn 3" (north and centre), "Ấp 3" in the south, "Bản 3" in the northern mountains.
    Hamlet { house: u16, hamlet: u8 },
    /// "Số 45 đường Lê Lợi".
    Street { house: u16, street: u8 },
    /// "Số 12 ngõ 34 phố Lê Lợi" in the north, "Số 12/34 đường Lê Lợi" in the south.
    Alley { house: u16, alley: u16, street: u8 },
}

/// A place: province (index into `PROVINCES`), commune code and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) province: u8,
    pub(crate) commune: u16,
    pub(crate) address: Address,
}

impl Place {
    pub(crate) fn province(self) -> &'static Province {
        &PROVINCES[usize::from(self.province)]
    }

    /// The address line, e.g. "Số 12, Thôn 3, Nam Định".
    pub(crate) fn push_address_line(self, out: &mut Vec<u8>) {
        let province = self.province();
        let north = province.code < "046";
        match self.address {
            Address::ProvinceOnly => {}
            Address::Hamlet { house, hamlet } => {
                out.extend_from_slice("Số ".as_bytes());
                push_decimal(out, u32::from(house));
                out.extend_from_slice(hamlet_word(province).as_bytes());
                push_decimal(out, u32::from(hamlet));
                out.extend_from_slice(b", ");
            }
            Address::Street { house, street } => {
                out.extend_from_slice("Số ".as_bytes());
                push_decimal(out, u32::from(house));
                out.extend_from_slice(" đường ".as_bytes());
                out.extend_from_slice(STREETS[usize::from(street)].as_bytes());
                out.extend_from_slice(b", ");
            }
            Address::Alley { house, alley, street } => {
                out.extend_from_slice("Số ".as_bytes());
                push_decimal(out, u32::from(house));
                out.extend_from_slice(if north { " ngõ ".as_bytes() } else { "/".as_bytes() });
                push_decimal(out, u32::from(alley));
                out.extend_from_slice(if north { " phố ".as_bytes() } else { " đường ".as_bytes() });
                out.extend_from_slice(STREETS[usize::from(street)].as_bytes());
                out.extend_from_slice(b", ");
            }
        }
        out.extend_from_slice(province.name.as_bytes());
    }

    pub(crate) fn address_line(self) -> String {
        let mut bytes = Vec::with_capacity(64);
        self.push_address_line(&mut bytes);
        String::from_utf8(bytes).expect("address lines are built from UTF-8 pieces")
    }
}

/// ", Thôn " / ", Ấp " / ", Bản ": the word for a village, by region.
fn hamlet_word(province: &Province) -> &'static str {
    const NORTHERN_MOUNTAINS: [&str; 11] =
        ["002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "020"];
    if NORTHERN_MOUNTAINS.contains(&province.code) {
        ", Bản "
    } else if province.code >= "070" {
        ", Ấp "
    } else {
        ", Thôn "
    }
}

/// Share of households with a street address, per mille: the big cities are mostly urban.
fn urban_per_mille(code: &str) -> u32 {
    match code {
        "079" => 800,
        "048" => 780,
        "001" => 520,
        "031" => 480,
        "092" => 560,
        "074" | "075" | "077" => 450,
        _ => 250,
    }
}

/// Draws provinces, communes and addresses.
#[derive(Debug)]
pub(crate) struct GeoDraws {
    by_population: Weighted,
    /// For people living away from their registered residence: the cities and industrial provinces draw more.
    by_attraction: Weighted,
    /// First commune code of each province, and how many codes it has.
    commune_first: [u16; N_PROVINCES],
    commune_count: [u16; N_PROVINCES],
}

impl GeoDraws {
    pub(crate) fn new() -> GeoDraws {
        let by_population = Weighted::new(PROVINCES.iter().map(|p| p.population_thousands));
        let by_attraction = Weighted::new(PROVINCES.iter().map(|p| match p.code {
            "079" | "001" => p.population_thousands * 4,
            "074" | "048" | "075" | "027" => p.population_thousands * 3,
            _ => p.population_thousands,
        }));
        let mut commune_first = [0u16; N_PROVINCES];
        let mut commune_count = [0u16; N_PROVINCES];
        // About 10,600 communes before 2025: one per ~9,000 people, at least 60 per province. Codes start at 1.
        let mut next: u32 = 1;
        for (idx, province) in PROVINCES.iter().enumerate() {
            let count = (province.population_thousands / 9).max(60);
            commune_first[idx] = u16::try_from(next).expect("commune codes fit in 5 digits");
            commune_count[idx] = u16::try_from(count).expect("commune counts fit in u16");
            next += count;
        }
        assert!(next <= 99_999, "commune codes must stay 5 digits");
        GeoDraws { by_population, by_attraction, commune_first, commune_count }
    }

    /// A province index, weighted by population.
    pub(crate) fn province(&self, rng: &mut Rng) -> u8 {
        self.by_population.sample(rng) as u8
    }

    /// A province index where people go to work or study.
    pub(crate) fn destination(&self, rng: &mut Rng) -> u8 {
        self.by_attraction.sample(rng) as u8
    }

    pub(crate) fn commune(&self, rng: &mut Rng, province: u8) -> u16 {
        let idx = usize::from(province);
        self.commune_first[idx] + rng.below(u32::from(self.commune_count[idx])) as u16
    }

    /// A place known only by province and commune (birth registration, hometown).
    pub(crate) fn place_in(&self, rng: &mut Rng, province: u8) -> Place {
        Place { province, commune: self.commune(rng, province), address: Address::ProvinceOnly }
    }

    /// A dwelling: a street address in towns, a hamlet address in the countryside.
    pub(crate) fn dwelling(&self, rng: &mut Rng, province: u8) -> Place {
        let code = PROVINCES[usize::from(province)].code;
        let house = rng.between(1, 350) as u16;
        let street = rng.below(STREETS.len() as u32) as u8;
        let address = if !rng.chance(urban_per_mille(code)) {
            Address::Hamlet { house, hamlet: rng.between(1, 18) as u8 }
        } else if rng.chance(450) {
            Address::Alley { house: rng.between(1, 80) as u16, alley: rng.between(1, 420) as u16, street }
        } else {
            Address::Street { house, street }
        };
        Place { province, commune: self.commune(rng, province), address }
    }

    #[cfg(test)]
    pub(crate) fn commune_range(&self, province: u8) -> std::ops::Range<u16> {
        let idx = usize::from(province);
        self.commune_first[idx]..self.commune_first[idx] + self.commune_count[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(place: Place, expected: &str) {
        assert_eq!(place.address_line(), expected);
    }

    #[test]
    fn address_lines_read_like_vietnamese_addresses() {
        let idx = |code: &str| PROVINCES.iter().position(|p| p.code == code).expect("listed") as u8;
        let place = |code, address| Place { province: idx(code), commune: 70, address };
        check(place("001", Address::Street { house: 45, street: 0 }), "Số 45 đường Lê Lợi, Hà Nội");
        check(
            place("001", Address::Alley { house: 12, alley: 34, street: 3 }),
            "Số 12 ngõ 34 phố Hai Bà Trưng, Hà Nội",
        );
        check(
            place("079", Address::Alley { house: 12, alley: 34, street: 3 }),
            "Số 12/34 đường Hai Bà Trưng, Hồ Chí Minh",
        );
        check(place("036", Address::Hamlet { house: 12, hamlet: 3 }), "Số 12, Thôn 3, Nam Định");
        check(place("094", Address::Hamlet { house: 7, hamlet: 2 }), "Số 7, Ấp 2, Sóc Trăng");
        check(place("002", Address::Hamlet { house: 7, hamlet: 2 }), "Số 7, Bản 2, Hà Giang");
        check(place("036", Address::ProvinceOnly), "Nam Định");
    }

    #[test]
    fn commune_blocks_are_disjoint_and_five_digits() {
        let geo = GeoDraws::new();
        let mut previous_end = 1;
        for province in 0..N_PROVINCES as u8 {
            let range = geo.commune_range(province);
            assert_eq!(range.start, previous_end);
            assert!(range.len() >= 60);
            previous_end = range.end;
        }
        // About as many communes as Vietnam had before 2025; codes stay below 99,999 (five digits).
        assert!((10_000..12_000).contains(&previous_end), "{previous_end}");
    }
}
