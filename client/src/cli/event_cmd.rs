//! `dancuctl event birth|death|move|household|marry|correct-id`: life events.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use dancu_proto::v1::life_event::Kind;
use dancu_proto::v1::{Birth, Date, Death, HouseholdChange, LifeEvent, Move, Place, RecordLifeEventResponse};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::citizen_cmd::{read_input, source_name};
use super::{to_json, Failure, GlobalArgs, OutputFormat};
use crate::citizen_json::{parse_date_text, CitizenJson};
use crate::routing::check_id;
use crate::Client;

/// Largest record file read; a record is a few kilobytes.
const RECORD_FILE_BYTES_MAX: u64 = 1 << 20;

#[derive(Debug, Subcommand)]
pub(crate) enum EventCommand {
    /// A birth: creates the record from a JSON file (its `id` is the new personal ID).
    Birth {
        /// One JSON record (see examples/citizen.json); `-` reads stdin.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        request: RequestIdArg,
    },
    /// A death on --date.
    Death {
        /// The 12-digit personal ID.
        id: String,
        /// YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
        date: Date,
        #[command(flatten)]
        request: RequestIdArg,
    },
    /// A move: sets the permanent (default), current and/or temporary residence; refused for a deceased person.
    Move(MoveArgs),
    /// A change of household (and relationship to its head).
    Household {
        /// The 12-digit personal ID.
        id: String,
        /// The new household id.
        #[arg(long, value_name = "H")]
        household_id: String,
        /// Relationship to the household's head, e.g. `Con`, `Vợ`, `Chủ hộ`.
        #[arg(long, value_name = "R")]
        relationship: String,
        /// When, YYYY-MM-DD (default: today).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
        date: Option<Date>,
        #[command(flatten)]
        request: RequestIdArg,
    },
    /// A marriage of two citizens: each record gets the other as spouse.
    ///
    /// Writes the lower ID's side first, then the other, with request ids derived from the IDs and date, so
    /// running the same command again after a failure completes it without writing anything twice.
    Marry {
        /// One spouse's personal ID.
        id1: String,
        /// The other spouse's personal ID.
        id2: String,
        /// YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
        date: Date,
    },
    /// An ID correction: the corrected record (new ID) replaces OLD_ID.
    ///
    /// First creates the corrected record (from a JSON file, with the new ID) remembering OLD_ID, then cancels
    /// OLD_ID (reads of it answer "replaced by"). Running the same command again after a failure completes it
    /// without writing anything twice.
    CorrectId {
        /// The personal ID being cancelled.
        old_id: String,
        /// The corrected record (JSON, its `id` the new personal ID); `-` reads stdin.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RequestIdArg {
    /// Request id for exactly-once retries: repeating the event with the same id returns the first result
    /// (`deduplicated`). Default: a random 128-bit id.
    #[arg(long, value_name = "S")]
    request_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The 12-digit personal ID.
    id: String,
    /// When, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
    date: Date,
    /// Set the permanent residence (the default when none of --permanent, --current, --temporary is given).
    #[arg(long)]
    permanent: bool,
    /// Set the current residence.
    #[arg(long)]
    current: bool,
    /// Set the temporary residence.
    #[arg(long)]
    temporary: bool,
    /// 3-digit province code of the new place.
    #[arg(long, value_name = "PPP")]
    province: String,
    /// Commune code of the new place.
    #[arg(long, value_name = "CODE")]
    commune: String,
    /// Address line of the new place.
    #[arg(long, value_name = "TEXT")]
    address: String,
    #[command(flatten)]
    request: RequestIdArg,
}

/// One write's answer (`--output json`).
#[derive(Debug, Serialize)]
struct EventJson<'a> {
    id: &'a str,
    revision: u64,
    log_index: u64,
    partition_id: u32,
    deduplicated: bool,
}

/// The answers of a two-write event, in the order written.
#[derive(Debug, Serialize)]
struct WritesJson<'a> {
    writes: Vec<EventJson<'a>>,
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

fn check_id_arg(id: &str, field: &str) -> Result<(), Failure> {
    check_id(id).map_err(|message| Failure::usage(format!("invalid argument: {field}: {message}")))
}

pub(crate) async fn run(global: &GlobalArgs, command: EventCommand) -> Result<String, Failure> {
    let (event, request) = match command {
        EventCommand::Marry { id1, id2, date } => return marry(global, &id1, &id2, date).await,
        EventCommand::CorrectId { old_id, file } => return correct_id(global, &old_id, &file).await,
        EventCommand::Birth { file, request } => {
            let citizen = read_record(&file)?;
            let birth = Birth { citizen: Some(citizen.clone()) };
            (LifeEvent { id: citizen.id, date: None, kind: Some(Kind::Birth(birth)) }, request)
        }
        EventCommand::Death { id, date, request } => {
            (LifeEvent { id, date: Some(date), kind: Some(Kind::Death(Death {})) }, request)
        }
        EventCommand::Move(args) => move_event(args),
        EventCommand::Household { id, household_id, relationship, date, request } => {
            let change =
                HouseholdChange { household_id, relationship_to_head: nfc(&relationship), permanent_residence: None };
            let date = date.unwrap_or_else(today);
            (LifeEvent { id, date: Some(date), kind: Some(Kind::HouseholdChange(change)) }, request)
        }
    };
    check_id_arg(&event.id, "id")?;
    let client = global.connect().await?;
    let id = event.id.clone();
    let response = record(&client, event, request.request_id).await?;
    output(global, &[(id.as_str(), &response)], false)
}

