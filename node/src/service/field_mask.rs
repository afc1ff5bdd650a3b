//! Field masks: top-level `Citizen` fields a restricted reader must not receive, removed from a record's stored bytes.
//!
//! A node keeps each record as its encoded `Citizen` and replies with those bytes as they are. For a masked role
//! [`strip`] walks the protobuf wire format once and copies every field the mask does not hide, byte for byte and in
//! order: no decode into a `Citizen`, no allocation per field, no UTF-8 checks (the record was checked when it was
//! written). On a record prost encoded (fields in number order, default values omitted) the output is exactly the
//! encoding of the record with the hidden fields cleared. `examples/mask_speed.rs` measures it against decoding,
//! clearing and encoding again.
//!
//! Names map to field numbers through the embedded dancu.v1 descriptor set (the one served for gRPC reflection), so
//! a field added to `citizen.proto` can be masked without touching this file.

use prost::Message;
use prost_types::FileDescriptorSet;
use thiserror::Error;

/// The package and message whose top-level fields a mask names.
const CITIZEN_PACKAGE: &str = "dancu.v1";
const CITIZEN_MESSAGE: &str = "Citizen";
/// A reply always names the record it carries, so no mask may hide the ID.
const ID_FIELD_NAME: &str = "id";
/// The largest field number protobuf allows (2^29 - 1).
pub const FIELD_NUMBER_MAX: u32 = (1 << 29) - 1;
/// Field numbers below this are looked up in a bitset; today's schema has no others.
const BITSET_FIELDS: u32 = u64::BITS;
/// A varint carries 64 bits at most, 7 per byte.
const VARINT_BYTES_MAX: usize = 10;

const WIRE_VARINT: u32 = 0;
const WIRE_FIXED64: u32 = 1;
const WIRE_LEN: u32 = 2;
const WIRE_FIXED32: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldMaskError {
    #[error("no field of dancu.v1.Citizen is named {0:?}")]
    UnknownField(String),
    #[error("the field `id` cannot be hidden: every reply names its record")]
    IdNotHideable,
    #[error("the embedded dancu.v1 descriptor set is unusable: {0}")]
    Descriptor(String),
    #[error("malformed record at byte {offset}: {problem}")]
    Malformed { offset: usize, problem: WireError },
}

/// What is wrong with a record's bytes, at the offset [`FieldMaskError::Malformed`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("varint cut off by the end of the record")]
    TruncatedVarint,
    #[error("varint longer than 64 bits")]
    VarintOverflow,
    #[error("field tag longer than 32 bits")]
    TagOverflow,
    #[error("field number 0")]
    FieldNumberZero,
    #[error("wire type {0} (groups are not used by dancu; 6 and 7 do not exist)")]
    WireType(u32),
    #[error("field value runs past the end of the record")]
    TruncatedValue,
}

/// The top-level `Citizen` fields one role may not see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMask {
    /// Bit `n` set: field `n` is hidden, for `n < 64` (every field of today's schema).
    low_bits: u64,
    /// Every hidden field as (number, name), ascending by number without duplicates: the names for display, and the
    /// lookup for numbers the bitset cannot hold.
    fields: Vec<(u32, String)>,
}

impl FieldMask {
    /// Hides nothing: the stored bytes can be sent as they are.
    pub fn none() -> FieldMask {
        FieldMask::default()
    }

    /// The mask hiding the named fields (proto names, e.g. `religion`). Decodes the descriptor set on every call, so
    /// build masks once per role, not per request.
    pub fn from_names(names: &[impl AsRef<str>]) -> Result<FieldMask, FieldMaskError> {
        let schema = citizen_fields()?;
        let mut fields = Vec::with_capacity(names.len());
        for name in names.iter().map(AsRef::as_ref) {
            if name == ID_FIELD_NAME {
                return Err(FieldMaskError::IdNotHideable);
            }
            let (_, number) = schema
                .iter()
                .find(|(schema_name, _)| schema_name == name)
                .ok_or_else(|| FieldMaskError::UnknownField(name.to_owned()))?;
            fields.push((*number, name.to_owned()));
        }
        Ok(FieldMask::from_fields(fields))
    }

