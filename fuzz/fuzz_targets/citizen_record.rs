//! A citizen record from bytes: decoding and validation never panic, and the field mask's byte-level strip (what a
//! masked role receives) equals decoding, clearing the hidden fields and encoding — for every role of the example.
#![no_main]

use dancu_fuzz::{POLICY, TODAY};
use dancu_node::citizen;
use dancu_node::service::field_mask::stripped;
use dancu_proto::v1::Citizen;
use dancu_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = Citizen::decode(data);
    if let Ok(citizen) = &decoded {
        if let Ok(id) = citizen::validate(citizen, TODAY) {
            assert_eq!(id.as_str(), citizen.id);
        }
    }
    for role in POLICY.roles() {
        let mask = &role.mask;
        match (stripped(data, mask), &decoded) {
            (Ok(bytes), Ok(citizen)) => {
                let mut expected = citizen.clone();
                mask.clear(&mut expected);
                let got = Citizen::decode(bytes.as_slice()).expect("stripped bytes of a valid record decode");
                assert_eq!(got, expected, "role {}", role.name);
            }
            // The strip walks the wire format only; a record it accepts may still fail to decode (e.g. bad UTF-8
            // in a field it copies), and the reader reports that as corrupt data either way.
            (Ok(_), Err(_)) => {}
            (Err(_), Ok(_)) => panic!("role {}: strip refused bytes that decode as a Citizen", role.name),
            (Err(_), Err(_)) => {}
        }
    }
});