fn move_event(args: MoveArgs) -> (LifeEvent, RequestIdArg) {
    let place = Place { province_code: args.province, commune_code: args.commune, address_line: nfc(&args.address) };
    let permanent = args.permanent || !(args.current || args.temporary);
    let change = Move {
        permanent_residence: permanent.then(|| place.clone()),
        temporary_residence: args.temporary.then(|| place.clone()),
        current_residence: args.current.then_some(place),
    };
    (LifeEvent { id: args.id, date: Some(args.date), kind: Some(Kind::Move(change)) }, args.request)
}

/// Today in the machine's time zone.
fn today() -> Date {
    use chrono::Datelike;
    let now = chrono::Local::now().date_naive();
    Date { year: u32::try_from(now.year()).unwrap_or(0), month: now.month(), day: now.day() }
}

async fn record(
    client: &Client,
    event: LifeEvent,
    request_id: Option<String>,
) -> Result<RecordLifeEventResponse, Failure> {
    let response = match request_id {
        Some(request_id) => client.record_event_with_request_id(event, request_id).await?,
        None => client.record_event(event).await?,
    };
    Ok(response)
}

async fn marry(global: &GlobalArgs, id1: &str, id2: &str, date: Date) -> Result<String, Failure> {
    check_id_arg(id1, "id1")?;
    check_id_arg(id2, "id2")?;
    let client = global.connect().await?;
    let outcome = client.marry(id1, id2, date).await?;
    output(global, &[(outcome.first_id.as_str(), &outcome.first), (outcome.second_id.as_str(), &outcome.second)], true)
}

async fn correct_id(global: &GlobalArgs, old_id: &str, file: &std::path::Path) -> Result<String, Failure> {
    check_id_arg(old_id, "old_id")?;
    let corrected = read_record(file)?;
    let new_id = corrected.id.clone();
    let client = global.connect().await?;
    let outcome = client.correct_id(old_id, corrected).await?;
    output(global, &[(new_id.as_str(), &outcome.corrected), (old_id, &outcome.cancelled)], true)
}

/// One JSON record from a file or stdin, with a well-formed ID.
fn read_record(file: &std::path::Path) -> Result<dancu_proto::v1::Citizen, Failure> {
    let source = source_name(Some(file));
    let text = read_input(Some(file), RECORD_FILE_BYTES_MAX)?;
    let citizen = CitizenJson::parse_citizen(&text).map_err(|error| Failure::usage(format!("{source}: {error}")))?;
    check_id(&citizen.id).map_err(|message| Failure::usage(format!("{source}: id: {message}")))?;
    Ok(citizen)
}

/// One line per write (`ID: revision R, log index L, partition P`), or JSON: one write's fields, or
/// `{"writes": [...]}` for the two-write events.
fn output(
    global: &GlobalArgs,
    writes: &[(&str, &RecordLifeEventResponse)],
    two_writes: bool,
) -> Result<String, Failure> {
    let json: Vec<EventJson<'_>> = writes
        .iter()
        .map(|(id, response)| EventJson {
            id,
            revision: response.revision,
            log_index: response.log_index,
            partition_id: response.partition_id,
            deduplicated: response.deduplicated,
        })
        .collect();
    match global.output {
        OutputFormat::Json if two_writes => to_json(&WritesJson { writes: json }),
        OutputFormat::Json => to_json(&json[0]),
        OutputFormat::Table => Ok(json
            .iter()
            .map(|write| {
                let deduplicated = if write.deduplicated { " (deduplicated: an earlier attempt wrote it)" } else { "" };
                format!(
                    "{}: revision {}, log index {}, partition {}{deduplicated}\n",
                    write.id, write.revision, write.log_index, write.partition_id
                )
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_defaults_to_the_permanent_residence() {
        let args = MoveArgs {
            id: "001085012345".to_string(),
            date: Date { year: 2024, month: 1, day: 2 },
            permanent: false,
            current: true,
            temporary: false,
            province: "079".to_string(),
            commune: "26734".to_string(),
            address: "Số 5".to_string(),
            request: RequestIdArg { request_id: None },
        };
        let (event, _) = move_event(args);
        let Some(Kind::Move(change)) = event.kind else { panic!("a move") };
        assert!(change.permanent_residence.is_none() && change.current_residence.is_some());
        let args = MoveArgs {
            id: "001085012345".to_string(),
            date: Date { year: 2024, month: 1, day: 2 },
            permanent: false,
            current: false,
            temporary: false,
            province: "079".to_string(),
            commune: "26734".to_string(),
            address: "Số 5".to_string(),
            request: RequestIdArg { request_id: None },
        };
        let Some(Kind::Move(change)) = move_event(args).0.kind else { panic!("a move") };
        assert_eq!(change.permanent_residence.map(|place| place.province_code), Some("079".to_string()));
        assert!(change.current_residence.is_none() && change.temporary_residence.is_none());
    }
}