    fn from_fields(mut fields: Vec<(u32, String)>) -> FieldMask {
        fields.sort_unstable();
        fields.dedup_by_key(|(number, _)| *number);
        assert!(fields.iter().all(|(number, _)| (1..=FIELD_NUMBER_MAX).contains(number)), "field numbers out of range");
        let low_bits =
            fields.iter().filter(|(number, _)| *number < BITSET_FIELDS).fold(0, |bits, (n, _)| bits | 1 << n);
        FieldMask { low_bits, fields }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether the field numbered `field_number` is removed. Numbers no mask names are never hidden.
    #[inline]
    pub fn hides(&self, field_number: u32) -> bool {
        if field_number < BITSET_FIELDS {
            return self.low_bits >> field_number & 1 == 1;
        }
        self.fields.binary_search_by_key(&field_number, |(number, _)| *number).is_ok()
    }

    /// The hidden fields' names, in field-number order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.fields.iter().map(|(_, name)| name.as_str())
    }
}

/// The top-level fields of `dancu.v1.Citizen` as (name, number), read from the embedded descriptor set.
fn citizen_fields() -> Result<Vec<(String, u32)>, FieldMaskError> {
    let set = FileDescriptorSet::decode(dancu_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| FieldMaskError::Descriptor(e.to_string()))?;
    let citizen = set
        .file
        .iter()
        .filter(|file| file.package() == CITIZEN_PACKAGE)
        .flat_map(|file| &file.message_type)
        .find(|message| message.name() == CITIZEN_MESSAGE)
        .ok_or_else(|| FieldMaskError::Descriptor(format!("no message {CITIZEN_PACKAGE}.{CITIZEN_MESSAGE}")))?;
    citizen
        .field
        .iter()
        .map(|field| match u32::try_from(field.number()) {
            Ok(number) if (1..=FIELD_NUMBER_MAX).contains(&number) => Ok((field.name().to_owned(), number)),
            _ => Err(FieldMaskError::Descriptor(format!("field {} has number {}", field.name(), field.number()))),
        })
        .collect()
}

/// Appends to `out` the fields of the encoded message `encoded` that `mask` does not hide, byte for byte and in order
/// (repeated and unknown fields included). Only the top-level framing is checked: kept values are copied unread. On
/// error `out` is left as it was.
pub fn strip(encoded: &[u8], mask: &FieldMask, out: &mut Vec<u8>) -> Result<(), FieldMaskError> {
    let out_len_before = out.len();
    out.reserve(encoded.len());
    let copied = copy_unhidden(encoded, mask, out);
    if copied.is_err() {
        out.truncate(out_len_before);
    }
    copied
}

impl FieldMask {
    /// Clears the hidden fields of a decoded record (scan pages and summaries are built from decoded records): the
    /// record is encoded, stripped and decoded again, so the same code decides what is hidden on every path.
    pub fn clear(&self, citizen: &mut dancu_proto::v1::Citizen) {
        if self.is_empty() {
            return;
        }
        // Encoding a message and stripping it cannot fail; should it ever, nothing of the record is shown.
        *citizen = stripped(&citizen.encode_to_vec(), self)
            .ok()
            .and_then(|bytes| dancu_proto::v1::Citizen::decode(bytes.as_slice()).ok())
            .unwrap_or_else(|| dancu_proto::v1::Citizen { id: citizen.id.clone(), ..Default::default() });
    }
}

/// [`strip`] into a new buffer.
pub fn stripped(encoded: &[u8], mask: &FieldMask) -> Result<Vec<u8>, FieldMaskError> {
    let mut out = Vec::with_capacity(encoded.len());
    strip(encoded, mask, &mut out)?;
    Ok(out)
}

fn copy_unhidden(encoded: &[u8], mask: &FieldMask, out: &mut Vec<u8>) -> Result<(), FieldMaskError> {
    // Kept fields are copied in runs, one copy per stretch between hidden fields.
    let mut run_start = 0;
    let mut pos = 0;
    // Bounded: every field is at least one byte long.
    while pos < encoded.len() {
        let (field_number, field_end) = field_at(encoded, pos)?;
        assert!(pos < field_end && field_end <= encoded.len(), "field {pos}..{field_end} of {}", encoded.len());
        if mask.hides(field_number) {
            out.extend_from_slice(&encoded[run_start..pos]);
            run_start = field_end;
        }
        pos = field_end;
    }
    out.extend_from_slice(&encoded[run_start..]);
    Ok(())
}

