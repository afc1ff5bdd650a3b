//! Synthetic citizens for the demo: valid records of people who do not exist, the same for the same seed.

use dancu_client::proto::{BloodType, Citizen, Date, LifeStatus, Place, Sex};
use dancu_cluster_config::provinces::PROVINCES;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FAMILY_NAMES: [&str; 14] =
    ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"];
const MIDDLE_NAMES_MALE: [&str; 5] = ["Văn", "Hữu", "Đức", "Minh", "Quang"];
const MIDDLE_NAMES_FEMALE: [&str; 5] = ["Thị", "Ngọc", "Thu", "Thanh", "Mai"];
const GIVEN_NAMES_MALE: [&str; 10] = ["An", "Bình", "Cường", "Dũng", "Hải", "Khoa", "Nam", "Phúc", "Sơn", "Tuấn"];
const GIVEN_NAMES_FEMALE: [&str; 10] = ["Anh", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Thảo", "Trang", "Yến"];
const BLOOD_TYPES: [BloodType; 4] = [BloodType::A, BloodType::B, BloodType::Ab, BloodType::O];

/// Birth years drawn: all in the past and inside the 1900–2099 centuries the ID's sex digit encodes.
const BIRTH_YEARS: std::ops::RangeInclusive<u32> = 1930..=2020;

/// Serials are `idx × SERIAL_STRIDE + seed (mod 10⁶)`; the stride is coprime with 10⁶, so the first million
/// records of a seed have distinct serials, hence distinct IDs.
const SERIAL_STRIDE: u64 = 7919;
const SERIALS: u64 = 1_000_000;

/// Record `idx` of the synthetic population `seed`, in any of the 63 provinces.
pub fn citizen(seed: u64, idx: u64) -> Citizen {
    let mut rng = StdRng::seed_from_u64(seed ^ idx.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let province = PROVINCES[rng.random_range(0..PROVINCES.len())].code;
    let year = rng.random_range(BIRTH_YEARS);
    let female = rng.random_bool(0.5);
    let sex_century_digit = if year >= 2000 { 2 } else { 0 } + u32::from(female);
    let serial = (idx.wrapping_mul(SERIAL_STRIDE).wrapping_add(seed)) % SERIALS;
    let (middle_names, given_names) =
        if female { (&MIDDLE_NAMES_FEMALE, &GIVEN_NAMES_FEMALE) } else { (&MIDDLE_NAMES_MALE, &GIVEN_NAMES_MALE) };
    let full_name = format!(
        "{} {} {}",
        FAMILY_NAMES[rng.random_range(0..FAMILY_NAMES.len())],
        middle_names[rng.random_range(0..middle_names.len())],
        given_names[rng.random_range(0..given_names.len())],
    );
    let place = Place { province_code: province.to_string(), ..Place::default() };
    Citizen {
        id: format!("{province}{sex_century_digit}{:02}{serial:06}", year % 100),
        full_name,
        date_of_birth: Some(Date { year, month: rng.random_range(1..=12), day: rng.random_range(1..=28) }),
        sex: if female { Sex::Female } else { Sex::Male }.into(),
        birth_registration_place: Some(place.clone()),
        hometown: Some(place),
        ethnicity: "Kinh".to_string(),
        nationality: "Việt Nam".to_string(),
        blood_type: BLOOD_TYPES[rng.random_range(0..BLOOD_TYPES.len())].into(),
        status: LifeStatus::Alive.into(),
        ..Citizen::default()
    }
}
