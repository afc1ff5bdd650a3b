//! Seed inputs for the fuzz targets (fuzz/fuzz_targets): valid, synthetic examples of what each target decodes, so
//! the fuzzer starts from inputs that get past decoding and admission instead of finding their shape byte by byte.
//! `make fuzz` runs it before the targets.
//!
//! `cargo run --release -p dancu-node --example fuzz_seeds -- DIR` writes DIR/TARGET/seed-N.

use std::path::Path;

use dancu_cluster_config::ClusterConfig;
use dancu_node::storage::keys;
use dancu_proto::v1 as pb;
use dancu_proto::Message;
use dancu_synthetic::Population;

const EXAMPLES: [&str; 3] = [
    include_str!("../../cluster-config/examples/local-3.toml"),
    include_str!("../../cluster-config/examples/local-3-secure.toml"),
    include_str!("../../cluster-config/examples/national.toml"),
];

/// The request target's sender byte for each example caller, and a purpose its role allows (see
/// fuzz_targets/request.rs: caller index in the high bits, 3 in the low ones).
const SENDERS: [(u8, &str); 4] = [(3, "audit"), (8 | 3, "kyc"), (16 | 3, "treatment"), (24 | 3, "investigation")];

fn write(dir: &Path, target: &str, seeds: &[Vec<u8>]) -> std::io::Result<()> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    for (idx, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{idx}")), seed)?;
    }
    Ok(())
}