/// The field starting at `start`: its number and the offset just past its value.
#[inline]
fn field_at(bytes: &[u8], start: usize) -> Result<(u32, usize), FieldMaskError> {
    let (tag, value_start) = varint_at(bytes, start)?;
    let tag = u32::try_from(tag).map_err(|_| malformed(start, WireError::TagOverflow))?;
    let field_number = tag >> 3;
    if field_number == 0 {
        return Err(malformed(start, WireError::FieldNumberZero));
    }
    let value_end = match tag & 7 {
        WIRE_VARINT => varint_at(bytes, value_start)?.1,
        WIRE_FIXED64 => value_start + 8,
        WIRE_LEN => {
            let (len, data_start) = varint_at(bytes, value_start)?;
            // Compared before adding, so a huge length cannot overflow.
            match usize::try_from(len) {
                Ok(len) if len <= bytes.len() - data_start => data_start + len,
                _ => return Err(malformed(value_start, WireError::TruncatedValue)),
            }
        }
        WIRE_FIXED32 => value_start + 4,
        wire_type => return Err(malformed(start, WireError::WireType(wire_type))),
    };
    if value_end > bytes.len() {
        return Err(malformed(value_start, WireError::TruncatedValue));
    }
    Ok((field_number, value_end))
}

/// The varint starting at `start` and the offset just past it. Over-long encodings are accepted, as protobuf allows,
/// up to 10 bytes and 64 bits.
#[inline]
fn varint_at(bytes: &[u8], start: usize) -> Result<(u64, usize), FieldMaskError> {
    let rest = bytes.get(start..).unwrap_or_default();
    let mut value = 0u64;
    for (idx, &byte) in rest.iter().take(VARINT_BYTES_MAX).enumerate() {
        // The tenth byte holds bit 63 only and ends the varint.
        if idx == VARINT_BYTES_MAX - 1 && byte > 1 {
            return Err(malformed(start, WireError::VarintOverflow));
        }
        value |= u64::from(byte & 0x7f) << (7 * idx);
        if byte < 0x80 {
            return Ok((value, start + idx + 1));
        }
    }
    Err(malformed(start, WireError::TruncatedVarint))
}

