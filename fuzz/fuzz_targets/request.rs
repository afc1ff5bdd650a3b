//! Every Registry request type as a node receives it: protobuf decode, admission under the secure example's policy
//! (as each example caller, as a node forwarding for one, as a node for itself, as an unknown caller, or with no
//! certificate at all), then validation. Never a panic; an admitted request's role allows its operation, and a
//! validated one names only partitions in the caller's scope.
#![no_main]

use dancu_cluster_config::PartitionId;
use dancu_fuzz::{PARTITION_MAP, POLICY, TODAY};
use dancu_node::service::caller::{admit, Access, Caller, ON_BEHALF_OF_HEADER};
use dancu_node::service::request::{self as valid, Checks, HouseholdOf, Today, Validate};
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use dancu_tls::{PeerIdentity, PeerInfo};
use libfuzzer_sys::fuzz_target;
use tonic::metadata::MetadataValue;

const CALLERS: [&str; 5] = ["admin", "bank", "health-ministry", "hanoi-police", "someone-else"];

/// Who sends the request: a certificate's identity and, for a node, the caller it forwards for.
fn sender(who: u8) -> (Option<PeerIdentity>, Option<&'static str>) {
    let caller = CALLERS[usize::from(who >> 3) % CALLERS.len()];
    match who & 7 {
        0 => (None, None),
        1 => (Some(PeerIdentity::Node(u64::from(who >> 3))), None),
        2 => (Some(PeerIdentity::Node(1)), Some(caller)),
        _ => (Some(PeerIdentity::Caller(caller.to_string())), None),
    }
}

/// The partitions a validated request will read or write.
trait Partitions {
    fn partitions(&self) -> Vec<PartitionId>;
}

macro_rules! one_partition {
    ($($valid:ty),*) => {$(
        impl Partitions for $valid {
            fn partitions(&self) -> Vec<PartitionId> {
                vec![self.partition]
            }
        }
    )*};
}

one_partition!(
    valid::ValidGet,
    valid::ValidVerify,
    valid::ValidScan,
    valid::ValidPut,
    valid::ValidPutBatch,
    valid::ValidEvent
);

impl Partitions for valid::ValidBatchGet {
    fn partitions(&self) -> Vec<PartitionId> {
        assert_eq!(self.partitions.len(), self.ids.len());
        self.partitions.clone()
    }
}

impl Partitions for valid::ValidBatchVerify {
    fn partitions(&self) -> Vec<PartitionId> {
        assert_eq!(self.partitions.len(), self.queries.len());
        self.partitions.clone()
    }
}

impl Partitions for valid::ValidHousehold {
    fn partitions(&self) -> Vec<PartitionId> {
        match &self.of {
            HouseholdOf::Member { partition, .. } => vec![*partition],
            HouseholdOf::Household(_) => Vec::new(),
        }
    }
}

/// Scatter-gather queries: their partitions are planned later, against the scope again.
macro_rules! planned_later {
    ($($valid:ty),*) => {$(
        impl Partitions for $valid {
            fn partitions(&self) -> Vec<PartitionId> {
                Vec::new()
            }
        }
    )*};
}

planned_later!(valid::ValidLegacy, valid::ValidSearch, ());

fn check<Q>(bytes: &[u8], who: u8)
where
    Q: Validate + Message + Default,
    Q::Valid: Partitions,
{
    let Ok(message) = Q::decode(bytes) else {
        return;
    };
    let mut request = tonic::Request::new(message);
    let (identity, on_behalf_of) = sender(who);
    if let Some(identity) = identity {
        request.extensions_mut().insert(PeerInfo { remote_addr: None, identity });
    }
    if let Some(name) = on_behalf_of {
        request.metadata_mut().insert(ON_BEHALF_OF_HEADER, MetadataValue::from_static(name));
    }
    let Ok(caller) = admit(&POLICY, &request) else {
        return;
    };
    if let Access::Operation(operation) = Q::ACCESS {
        assert!(caller.role().allows(operation), "admitted without {operation}");
        assert!(caller.role().allows_purpose(&caller.purpose));
    }
    let checks = Checks { partition_map: &PARTITION_MAP, today: Today::Fixed(TODAY) };
    if let Ok(valid) = request.into_inner().validate(&caller, &checks) {
        in_scope(&caller, &valid.partitions());
    }
}

fn in_scope(caller: &Caller, partitions: &[PartitionId]) {
    for &pid in partitions {
        let spec = PARTITION_MAP.get(pid).expect("a validated partition exists");
        assert!(caller.role().in_scope(&spec.province_code), "partition {} outside role {}", pid.0, caller.role().name);
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, who, bytes @ ..] = data else {
        return;
    };
    match kind % 13 {
        0 => check::<pb::GetCitizenRequest>(bytes, *who),
        1 => check::<pb::BatchGetCitizensRequest>(bytes, *who),
        2 => check::<pb::VerifyCitizenRequest>(bytes, *who),
        3 => check::<pb::BatchVerifyCitizensRequest>(bytes, *who),
        4 => check::<pb::SearchCitizensRequest>(bytes, *who),
        5 => check::<pb::ListHouseholdRequest>(bytes, *who),
        6 => check::<pb::LookupLegacyNumberRequest>(bytes, *who),
        7 => check::<pb::ScanPartitionRequest>(bytes, *who),
        8 => check::<pb::PutCitizenRequest>(bytes, *who),
        9 => check::<pb::PutCitizensRequest>(bytes, *who),
        10 => check::<pb::RecordLifeEventRequest>(bytes, *who),
        11 => check::<pb::StatusRequest>(bytes, *who),
        _ => check::<pb::WhoAmIRequest>(bytes, *who),
    }
});
