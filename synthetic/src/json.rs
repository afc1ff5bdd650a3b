//! JSON lines, written by hand into a reused byte buffer: the generator's hot path.
//!
//! The output is byte-for-byte what `serde_json::to_string` prints for `dancu_client::CitizenJson` (field order,
//! omitted empty fields, escaping), but without building a `Citizen`, its strings or a `serde_json::Value`: every
//! piece is appended to one `Vec<u8>`, numbers through a two-digits-at-a-time table, and free text is escaped
//! after it is appended (one branch-free scan; the escaping path runs only if a character needs it).

use crate::calendar::Day;
use crate::ethnicity::{ETHNIC_GROUPS, RELIGIONS};
use crate::geography::Place;
use crate::person::{Chunk, Link, Person, NATIONALITY};

const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `value` as exactly `width` decimal digits, zero-padded (`value < 10^width`, `width <= 20`).
pub(crate) fn push_fixed(out: &mut Vec<u8>, mut value: u64, width: usize) {
    debug_assert!(width <= 20 && (width == 20 || value < 10u64.pow(width as u32)), "{value} in {width} digits");
    let mut digits = [b'0'; 20];
    let mut end = digits.len();
    while value >= 10 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        digits[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        end -= 2;
    }
    if value > 0 {
        digits[end - 1] = b'0' + value as u8;
    }
    out.extend_from_slice(&digits[digits.len() - width..]);
}

/// Appends `value` in decimal without padding.
pub(crate) fn push_decimal(out: &mut Vec<u8>, value: u32) {
    let width = match value {
        0..10 => 1,
        10..100 => 2,
        100..1_000 => 3,
        1_000..10_000 => 4,
        10_000..100_000 => 5,
        100_000..1_000_000 => 6,
        1_000_000..10_000_000 => 7,
        10_000_000..100_000_000 => 8,
        100_000_000..1_000_000_000 => 9,
        _ => 10,
    };
    push_fixed(out, u64::from(value), width);
}

/// Whether a byte must be escaped inside a JSON string.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Escapes, in place, the string bytes appended to `out` since `start` (the text between the quotes).
fn escape_since(out: &mut Vec<u8>, start: usize) {
    // A fold without early exit compiles to a vectorized scan: text almost never needs escaping.
    if !out[start..].iter().fold(false, |any, &byte| any | needs_escape(byte)) {
        return;
    }
    let raw = out.split_off(start);
    for &byte in &raw {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
            _ => out.push(byte),
        }
    }
}

/// Appends `"text"`, escaped as JSON.
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let start = out.len();
    out.extend_from_slice(text.as_bytes());
    escape_since(out, start);
    out.push(b'"');
}

fn push_date(out: &mut Vec<u8>, day: Day) {
    out.push(b'"');
    push_fixed(out, u64::from(day.year), 4);
    out.push(b'-');
    push_fixed(out, u64::from(day.month), 2);
    out.push(b'-');
    push_fixed(out, u64::from(day.day), 2);
    out.push(b'"');
}

fn push_name(out: &mut Vec<u8>, parts: [&str; 3]) {
    out.push(b'"');
    let start = out.len();
    out.extend_from_slice(parts[0].as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts[1].as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts[2].as_bytes());
    escape_since(out, start);
    out.push(b'"');
}

fn push_place(out: &mut Vec<u8>, place: Place) {
    out.extend_from_slice(b"{\"province_code\":");
    push_string(out, place.province().code);
    out.extend_from_slice(b",\"commune_code\":\"");
    push_fixed(out, u64::from(place.commune), 5);
    out.extend_from_slice(b"\",\"address_line\":\"");
    let start = out.len();
    place.push_address_line(out);
    escape_since(out, start);
    out.extend_from_slice(b"\"}");
}

/// Appends `,"key":{...}` for a link that is set.
fn push_link(out: &mut Vec<u8>, chunk: &Chunk, key: &[u8], link: Link) {
    let (name, id) = match link {
        Link::None => return,
        Link::Member(idx) => {
            let member = &chunk.people[idx as usize];
            (member.name, Some(member.id))
        }
        Link::External(name) => (name, None),
    };
    out.extend_from_slice(key);
    out.extend_from_slice(b"{\"full_name\":");
    push_name(out, name.parts());
    if let Some(id) = id {
        out.extend_from_slice(b",\"id\":\"");
        push_fixed(out, id, 12);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"nationality\":");
    push_string(out, NATIONALITY);
    out.push(b'}');
}