fn malformed(offset: usize, problem: WireError) -> FieldMaskError {
    FieldMaskError::Malformed { offset, problem }
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::{Citizen, Date, PersonRef, Place};
    use dancu_synthetic::Population;
    use proptest::prelude::*;

    use super::*;

    /// Sets field `number` of `citizen` to its default. Written by hand, independent of the descriptor, as the
    /// oracle for `strip`; `clear_field_covers_the_schema` keeps it complete.
    fn clear_field(citizen: &mut Citizen, number: u32) {
        match number {
            1 => citizen.id.clear(),
            2 => citizen.full_name.clear(),
            3 => citizen.other_name.clear(),
            4 => citizen.date_of_birth = None,
            5 => citizen.sex = 0,
            6 => citizen.birth_registration_place = None,
            7 => citizen.hometown = None,
            8 => citizen.ethnicity.clear(),
            9 => citizen.religion.clear(),
            10 => citizen.nationality.clear(),
            11 => citizen.blood_type = 0,
            12 => citizen.permanent_residence = None,
            13 => citizen.temporary_residence = None,
            14 => citizen.current_residence = None,
            15 => citizen.household_id.clear(),
            16 => citizen.relationship_to_head.clear(),
            17 => citizen.father = None,
            18 => citizen.mother = None,
            19 => citizen.spouse = None,
            20 => citizen.legal_representative = None,
            21 => citizen.status = 0,
            22 => citizen.status_date = None,
            23 => citizen.id_card_number.clear(),
            24 => citizen.id_card_issue_date = None,
            25 => citizen.legacy_id_number.clear(),
            26 => citizen.revision = 0,
            27 => citizen.updated_at_unix_ms = 0,
            28 => citizen.earlier_ids.clear(),
            29 => citizen.replaced_by.clear(),
            30 => citizen.marital_status = 0,
            _ => panic!("clear_field does not know Citizen field {number}"),
        }
    }

    /// The Citizen with `mask`'s fields cleared: what a masked reader should decode.
    fn cleared(citizen: &Citizen, mask: &FieldMask) -> Citizen {
        let mut expected = citizen.clone();
        for number in (1..=30).filter(|n| mask.hides(*n)) {
            clear_field(&mut expected, number);
        }
        expected
    }

    /// Strips `citizen`'s encoding and checks it against the encoding of the cleared record, byte for byte.
    fn check_strip(citizen: &Citizen, mask: &FieldMask) {
        let expected = cleared(citizen, mask);
        let out = stripped(&citizen.encode_to_vec(), mask).expect("a prost encoding is well formed");
        assert_eq!(out, expected.encode_to_vec());
        assert_eq!(Citizen::decode(out.as_slice()).expect("stripped bytes decode"), expected);
    }

    fn check_malformed(bytes: &[u8], offset: usize, problem: WireError) {
        let mut out = b"kept".to_vec();
        assert_eq!(strip(bytes, &FieldMask::none(), &mut out), Err(FieldMaskError::Malformed { offset, problem }));
        assert_eq!(out, b"kept", "a failed strip leaves the buffer as it was");
    }

    fn mask_of(names: &[impl AsRef<str>]) -> FieldMask {
        FieldMask::from_names(names).expect("known field names")
    }

    /// The descriptor's field names other than `id`, in field-number order.
    fn hideable_names() -> Vec<String> {
        let mut fields = citizen_fields().expect("descriptor");
        fields.sort_by_key(|(_, number)| *number);
        fields.into_iter().map(|(name, _)| name).filter(|name| name != ID_FIELD_NAME).collect()
    }

    fn text() -> BoxedStrategy<String> {
        prop_oneof![Just(String::new()), "[0-9]{1,12}", "\\PC{1,24}", "[ĐđƯưƠơẠ-ỹ ]{1,16}"].boxed()
    }

    fn date() -> BoxedStrategy<Option<Date>> {
        let date = (any::<u32>(), 0u32..13, 0u32..32).prop_map(|(year, month, day)| Date { year, month, day });
        proptest::option::of(date).boxed()
    }

    fn place() -> BoxedStrategy<Option<Place>> {
        proptest::option::of((text(), text(), text()).prop_map(|(province_code, commune_code, address_line)| Place {
            province_code,
            commune_code,
            address_line,
        }))
        .boxed()
    }

    fn person() -> BoxedStrategy<Option<PersonRef>> {
        proptest::option::of((text(), text(), text()).prop_map(|(full_name, id, nationality)| PersonRef {
            full_name,
            id,
            nationality,
        }))
        .boxed()
    }

    /// Enum values, including ones the schema does not name and negative ones (ten-byte varints).
    fn enum_value() -> impl Strategy<Value = i32> {
        prop_oneof![0i32..5, any::<i32>()]
    }

    fn citizen() -> impl Strategy<Value = Citizen> {
        let texts = (text(), text(), text(), text(), text(), text(), text(), text(), text(), text(), text()).boxed();
        let nested = (
            (date(), date(), date()),
            (place(), place(), place(), place(), place()),
            (person(), person(), person(), person()),
        )
            .boxed();
        let numbers = (
            (enum_value(), enum_value(), enum_value(), enum_value()),
            prop_oneof![0u64..3, any::<u64>()],
            prop_oneof![-1i64..2, any::<i64>()],
            proptest::collection::vec(text(), 0..4),
        )
            .boxed();
        (texts, nested, numbers).prop_map(|(t, n, (enums, revision, updated_at_unix_ms, earlier_ids))| Citizen {
            id: t.0,
            full_name: t.1,
            other_name: t.2,
            ethnicity: t.3,
            religion: t.4,
            nationality: t.5,
            household_id: t.6,
            relationship_to_head: t.7,
            id_card_number: t.8,
            legacy_id_number: t.9,
            replaced_by: t.10,
            date_of_birth: n.0 .0,
            status_date: n.0 .1,
            id_card_issue_date: n.0 .2,
            birth_registration_place: n.1 .0,
            hometown: n.1 .1,
            permanent_residence: n.1 .2,
            temporary_residence: n.1 .3,
            current_residence: n.1 .4,
            father: n.2 .0,
            mother: n.2 .1,
            spouse: n.2 .2,
            legal_representative: n.2 .3,
            sex: enums.0,
            blood_type: enums.1,
            status: enums.2,
            marital_status: enums.3,
            revision,
            updated_at_unix_ms,
            earlier_ids,
        })
    }

    /// A mask naming an arbitrary subset of the hideable fields.
    fn mask() -> impl Strategy<Value = FieldMask> {
        let names = hideable_names();
        proptest::sample::subsequence(names.clone(), 0..=names.len()).prop_map(|picked| mask_of(&picked))
    }

    proptest! {
        #[test]
        fn strip_equals_encoding_with_hidden_fields_cleared(citizen in citizen(), mask in mask()) {
            check_strip(&citizen, &mask);
        }

        /// Arbitrary bytes never panic; with nothing hidden, accepted bytes come back unchanged.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), mask in mask()) {
            if let Ok(out) = stripped(&bytes, &FieldMask::none()) {
                prop_assert_eq!(out, bytes.clone());
            }
            let _ = stripped(&bytes, &mask);
        }

        /// Bytes that are almost records: a real encoding cut short or with one byte changed.
        #[test]
        fn damaged_records_never_panic(citizen in citizen(), mask in mask(), cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(), byte in any::<u8>())
        {
            let mut bytes = citizen.encode_to_vec();
            if !bytes.is_empty() {
                let at = flip.index(bytes.len());
                bytes[at] = byte;
                bytes.truncate(cut.index(bytes.len()) + 1);
            }
            let _ = stripped(&bytes, &mask);
        }
    }

    #[test]
    fn synthetic_records_strip_like_decode_clear_encode() {
        let population = Population::new(7, 2_000).expect("population");
        let masks =
            [mask_of(&["ethnicity", "religion"]), mask_of(&["father", "mother", "earlier_ids"]), FieldMask::none()];
        for citizen in population.citizens() {
            for mask in &masks {
                check_strip(&citizen, mask);
            }
        }
    }

    #[test]
    fn nothing_hidden_copies_the_record() {
        let citizen = Population::new(3, 1).expect("population").citizens().next().expect("one record");
        let encoded = citizen.encode_to_vec();
        assert_eq!(stripped(&encoded, &FieldMask::none()), Ok(encoded));
        assert_eq!(stripped(&[], &mask_of(&["religion"])), Ok(Vec::new()));
    }

    #[test]
    fn unknown_and_high_fields_are_kept_unless_named() {
        let citizen = Citizen { id: "001200000001".into(), religion: "Phật giáo".into(), ..Citizen::default() };
        let mut encoded = citizen.encode_to_vec();
        let known_len = encoded.len();
        // Field 31 varint 300, field 64 fixed32, field 1000 fixed64, field 2^29-1 length-delimited "ab".
        encoded.extend_from_slice(&[0xf8, 0x01, 0xac, 0x02]);
        encoded.extend_from_slice(&[0x85, 0x04, 1, 2, 3, 4]);
        encoded.extend_from_slice(&[0xc1, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8]);
        encoded.extend_from_slice(&[0xfa, 0xff, 0xff, 0xff, 0x0f, 2, b'a', b'b']);
        let unknown = encoded[known_len..].to_vec();

        let out = stripped(&encoded, &mask_of(&["religion"])).expect("well formed");
        let mut expected = Citizen { religion: String::new(), ..citizen.clone() }.encode_to_vec();
        expected.extend_from_slice(&unknown);
        assert_eq!(out, expected);

        let high = FieldMask::from_fields(vec![(64, "f64".into()), (FIELD_NUMBER_MAX, "f_max".into())]);
        assert!(high.hides(64) && high.hides(FIELD_NUMBER_MAX) && !high.hides(31) && !high.hides(1000));
        let out = stripped(&encoded, &high).expect("well formed");
        let mut expected = encoded[..known_len].to_vec();
        expected.extend_from_slice(&[0xf8, 0x01, 0xac, 0x02, 0xc1, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out, expected);
        assert_eq!(high.names().collect::<Vec<_>>(), ["f64", "f_max"]);
    }

    #[test]
    fn hides_only_what_is_named() {
        let mask = mask_of(&["religion"]);
        for number in [0, 1, 8, 10, 63, 64, FIELD_NUMBER_MAX, u32::MAX] {
            assert!(!mask.hides(number), "field {number}");
            assert!(!FieldMask::none().hides(number), "field {number}");
        }
        assert!(mask.hides(9));
    }

    #[test]
    fn malformed_records_are_errors() {
        check_malformed(&[0x80], 0, WireError::TruncatedVarint);
        check_malformed(&[0x08], 1, WireError::TruncatedVarint);
        check_malformed(&[0x42], 1, WireError::TruncatedVarint);
        check_malformed(&[0x42, 0x05, b'a'], 1, WireError::TruncatedValue);
        check_malformed(
            &[0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            1,
            WireError::TruncatedValue,
        );
        check_malformed(&[0x0d, 1, 2, 3], 1, WireError::TruncatedValue);
        check_malformed(&[0x09, 1, 2, 3, 4, 5, 6, 7], 1, WireError::TruncatedValue);
        check_malformed(
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            1,
            WireError::VarintOverflow,
        );
        check_malformed(
            &[0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            1,
            WireError::VarintOverflow,
        );
        check_malformed(&[0x80, 0x80, 0x80, 0x80, 0x10], 0, WireError::TagOverflow);
        check_malformed(&[0x00], 0, WireError::FieldNumberZero);
        for (tag, wire_type) in [(0x0b, 3), (0x0c, 4), (0x0e, 6), (0x0f, 7)] {
            check_malformed(&[0x08, 0x01, tag, 0x00], 2, WireError::WireType(wire_type));
        }
    }

    #[test]
    fn over_long_varints_are_accepted() {
        // Field 26 (revision) = 1 spelled in ten bytes, as protobuf parsers accept.
        let encoded = [0xd0, 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(stripped(&encoded, &mask_of(&["religion"])), Ok(encoded.to_vec()));
        assert_eq!(stripped(&encoded, &mask_of(&["revision"])), Ok(Vec::new()));
    }

    #[test]
    fn from_names_maps_through_the_descriptor() {
        let mask = mask_of(&["religion", "ethnicity", "religion"]);
        assert!(mask.hides(8) && mask.hides(9));
        assert_eq!((1..=30).filter(|n| mask.hides(*n)).collect::<Vec<_>>(), [8, 9]);
        assert_eq!(mask.names().collect::<Vec<_>>(), ["ethnicity", "religion"]);
        assert!(!mask.is_empty() && FieldMask::none().is_empty());
        assert!(mask_of(&[""; 0]).is_empty());

        assert_eq!(FieldMask::from_names(&["religion", "faith"]), Err(FieldMaskError::UnknownField("faith".into())));
        assert_eq!(FieldMask::from_names(&["Religion"]), Err(FieldMaskError::UnknownField("Religion".into())));
        assert_eq!(FieldMask::from_names(&["ethnicity", "id"]), Err(FieldMaskError::IdNotHideable));
    }

    /// Every field of the schema can be hidden by name (except `id`), and hides exactly its own number.
    #[test]
    fn every_citizen_field_can_be_named() {
        let set = FileDescriptorSet::decode(dancu_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let citizen = set
            .file
            .iter()
            .filter(|file| file.package() == "dancu.v1")
            .flat_map(|file| &file.message_type)
            .find(|message| message.name() == "Citizen")
            .expect("dancu.v1.Citizen");
        assert_eq!(citizen.field.len(), 30, "a new field: extend clear_field and the generators above");
        for field in &citizen.field {
            let number = u32::try_from(field.number()).expect("positive field number");
            if field.name() == "id" {
                assert_eq!(number, 1);
                continue;
            }
            let mask = mask_of(&[field.name()]);
            assert_eq!((0..=64).filter(|n| mask.hides(*n)).collect::<Vec<_>>(), [number], "{}", field.name());
        }
    }

    #[test]
    fn clear_field_covers_the_schema() {
        let mut citizen = Citizen::default();
        for (_, number) in citizen_fields().expect("descriptor") {
            clear_field(&mut citizen, number);
        }
    }
}
