//! `dancuctl get|put|batch-get`: citizen records.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use dancu_proto::v1::{BatchGetResult, Citizen, Consistency, GetCitizenResponse, PutCitizenResponse};
use serde::Serialize;

use super::table::{render, render_pairs};
use super::{plural, to_json, Failure, GlobalArgs, OutputFormat};
use crate::citizen_json::{parse_consistency, CitizenJson, PersonRefJson, PlaceJson};
use crate::routing::check_id;
use crate::BATCH_IDS_MAX;

/// Largest record file `put` reads; a record is a few kilobytes.
const RECORD_FILE_BYTES_MAX: u64 = 1 << 20;
/// Largest ID list `batch-get` reads (about 5 million IDs).
const ID_LIST_BYTES_MAX: u64 = 64 << 20;

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The 12-digit personal ID.
    id: String,
    /// linearizable (leader, lease or heartbeat), read-index (leader, never trusts clocks), follower (a replica,
    /// caught up to the leader's read index), stale (a replica's local state, possibly behind).
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// One JSON record (see examples/citizen.json); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Write only if the stored revision equals N (0: only if the record does not exist yet).
    #[arg(long, value_name = "N")]
    expected_revision: Option<u64>,
    /// Request id for exactly-once retries: repeating a put with the same id returns the first result
    /// (`deduplicated`). Default: a random 128-bit id.
    #[arg(long, value_name = "S")]
    request_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BatchGetArgs {
    /// IDs, one per line (blank lines and lines starting with `#` are skipped); `-` or no flag reads stdin.
    /// Lists longer than 1000 IDs are sent as several batches.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

/// `put --output json`.
#[derive(Debug, Serialize)]
struct PutJson<'a> {
    id: &'a str,
    revision: u64,
    log_index: u64,
    partition_id: u32,
    deduplicated: bool,
}

/// `batch-get --output json`: `{"results": [...]}`.
#[derive(Debug, Serialize)]
struct BatchJson {
    results: Vec<BatchResultJson>,
}

#[derive(Debug, Serialize)]
struct BatchResultJson {
    id: String,
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    citizen: Option<CitizenJson>,
    /// A cancelled ID: the ID that replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced_by: Option<String>,
}

pub(crate) async fn get(global: &GlobalArgs, args: GetArgs) -> Result<String, Failure> {
    check_id(&args.id).map_err(|message| Failure::usage(format!("invalid argument: id: {message}")))?;
    let client = global.connect().await?;
    let Some(response) = client.get(&args.id, args.consistency).await? else {
        return Err(Failure::usage(format!("citizen {} not found", args.id)));
    };
    let json = record_json(&response);
    match global.output {
        OutputFormat::Json => to_json(&json),
        OutputFormat::Table => {
            let mut pairs = citizen_pairs(&json);
            pairs.push(("log_index".to_string(), response.log_index.to_string()));
            if let Some(meta) = &response.meta {
                pairs.push(("served_by".to_string(), meta.served_by.to_string()));
                pairs.push(("partition_id".to_string(), meta.partition_id.to_string()));
            }
            Ok(render_pairs(&pairs))
        }
    }
}

/// The record as printed: the response's revision fills in a record that lacks one.
fn record_json(response: &GetCitizenResponse) -> CitizenJson {
    let mut json = CitizenJson::from(response.citizen.as_ref().unwrap_or(&Citizen::default()));
    if json.revision == 0 {
        json.revision = response.revision;
    }
    json
}

pub(crate) async fn put(global: &GlobalArgs, args: PutArgs) -> Result<String, Failure> {
    let source = source_name(Some(&args.file));
    let text = read_input(Some(&args.file), RECORD_FILE_BYTES_MAX)?;
    let citizen = CitizenJson::parse_citizen(&text).map_err(|error| Failure::usage(format!("{source}: {error}")))?;
    check_id(&citizen.id).map_err(|message| Failure::usage(format!("{source}: id: {message}")))?;
    let id = citizen.id.clone();
    let client = global.connect().await?;
    let response = match args.request_id {
        Some(request_id) => client.put_with_request_id(citizen, request_id, args.expected_revision).await?,
        None => client.put(citizen, args.expected_revision).await?,
    };
    match global.output {
        OutputFormat::Json => to_json(&put_json(&id, &response)),
        OutputFormat::Table => Ok(put_line(&id, &response)),
    }
}

fn put_json<'a>(id: &'a str, response: &PutCitizenResponse) -> PutJson<'a> {
    PutJson {
        id,
        revision: response.revision,
        log_index: response.log_index,
        partition_id: response.partition_id,
        deduplicated: response.deduplicated,
    }
}