/// Appends person `idx` of `chunk` as one JSON line (with its newline).
pub(crate) fn push_record(out: &mut Vec<u8>, chunk: &Chunk, idx: usize) {
    let person: &Person = &chunk.people[idx];
    let household = chunk.household_of(person);
    out.extend_from_slice(b"{\"id\":\"");
    push_fixed(out, person.id, 12);
    out.extend_from_slice(b"\",\"full_name\":");
    push_name(out, person.name.parts());
    out.extend_from_slice(b",\"date_of_birth\":");
    push_date(out, person.birth);
    out.extend_from_slice(if person.female() { b",\"sex\":\"female\"" } else { b",\"sex\":\"male\"".as_slice() });
    out.extend_from_slice(b",\"birth_registration_place\":");
    push_place(out, person.birth_place);
    out.extend_from_slice(b",\"hometown\":");
    push_place(out, person.hometown);
    out.extend_from_slice(b",\"ethnicity\":");
    push_string(out, ETHNIC_GROUPS[usize::from(person.ethnicity)].0);
    out.extend_from_slice(b",\"religion\":");
    push_string(out, RELIGIONS[usize::from(person.religion)].0);
    out.extend_from_slice(b",\"nationality\":");
    push_string(out, NATIONALITY);
    out.extend_from_slice(b",\"blood_type\":");
    push_string(out, person.blood.text());
    out.extend_from_slice(b",\"permanent_residence\":");
    push_place(out, household.residence);
    if let Some(away) = person.away {
        out.extend_from_slice(b",\"temporary_residence\":");
        push_place(out, away);
    }
    out.extend_from_slice(b",\"current_residence\":");
    push_place(out, person.away.unwrap_or(household.residence));
    out.extend_from_slice(b",\"household_id\":\"HK");
    push_fixed(out, household.number, 10);
    out.extend_from_slice(b"\",\"relationship_to_head\":");
    push_string(out, person.relationship.text());
    push_link(out, chunk, b",\"father\":", person.father);
    push_link(out, chunk, b",\"mother\":", person.mother);
    push_link(out, chunk, b",\"spouse\":", person.spouse);
    push_link(out, chunk, b",\"legal_representative\":", person.legal_representative);
    push_status_and_documents(out, person);
    out.extend_from_slice(b",\"marital_status\":");
    push_string(out, person.marital.text());
    out.extend_from_slice(b"}\n");
}

fn push_status_and_documents(out: &mut Vec<u8>, person: &Person) {
    match person.death {
        None => out.extend_from_slice(b",\"status\":\"alive\""),
        Some(day) => {
            out.extend_from_slice(b",\"status\":\"deceased\",\"status_date\":");
            push_date(out, day);
        }
    }
    if let Some(issued) = person.id_card_issue {
        out.extend_from_slice(b",\"id_card_number\":\"");
        push_fixed(out, person.id, 12);
        out.extend_from_slice(b"\",\"id_card_issue_date\":");
        push_date(out, issued);
    }
    if let Some(number) = person.legacy_number {
        out.extend_from_slice(b",\"legacy_id_number\":\"");
        push_fixed(out, u64::from(number), 9);
        out.push(b'"');
    }
}

/// Appends every record of `chunk`.
pub(crate) fn push_chunk(out: &mut Vec<u8>, chunk: &Chunk) {
    for idx in 0..chunk.people.len() {
        push_record(out, chunk, idx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_fixed(value: u64, width: usize, expected: &str) {
        let mut out = Vec::new();
        push_fixed(&mut out, value, width);
        assert_eq!(String::from_utf8(out).expect("digits"), expected);
    }

    #[test]
    fn numbers() {
        check_fixed(0, 1, "0");
        check_fixed(0, 5, "00000");
        check_fixed(70, 5, "00070");
        check_fixed(1_085_012_345, 12, "001085012345");
        check_fixed(999_999_999_999, 12, "999999999999");
        check_fixed(7, 2, "07");
        for value in [0, 9, 10, 99, 100, 12_345, 999_999, u32::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        let samples = [
            "",
            "Nguyễn Thị Ánh",
            "quote \" backslash \\ slash /",
            "tab\tnewline\ncr\rbell\u{7}nul\u{0}unit\u{1f}del\u{7f}",
            "\u{8}\u{c}",
            "emoji 🇻🇳 and Bahá'í",
        ];
        for sample in samples {
            let mut out = Vec::new();
            push_string(&mut out, sample);
            let expected = serde_json::to_string(sample).expect("serializable");
            assert_eq!(String::from_utf8(out).expect("utf-8"), expected, "{sample:?}");
        }
        for byte in 0u8..0x80 {
            let text = format!("a{}b", char::from(byte));
            let mut out = Vec::new();
            push_string(&mut out, &text);
            assert_eq!(String::from_utf8(out).expect("utf-8"), serde_json::to_string(&text).expect("json"));
        }
    }
}
