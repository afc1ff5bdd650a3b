//! The 63 province codes that can open a personal ID, built in from `shared/reference/provinces.csv`.
//!
//! The code is the first three digits of every personal ID (the province where the birth was registered). It never
//! changes, not even when provinces merge (2025: 63 → 34), so the table keeps the pre-merger codes and records the
//! merged province beside each one.

/// One province code of the personal ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    /// Three ASCII digits, e.g. `"079"`.
    pub code: &'static str,
    /// Name before the 2025 merger, e.g. `"Hồ Chí Minh"`.
    pub name: &'static str,
    /// Approximate 2019 census population, in thousands.
    pub population_thousands: u32,
    /// Two-digit code of the province this one belongs to after the 2025 merger.
    pub merged_2025_code: &'static str,
    /// Name of the province this one belongs to after the 2025 merger.
    pub merged_2025_name: &'static str,
}

impl Province {
    /// The code as a number (`"079"` → 79).
    pub fn code_number(&self) -> u32 {
        self.code.bytes().fold(0, |acc, digit| acc * 10 + u32::from(digit - b'0'))
    }
}

const fn p(
    code: &'static str,
    name: &'static str,
    population_thousands: u32,
    merged_2025_code: &'static str,
    merged_2025_name: &'static str,
) -> Province {
    Province { code, name, population_thousands, merged_2025_code, merged_2025_name }
}

/// Every province code, sorted by code (so lookups can binary-search).
pub const PROVINCES: [Province; 63] = [
    p("001", "Hà Nội", 8054, "01", "Hà Nội"),
    p("002", "Hà Giang", 854, "08", "Tuyên Quang"),
    p("004", "Cao Bằng", 530, "04", "Cao Bằng"),
    p("006", "Bắc Kạn", 314, "19", "Thái Nguyên"),
    p("008", "Tuyên Quang", 785, "08", "Tuyên Quang"),
    p("010", "Lào Cai", 731, "15", "Lào Cai"),
    p("011", "Điện Biên", 599, "11", "Điện Biên"),
    p("012", "Lai Châu", 460, "12", "Lai Châu"),
    p("014", "Sơn La", 1249, "14", "Sơn La"),
    p("015", "Yên Bái", 822, "15", "Lào Cai"),
    p("017", "Hòa Bình", 855, "25", "Phú Thọ"),
    p("019", "Thái Nguyên", 1287, "19", "Thái Nguyên"),
    p("020", "Lạng Sơn", 782, "20", "Lạng Sơn"),
    p("022", "Quảng Ninh", 1321, "22", "Quảng Ninh"),
    p("024", "Bắc Giang", 1804, "24", "Bắc Ninh"),
    p("025", "Phú Thọ", 1464, "25", "Phú Thọ"),
    p("026", "Vĩnh Phúc", 1152, "25", "Phú Thọ"),
    p("027", "Bắc Ninh", 1369, "24", "Bắc Ninh"),
    p("030", "Hải Dương", 1892, "31", "Hải Phòng"),
    p("031", "Hải Phòng", 2028, "31", "Hải Phòng"),
    p("033", "Hưng Yên", 1253, "33", "Hưng Yên"),
    p("034", "Thái Bình", 1861, "33", "Hưng Yên"),
    p("035", "Hà Nam", 853, "37", "Ninh Bình"),
    p("036", "Nam Định", 1780, "37", "Ninh Bình"),
    p("037", "Ninh Bình", 983, "37", "Ninh Bình"),
    p("038", "Thanh Hóa", 3640, "38", "Thanh Hóa"),
    p("040", "Nghệ An", 3327, "40", "Nghệ An"),
    p("042", "Hà Tĩnh", 1289, "42", "Hà Tĩnh"),
    p("044", "Quảng Bình", 896, "44", "Quảng Trị"),
    p("045", "Quảng Trị", 633, "44", "Quảng Trị"),
    p("046", "Thừa Thiên Huế", 1129, "46", "Huế"),
    p("048", "Đà Nẵng", 1135, "48", "Đà Nẵng"),
    p("049", "Quảng Nam", 1496, "48", "Đà Nẵng"),
    p("051", "Quảng Ngãi", 1232, "51", "Quảng Ngãi"),
    p("052", "Bình Định", 1487, "52", "Gia Lai"),
    p("054", "Phú Yên", 873, "66", "Đắk Lắk"),
    p("056", "Khánh Hòa", 1232, "56", "Khánh Hòa"),
    p("058", "Ninh Thuận", 591, "56", "Khánh Hòa"),
    p("060", "Bình Thuận", 1231, "68", "Lâm Đồng"),
    p("062", "Kon Tum", 540, "51", "Quảng Ngãi"),
    p("064", "Gia Lai", 1514, "52", "Gia Lai"),
    p("066", "Đắk Lắk", 1869, "66", "Đắk Lắk"),
    p("067", "Đắk Nông", 622, "68", "Lâm Đồng"),
    p("068", "Lâm Đồng", 1297, "68", "Lâm Đồng"),
    p("070", "Bình Phước", 995, "75", "Đồng Nai"),
    p("072", "Tây Ninh", 1170, "80", "Tây Ninh"),
    p("074", "Bình Dương", 2426, "79", "Hồ Chí Minh"),
    p("075", "Đồng Nai", 3097, "75", "Đồng Nai"),
    p("077", "Bà Rịa–Vũng Tàu", 1149, "79", "Hồ Chí Minh"),
    p("079", "Hồ Chí Minh", 8993, "79", "Hồ Chí Minh"),
    p("080", "Long An", 1689, "80", "Tây Ninh"),
    p("082", "Tiền Giang", 1765, "82", "Đồng Tháp"),
    p("083", "Bến Tre", 1289, "86", "Vĩnh Long"),
    p("084", "Trà Vinh", 1010, "86", "Vĩnh Long"),
    p("086", "Vĩnh Long", 1023, "86", "Vĩnh Long"),
    p("087", "Đồng Tháp", 1600, "82", "Đồng Tháp"),
    p("089", "An Giang", 1908, "91", "An Giang"),
    p("091", "Kiên Giang", 1724, "91", "An Giang"),
    p("092", "Cần Thơ", 1236, "92", "Cần Thơ"),
    p("093", "Hậu Giang", 733, "92", "Cần Thơ"),
    p("094", "Sóc Trăng", 1200, "92", "Cần Thơ"),
    p("095", "Bạc Liêu", 908, "96", "Cà Mau"),
    p("096", "Cà Mau", 1194, "96", "Cà Mau"),
];

/// The province with this three-digit code, if the code exists.
pub fn province(code: &str) -> Option<&'static Province> {
    let idx = PROVINCES.binary_search_by(|province| province.code.cmp(code)).ok()?;
    Some(&PROVINCES[idx])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in PROVINCES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].code, pair[1].code);
        }
        for province in &PROVINCES {
            assert_eq!(province.code.len(), 3);
            assert!(province.code.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(province.merged_2025_code.len(), 2);
        }
    }

    #[test]
    fn lookup_finds_every_code_and_nothing_else() {
        for entry in &PROVINCES {
            assert_eq!(province(entry.code), Some(entry));
        }
        assert_eq!(province("079").map(|p| p.name), Some("Hồ Chí Minh"));
        assert_eq!(province("079").map(Province::code_number), Some(79));
        for missing in ["000", "003", "097", "79", "0790", ""] {
            assert_eq!(province(missing), None, "{missing:?}");
        }
    }
}
