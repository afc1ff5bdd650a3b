//! The personal-ID parser against the partition map: every ID the parser accepts has exactly one partition, that
//! of its province, and every string the parser refuses has none (the node parses before it routes).
#![no_main]

use dancu_fuzz::PARTITION_MAP;
use dancu_node::personal_id::PersonalId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let partition = PARTITION_MAP.partition_for(text);
    match PersonalId::parse(text) {
        Ok(id) => {
            assert_eq!(id.as_str(), text);
            let spec = partition.expect("a valid personal ID has a partition");
            assert_eq!(spec.province_code, id.province_code());
            assert!(spec.contains(text));
            let year = id.birth_year();
            assert!((1900..=2399).contains(&year), "birth year {year}");
            let _ = id.sex();
        }
        Err(_) => assert!(partition.is_none(), "{text:?} is refused by the parser but routed to a partition"),
    }
});
