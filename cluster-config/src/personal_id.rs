//! Personal IDs as numbers: 12 ASCII digits ↔ `u64`, so ranges can be compared and stepped.

use crate::limits::PERSONAL_ID_DIGITS;

/// The ID's value, or `None` unless it is exactly 12 ASCII digits.
pub(crate) fn parse(text: &str) -> Option<u64> {
    if text.len() != PERSONAL_ID_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The ID as 12 digits, zero-padded.
pub(crate) fn format(value: u64) -> String {
    debug_assert!(value < 10u64.pow(PERSONAL_ID_DIGITS as u32));
    format!("{value:012}")
}

/// First ID of a province: `PPP000000000`.
pub(crate) fn province_start(code_number: u32) -> u64 {
    u64::from(code_number) * ids_per_province()
}

/// Last ID of a province: `PPP999999999`.
pub(crate) fn province_end(code_number: u32) -> u64 {
    province_start(code_number) + ids_per_province() - 1
}

fn ids_per_province() -> u64 {
    10u64.pow((PERSONAL_ID_DIGITS - crate::limits::PROVINCE_CODE_DIGITS) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_twelve_ascii_digits() {
        assert_eq!(parse("079123456789"), Some(79_123_456_789));
        assert_eq!(parse("000000000000"), Some(0));
        for bad in ["", "07912345678", "0791234567890", "+79123456789", "07912345678a", "０７９123456789"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn province_bounds_format_as_expected() {
        assert_eq!(format(province_start(1)), "001000000000");
        assert_eq!(format(province_end(1)), "001999999999");
        assert_eq!(format(province_end(96)), "096999999999");
    }
}
