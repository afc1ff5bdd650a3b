//! The search form of a name: what the name + date-of-birth index stores and `SearchCitizens` compares.
//!
//! Search is case- and diacritic-insensitive so a caller typing on a keyboard without Vietnamese
//! input finds `Nguyễn Văn An` with `nguyen van an`. The rule: decompose (NFD), drop combining marks,
//! fold `đ`/`Đ` to `d` (a base letter, not a mark, so NFD keeps it), lower-case, and collapse runs of
//! whitespace to one space. Verification does NOT use this form: it compares exactly after NFC.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The search key of `name`; equal keys mean "the same name for search".
pub fn search_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    let mut pending_space = false;
    // Lower-casing can itself produce a combining mark (`İ` → `i` + dot), so marks are dropped after it.
    for ch in name.chars().flat_map(char::to_lowercase).nfd() {
        if is_combining_mark(ch) {
            continue;
        }
        if ch.is_whitespace() {
            pending_space = !key.is_empty();
            continue;
        }
        if pending_space {
            key.push(' ');
            pending_space = false;
        }
        key.push(if ch == 'đ' { 'd' } else { ch });
    }
    key
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn unaccented_and_accented_names_meet() {
        assert_eq!(search_key("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(search_key("Nguyen Van An"), "nguyen van an");
        assert_eq!(search_key("  NGUYỄN   văn  an "), "nguyen van an");
        assert_eq!(search_key("Đặng Thị Ánh"), "dang thi anh");
        assert_eq!(search_key("Trương Quốc Bảo"), "truong quoc bao");
        // Decomposed input (typed on some systems) gives the same key.
        let decomposed: String = "Lê Thị Hồng".nfd().collect();
        assert_eq!(search_key(&decomposed), search_key("Lê Thị Hồng"));
        assert_ne!(search_key("Nguyễn Văn An"), search_key("Nguyễn Văn Anh"));
    }

    proptest! {
        #[test]
        fn the_key_is_a_fixed_point(name in "\\PC{0,40}") {
            let key = search_key(&name);
            prop_assert_eq!(search_key(&key), key.clone());
            prop_assert!(!key.starts_with(' ') && !key.ends_with(' '));
            prop_assert!(!key.contains('\0'));
        }
    }
}