fn put_line(id: &str, response: &PutCitizenResponse) -> String {
    let deduplicated = if response.deduplicated { " (deduplicated: an earlier attempt wrote it)" } else { "" };
    format!(
        "{id}: revision {}, log index {}, partition {}{deduplicated}\n",
        response.revision, response.log_index, response.partition_id
    )
}

pub(crate) async fn batch_get(global: &GlobalArgs, args: BatchGetArgs) -> Result<String, Failure> {
    let source = source_name(args.file.as_deref());
    let text = read_input(args.file.as_deref(), ID_LIST_BYTES_MAX)?;
    let ids = parse_id_list(&text).map_err(|message| Failure::usage(format!("{source}: {message}")))?;
    let client = global.connect().await?;
    let mut results: Vec<BatchGetResult> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH_IDS_MAX) {
        results.extend(client.batch_get(chunk, args.consistency).await?);
    }
    match global.output {
        OutputFormat::Json => to_json(&batch_json(results)),
        OutputFormat::Table => Ok(batch_table(&results)),
    }
}

/// IDs one per line; blank lines and `#` comments skipped; every ID checked, errors name the line.
fn parse_id_list(text: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for (line_idx, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        check_id(line).map_err(|message| format!("line {}: {message}", line_idx + 1))?;
        ids.push(line.to_string());
    }
    Ok(ids)
}

fn batch_json(results: Vec<BatchGetResult>) -> BatchJson {
    let results = results
        .into_iter()
        .map(|result| BatchResultJson {
            citizen: result.citizen.as_ref().filter(|_| result.found).map(CitizenJson::from),
            id: result.id,
            found: result.found,
            replaced_by: Some(result.replaced_by).filter(|id| !id.is_empty()),
        })
        .collect();
    BatchJson { results }
}

fn batch_table(results: &[BatchGetResult]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|result| {
            let name = result.citizen.as_ref().filter(|_| result.found).map(|c| c.full_name.clone());
            vec![result.id.clone(), if result.found { "yes" } else { "no" }.to_string(), name.unwrap_or_default()]
        })
        .collect();
    let n_found = results.iter().filter(|result| result.found).count();
    format!("{}{}, {n_found} found\n", render(&["ID", "FOUND", "FULL NAME"], &rows), plural(results.len(), "ID"))
}

/// `stdin` for `-` or no file, else the path.
pub(super) fn source_name(file: Option<&Path>) -> String {
    match file {
        None => "stdin".to_string(),
        Some(path) if path == Path::new("-") => "stdin".to_string(),
        Some(path) => path.display().to_string(),
    }
}