fn tagged(kind: u8, sender: u8, message: &impl Message) -> Vec<u8> {
    let mut bytes = vec![kind, sender];
    bytes.extend(message.encode_to_vec());
    bytes
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?;
    let dir = Path::new(&dir);
    let citizens: Vec<pb::Citizen> = Population::new(42, 200)?.citizens().collect();
    let config = ClusterConfig::from_toml_str(EXAMPLES[1])?;
    let map = config.partition_map()?;

    let mut ids: Vec<Vec<u8>> = citizens.iter().take(20).map(|c| c.id.clone().into_bytes()).collect();
    ids.extend(["000000000000", "001", "0012345678901", "９９９９"].map(|text| text.as_bytes().to_vec()));
    write(dir, "personal_id", &ids)?;

    write(dir, "citizen_record", &citizens.iter().take(20).map(Message::encode_to_vec).collect::<Vec<_>>())?;
    // Without their comments (most of their bytes): mutations of a comment exercise nothing, and every byte of input
    // costs each execution time.
    write(dir, "cluster_config", &EXAMPLES.map(|text| without_comments(text).into_bytes()))?;

    let mut requests = Vec::new();
    for (sender, purpose) in SENDERS {
        let context = Some(pb::CallerContext { purpose: purpose.to_string(), request_id: "seed".to_string() });
        let citizen = &citizens[usize::from(sender) % citizens.len()];
        let id = citizen.id.clone();
        let query = pb::VerifyQuery {
            id: id.clone(),
            full_name: Some(citizen.full_name.clone()),
            date_of_birth: citizen.date_of_birth,
            sex: citizen.sex,
        };
        let pid = map.partition_for(&id).map_or(0, |spec| spec.id.0);
        requests.push(tagged(
            0,
            sender,
            &pb::GetCitizenRequest { id: id.clone(), context: context.clone(), ..Default::default() },
        ));
        let ids = citizens.iter().take(5).map(|c| c.id.clone()).collect();
        requests.push(tagged(
            1,
            sender,
            &pb::BatchGetCitizensRequest { ids, context: context.clone(), ..Default::default() },
        ));
        requests.push(tagged(
            2,
            sender,
            &pb::VerifyCitizenRequest { query: Some(query.clone()), context: context.clone(), ..Default::default() },
        ));
        requests.push(tagged(
            3,
            sender,
            &pb::BatchVerifyCitizensRequest { queries: vec![query; 3], context: context.clone(), ..Default::default() },
        ));
        requests.push(tagged(
            4,
            sender,
            &pb::SearchCitizensRequest {
                full_name: citizen.full_name.clone(),
                date_of_birth: citizen.date_of_birth,
                province_code: id[..3].to_string(),
                limit: 10,
                context: context.clone(),
                ..Default::default()
            },
        ));
        requests.push(tagged(
            5,
            sender,
            &pb::ListHouseholdRequest {
                household_id: citizen.household_id.clone(),
                context: context.clone(),
                ..Default::default()
            },
        ));
        requests.push(tagged(
            6,
            sender,
            &pb::LookupLegacyNumberRequest {
                legacy_id_number: "012345678".to_string(),
                context: context.clone(),
                ..Default::default()
            },
        ));
        requests.push(tagged(
            7,
            sender,
            &pb::ScanPartitionRequest {
                partition_id: pid,
                page_size: 10,
                context: context.clone(),
                ..Default::default()
            },
        ));
        requests.push(tagged(
            8,
            sender,
            &pb::PutCitizenRequest { citizen: Some(citizen.clone()), context: context.clone(), ..Default::default() },
        ));
        let same_partition: Vec<pb::Citizen> = citizens
            .iter()
            .filter(|c| map.partition_for(&c.id).map(|s| s.id.0) == Some(pid))
            .take(3)
            .cloned()
            .collect();
        requests.push(tagged(
            9,
            sender,
            &pb::PutCitizensRequest { citizens: same_partition, context: context.clone(), ..Default::default() },
        ));
        let event = pb::LifeEvent {
            id: id.clone(),
            date: Some(pb::Date { year: 2020, month: 1, day: 2 }),
            kind: Some(pb::life_event::Kind::Death(pb::Death::default())),
        };
        requests.push(tagged(
            10,
            sender,
            &pb::RecordLifeEventRequest { event: Some(event), context, ..Default::default() },
        ));
    }
    requests.push(tagged(11, 1, &pb::StatusRequest {}));
    requests.push(tagged(12, 3, &pb::WhoAmIRequest {}));
    write(dir, "request", &requests)?;

    let command = pb::Command {
        op: Some(pb::command::Op::PutCitizens(pb::PutCitizensCommand {
            citizens: citizens.iter().take(3).cloned().collect(),
            request_id: "seed".to_string(),
            proposed_at_unix_ms: 1_765_000_000_000,
        })),
    };
    let log_id = Some(pb::LogId { term: 3, node_id: 1, index: 42 });
    let entry = pb::Entry { log_id, payload: Some(pb::entry::Payload::Command(command)) };
    let membership = pb::Membership {
        configs: vec![pb::VoterSet { ids: vec![1, 2, 3] }],
        nodes: [
            (1, "127.0.0.1:7201".to_string()),
            (2, "127.0.0.1:7202".to_string()),
            (3, "127.0.0.1:7203".to_string()),
        ]
        .into_iter()
        .collect(),
    };
    let config_entry = pb::Entry { log_id, payload: Some(pb::entry::Payload::Membership(membership)) };
    let vote = Some(pb::Vote { term: 3, node_id: 1, committed: true });
    let append = pb::AppendEntriesRequest {
        partition_id: pid_of(&map, &citizens[0].id),
        vote,
        prev_log_id: Some(pb::LogId { term: 3, node_id: 1, index: 41 }),
        entries: vec![entry.clone(), config_entry.clone()],
        leader_commit: log_id,
    };
    let mut log = vec![tagged_raw(0, &entry), tagged_raw(0, &config_entry), tagged_raw(1, &append)];
    log.push(tagged_raw(3, &pb::VoteRequest { partition_id: 1, vote, last_log_id: log_id, ..Default::default() }));
    write(dir, "log_entry", &log)?;

    let pid = dancu_cluster_config::PartitionId(pid_of(&map, &citizens[0].id));
    let mut data = Vec::new();
    for citizen in citizens.iter().filter(|c| map.partition_for(&c.id).map(|s| s.id) == Some(pid)) {
        let item = pb::SnapshotItem {
            key: keys::tagged_key(pid, keys::STATE_CITIZEN, citizen.id.as_bytes()),
            value: citizen.encode_to_vec(),
        };
        data.extend(item.encode_length_delimited_to_vec());
    }
    let chunk = pb::SnapshotChunk {
        partition_id: pid.0,
        vote,
        meta: Some(pb::SnapshotMeta { last_log_id: log_id, last_membership: None }),
        data,
    };
    write(dir, "snapshot_chunk", &[chunk.encode_to_vec()])?;
    println!("fuzz seeds written to {}", dir.display());
    Ok(())
}

fn without_comments(toml: &str) -> String {
    toml.lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn pid_of(map: &dancu_cluster_config::PartitionMap, id: &str) -> u32 {
    map.partition_for(id).map_or(0, |spec| spec.id.0)
}

fn tagged_raw(kind: u8, message: &impl Message) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend(message.encode_to_vec());
    bytes
}