/// Reads a file, or stdin for `-` / no file, refusing more than `bytes_max`.
pub(super) fn read_input(file: Option<&Path>, bytes_max: u64) -> Result<String, Failure> {
    let source = source_name(file);
    let reader: Box<dyn Read> = match file {
        Some(path) if path != Path::new("-") => Box::new(
            std::fs::File::open(path).map_err(|error| Failure::usage(format!("cannot read {source}: {error}")))?,
        ),
        _ => Box::new(std::io::stdin()),
    };
    let mut bytes = Vec::new();
    reader
        .take(bytes_max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Failure::usage(format!("cannot read {source}: {error}")))?;
    if bytes.len() as u64 > bytes_max {
        return Err(Failure::usage(format!("{source}: larger than {bytes_max} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| Failure::usage(format!("{source}: not UTF-8 text")))
}

/// Key/value lines for a record, in field order, nested objects as `father.full_name`.
fn citizen_pairs(json: &CitizenJson) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut text = |key: &str, value: &str| {
        if !value.is_empty() {
            pairs.push((key.to_string(), value.to_string()));
        }
    };
    text("id", &json.id);
    text("full_name", &json.full_name);
    text("other_name", &json.other_name);
    text("date_of_birth", json.date_of_birth.as_deref().unwrap_or(""));
    text("sex", json.sex.as_deref().unwrap_or(""));
    place(&mut text, "birth_registration_place", json.birth_registration_place.as_ref());
    place(&mut text, "hometown", json.hometown.as_ref());
    text("ethnicity", &json.ethnicity);
    text("religion", &json.religion);
    text("nationality", &json.nationality);
    text("blood_type", json.blood_type.as_deref().unwrap_or(""));
    place(&mut text, "permanent_residence", json.permanent_residence.as_ref());
    place(&mut text, "temporary_residence", json.temporary_residence.as_ref());
    place(&mut text, "current_residence", json.current_residence.as_ref());
    text("household_id", &json.household_id);
    text("relationship_to_head", &json.relationship_to_head);
    person(&mut text, "father", json.father.as_ref());
    person(&mut text, "mother", json.mother.as_ref());
    person(&mut text, "spouse", json.spouse.as_ref());
    person(&mut text, "legal_representative", json.legal_representative.as_ref());
    text("status", json.status.as_deref().unwrap_or(""));
    text("status_date", json.status_date.as_deref().unwrap_or(""));
    text("id_card_number", &json.id_card_number);
    text("id_card_issue_date", json.id_card_issue_date.as_deref().unwrap_or(""));
    text("legacy_id_number", &json.legacy_id_number);
    text("revision", &json.revision.to_string());
    if json.updated_at_unix_ms != 0 {
        let updated_at = chrono::DateTime::from_timestamp_millis(json.updated_at_unix_ms)
            .map_or_else(|| json.updated_at_unix_ms.to_string(), |time| time.to_rfc3339());
        text("updated_at", &updated_at);
    }
    pairs
}

fn place(text: &mut impl FnMut(&str, &str), key: &str, place: Option<&PlaceJson>) {
    let Some(place) = place else { return };
    text(&format!("{key}.province_code"), &place.province_code);
    text(&format!("{key}.commune_code"), &place.commune_code);
    text(&format!("{key}.address_line"), &place.address_line);
}

fn person(text: &mut impl FnMut(&str, &str), key: &str, person: Option<&PersonRefJson>) {
    let Some(person) = person else { return };
    text(&format!("{key}.full_name"), &person.full_name);
    text(&format!("{key}.id"), &person.id);
    text(&format!("{key}.nationality"), &person.nationality);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_skip_blanks_and_name_bad_lines() {
        let ids = parse_id_list("001085012345\n\n# comment\n  079305000123  \n").expect("valid list");
        assert_eq!(ids, vec!["001085012345".to_string(), "079305000123".to_string()]);
        let error = parse_id_list("001085012345\n12345\n").unwrap_err();
        assert_eq!(error, "line 2: a personal ID is 12 digits, got \"12345\"");
    }

    #[test]
    fn put_outputs() {
        let response = PutCitizenResponse { revision: 2, log_index: 17, partition_id: 100, deduplicated: true };
        let value = serde_json::to_value(put_json("001085012345", &response)).expect("serializable");
        let want = serde_json::json!({
            "id": "001085012345", "revision": 2, "log_index": 17, "partition_id": 100, "deduplicated": true
        });
        assert_eq!(value, want);
        assert_eq!(
            put_line("001085012345", &response),
            "001085012345: revision 2, log index 17, partition 100 (deduplicated: an earlier attempt wrote it)\n"
        );
    }

    #[test]
    fn batch_json_omits_missing_citizens() {
        let results = vec![
            BatchGetResult {
                id: "001085012345".to_string(),
                found: true,
                citizen: Some(Citizen { id: "001085012345".to_string(), ..Citizen::default() }),
                meta: None,
                replaced_by: String::new(),
            },
            BatchGetResult {
                id: "001085000000".to_string(),
                found: false,
                citizen: None,
                meta: None,
                replaced_by: String::new(),
            },
            BatchGetResult {
                id: "001085000001".to_string(),
                found: false,
                citizen: None,
                meta: None,
                replaced_by: "001085000002".to_string(),
            },
        ];
        let value = serde_json::to_value(batch_json(results)).expect("serializable");
        let want = serde_json::json!({"results": [
            {"id": "001085012345", "found": true, "citizen": {"id": "001085012345"}},
            {"id": "001085000000", "found": false},
            {"id": "001085000001", "found": false, "replaced_by": "001085000002"}
        ]});
        assert_eq!(value, want);
    }

    #[test]
    fn record_pairs_follow_field_order() {
        let citizen = CitizenJson::parse_citizen(include_str!("../../examples/citizen.json")).expect("valid");
        let response = GetCitizenResponse { citizen: Some(citizen), revision: 3, ..Default::default() };
        let pairs = citizen_pairs(&record_json(&response));
        let keys: Vec<&str> = pairs.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(&keys[..4], &["id", "full_name", "date_of_birth", "sex"]);
        assert!(keys.contains(&"father.full_name"));
        assert_eq!(pairs.last(), Some(&("revision".to_string(), "3".to_string())));
    }
}
