//! `dancuctl verify|batch-verify|legacy|household|search|scan`: questions to the register beyond one record.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use dancu_proto::v1::{CitizenSummary, Consistency, FieldMatch, IdStatus, Sex, VerifyQuery, VerifyResult};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::citizen_cmd::{read_input, source_name};
use super::table::{render, render_pairs};
use super::{plural, to_json, Failure, GlobalArgs, OutputFormat};
use crate::citizen_json::{
    format_date, format_sex, format_status, parse_consistency, parse_date_text, parse_sex_text, CitizenJson,
};
use crate::routing::check_id;
use crate::{ClientError, ScanOptions, SearchQuery, BATCH_IDS_MAX};

/// Largest query list `batch-verify` reads.
const QUERY_LIST_BYTES_MAX: u64 = 64 << 20;

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The 12-digit personal ID.
    id: String,
    /// The claimed full name (compared exactly after NFC normalization: case, spacing and diacritics count).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The claimed date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
    dob: Option<dancu_proto::v1::Date>,
    /// The claimed sex: male or female.
    #[arg(long, value_parser = parse_sex_text)]
    sex: Option<Sex>,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct BatchVerifyArgs {
    /// JSON lines `{"id", "full_name"?, "date_of_birth"?, "sex"?}` (blank lines skipped); `-` or none: stdin.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct LegacyArgs {
    /// The legacy 9-digit identity card number (CMND).
    number: String,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "household_id"])))]
pub(crate) struct HouseholdArgs {
    /// A member's personal ID.
    id: Option<String>,
    /// The household id instead of a member's ID.
    #[arg(long, value_name = "H")]
    household_id: Option<String>,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Full name (case- and diacritic-insensitive).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date_text)]
    dob: dancu_proto::v1::Date,
    /// Only IDs of this 3-digit province code (where the birth was registered).
    #[arg(long, value_name = "PPP")]
    province: Option<String>,
    /// Most hits, 1 to 100 (default 20).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: Option<u32>,
    /// As for `get`.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The partition id (as `status` lists them, e.g. 100 for province 001).
    partition_id: u32,
    /// Write the records to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Records per page, 1 to 5000 (default 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=5000))]
    page_size: Option<u32>,
    /// Start after this personal ID (exclusive), e.g. the last one of an interrupted scan.
    #[arg(long, value_name = "ID")]
    start_after: Option<String>,
    /// As for `get`; follower and stale scan a replica.
    #[arg(long, default_value = "linearizable", value_parser = parse_consistency)]
    consistency: Consistency,
}

/// `verify --output json`: only per-field answers, never a stored value.
#[derive(Debug, Serialize)]
struct VerifyJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "match")]
    matched: bool,
    id_status: &'static str,
    fields: FieldsJson,
}

/// The fields the server compared; a field not asked (or not compared: ID not found or replaced) is left out.
#[derive(Debug, Serialize)]
struct FieldsJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_of_birth: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sex: Option<&'static str>,
}

/// One `batch-verify` input line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyLineJson {
    id: String,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    date_of_birth: Option<String>,
    #[serde(default)]
    sex: Option<String>,
}

/// `household` / `search` member or hit.
#[derive(Debug, Serialize)]
struct SummaryJson<'a> {
    id: &'a str,
    full_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sex: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    household_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    relationship_to_head: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

#[derive(Debug, Serialize)]
struct HouseholdJson<'a> {
    household_id: &'a str,
    members: Vec<SummaryJson<'a>>,
    /// Partitions skipped because their province is outside the caller's scope.
    out_of_scope_partitions: &'a [u32],
}

#[derive(Debug, Serialize)]
struct SearchJson<'a> {
    hits: Vec<SummaryJson<'a>>,
    truncated: bool,
    /// Partitions skipped because their province is outside the caller's scope.
    out_of_scope_partitions: &'a [u32],
}

#[derive(Debug, Serialize)]
struct LegacyJson<'a> {
    found: bool,
    id: Option<&'a str>,
    /// Partitions skipped because their province is outside the caller's scope.
    out_of_scope_partitions: &'a [u32],
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

fn check_id_arg(id: &str, field: &str) -> Result<(), Failure> {
    check_id(id).map_err(|message| Failure::usage(format!("invalid argument: {field}: {message}")))
}

pub(crate) async fn verify(global: &GlobalArgs, args: VerifyArgs) -> Result<String, Failure> {
    check_id_arg(&args.id, "id")?;
    if args.name.is_none() && args.dob.is_none() && args.sex.is_none() {
        return Err(Failure::usage("nothing to verify: pass at least one of --name, --dob, --sex"));
    }
    let query = VerifyQuery {
        id: args.id.clone(),
        full_name: args.name.as_deref().map(nfc),
        date_of_birth: args.dob,
        sex: args.sex.unwrap_or(Sex::Unspecified).into(),
    };
    let client = global.connect().await?;
    let response = client.verify(query, args.consistency).await?;
    let result = response.result.unwrap_or_default();
    match global.output {
        OutputFormat::Json => to_json(&verify_json(&result, false)),
        OutputFormat::Table => Ok(verify_table(&result)),
    }
}

fn id_status_name(value: i32) -> &'static str {
    match IdStatus::try_from(value) {
        Ok(IdStatus::Found) => "found",
        Ok(IdStatus::NotFound) => "not_found",
        Ok(IdStatus::Replaced) => "replaced",
        Ok(IdStatus::Unspecified) | Err(_) => "unknown",
    }
}

fn field_name(value: i32) -> Option<&'static str> {
    match FieldMatch::try_from(value) {
        Ok(FieldMatch::Match) => Some("match"),
        Ok(FieldMatch::Mismatch) => Some("mismatch"),
        Ok(FieldMatch::NotAsked) | Err(_) => None,
    }
}

/// Built from the result's enums and flag only: the result carries no stored value, and neither does this.
fn verify_json(result: &VerifyResult, with_id: bool) -> VerifyJson {
    VerifyJson {
        id: with_id.then(|| result.id.clone()),
        matched: result.r#match,
        id_status: id_status_name(result.id_status),
        fields: FieldsJson {
            full_name: field_name(result.full_name),
            date_of_birth: field_name(result.date_of_birth),
            sex: field_name(result.sex),
        },
    }
}

fn verify_table(result: &VerifyResult) -> String {
    let json = verify_json(result, false);
    let mut pairs = vec![("id_status".to_string(), json.id_status.to_string())];
    let fields =
        [("full_name", json.fields.full_name), ("date_of_birth", json.fields.date_of_birth), ("sex", json.fields.sex)];
    pairs.extend(fields.iter().filter_map(|(key, value)| value.map(|value| (key.to_string(), value.to_string()))));
    format!("{}\n{}", if json.matched { "match" } else { "no match" }, render_pairs(&pairs))
}

pub(crate) async fn batch_verify(global: &GlobalArgs, args: BatchVerifyArgs) -> Result<String, Failure> {
    let source = source_name(args.file.as_deref());
    let text = read_input(args.file.as_deref(), QUERY_LIST_BYTES_MAX)?;
    let (line_nos, queries) = parse_queries(&text).map_err(|message| Failure::usage(format!("{source}: {message}")))?;
    let client = global.connect().await?;
    let mut results: Vec<VerifyResult> = Vec::with_capacity(queries.len());
    for (chunk_idx, chunk) in queries.chunks(BATCH_IDS_MAX).enumerate() {
        let answered = client.batch_verify(chunk, args.consistency).await.map_err(|error| {
            // Name the input line of a query the server refused.
            let ClientError::InvalidArgument { field, message } = &error else { return Failure::from(error) };
            let query_idx = field
                .strip_prefix("queries[")
                .and_then(|rest| rest.split(']').next())
                .and_then(|idx| idx.parse::<usize>().ok());
            match query_idx.and_then(|idx| line_nos.get(chunk_idx * BATCH_IDS_MAX + idx)) {
                Some(line_no) => Failure::usage(format!("{source}: line {line_no}: {field}: {message}")),
                None => Failure::from(error),
            }
        })?;
        results.extend(answered);
    }
    match global.output {
        OutputFormat::Json => {
            let mut text = String::new();
            for result in &results {
                let line = serde_json::to_string(&verify_json(result, true))
                    .map_err(|error| Failure::usage(format!("cannot encode the output as JSON: {error}")))?;
                text.push_str(&line);
                text.push('\n');
            }
            Ok(text)
        }
        OutputFormat::Table => Ok(batch_verify_table(&results)),
    }
}

/// Queries one per line with their line numbers; errors name the line.
fn parse_queries(text: &str) -> Result<(Vec<usize>, Vec<VerifyQuery>), String> {
    let mut line_nos = Vec::new();
    let mut queries = Vec::new();
    for (line_idx, line) in text.lines().enumerate() {
        let line_no = line_idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: VerifyLineJson = serde_json::from_str(line).map_err(|error| format!("line {line_no}: {error}"))?;
        check_id(&parsed.id).map_err(|message| format!("line {line_no}: id: {message}"))?;
        let date_of_birth = match &parsed.date_of_birth {
            Some(text) => {
                Some(parse_date_text(text).map_err(|message| format!("line {line_no}: date_of_birth: {message}"))?)
            }
            None => None,
        };
        let sex = match &parsed.sex {
            Some(text) => parse_sex_text(text).map_err(|message| format!("line {line_no}: sex: {message}"))?,
            None => Sex::Unspecified,
        };
        if parsed.full_name.is_none() && date_of_birth.is_none() && sex == Sex::Unspecified {
            return Err(format!("line {line_no}: nothing to verify: give full_name, date_of_birth or sex"));
        }
        line_nos.push(line_no);
        queries.push(VerifyQuery {
            id: parsed.id,
            full_name: parsed.full_name.as_deref().map(nfc),
            date_of_birth,
            sex: sex.into(),
        });
    }
    Ok((line_nos, queries))
}

fn batch_verify_table(results: &[VerifyResult]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|result| {
            let json = verify_json(result, false);
            let cell = |value: Option<&str>| value.unwrap_or("-").to_string();
            vec![
                result.id.clone(),
                if json.matched { "yes" } else { "no" }.to_string(),
                json.id_status.to_string(),
                cell(json.fields.full_name),
                cell(json.fields.date_of_birth),
                cell(json.fields.sex),
            ]
        })
        .collect();
    let n_matched = results.iter().filter(|result| result.r#match).count();
    let n_queries = if results.len() == 1 { "1 query".to_string() } else { format!("{} queries", results.len()) };
    format!(
        "{}{n_queries}, {n_matched} matched\n",
        render(&["ID", "MATCH", "ID STATUS", "FULL NAME", "DATE OF BIRTH", "SEX"], &rows)
    )
}

pub(crate) async fn legacy(global: &GlobalArgs, args: LegacyArgs) -> Result<String, Failure> {
    let client = global.connect().await?;
    let lookup = client.lookup_legacy_number(&args.number, args.consistency).await?;
    let found = lookup.id.as_deref();
    let skipped = &lookup.out_of_scope_partitions;
    let json = LegacyJson { found: found.is_some(), id: found, out_of_scope_partitions: skipped };
    let output = match global.output {
        OutputFormat::Json => to_json(&json)?,
        OutputFormat::Table => found.map(|id| format!("{id}{}\n", skipped_note(skipped))).unwrap_or_default(),
    };
    if found.is_none() {
        let failure = Failure::usage(format!(
            "no citizen has legacy ID number {}{}",
            args.number,
            skipped_note(skipped).replace(" (", " in this caller's scope (")
        ));
        return Err(failure.with_stdout(output));
    }
    Ok(output)
}

fn summary_json(summary: &CitizenSummary) -> SummaryJson<'_> {
    SummaryJson {
        id: &summary.id,
        full_name: &summary.full_name,
        date_of_birth: format_date(summary.date_of_birth.as_ref()),
        sex: format_sex(summary.sex),
        household_id: &summary.household_id,
        relationship_to_head: &summary.relationship_to_head,
        status: format_status(summary.status),
    }
}

fn summary_rows(summaries: &[CitizenSummary]) -> Vec<Vec<String>> {
    summaries
        .iter()
        .map(|summary| {
            let json = summary_json(summary);
            vec![
                json.id.to_string(),
                json.full_name.to_string(),
                json.date_of_birth.unwrap_or_default(),
                json.sex.unwrap_or_default(),
                json.relationship_to_head.to_string(),
                json.status.unwrap_or_default(),
            ]
        })
        .collect()
}

const SUMMARY_HEADERS: [&str; 6] = ["ID", "FULL NAME", "DATE OF BIRTH", "SEX", "RELATIONSHIP", "STATUS"];

pub(crate) async fn household(global: &GlobalArgs, args: HouseholdArgs) -> Result<String, Failure> {
    if let Some(id) = &args.id {
        check_id_arg(id, "id")?;
    }
    let client = global.connect().await?;
    let response = match (&args.id, &args.household_id) {
        (Some(id), _) => match client.list_household(id, args.consistency).await? {
            Some(response) => response,
            None => return Err(Failure::usage(format!("citizen {id} not found"))),
        },
        (None, Some(household_id)) => client.list_household_by_id(household_id, args.consistency).await?,
        (None, None) => return Err(Failure::usage("pass a personal ID or --household-id H")),
    };
    match global.output {
        OutputFormat::Json => to_json(&HouseholdJson {
            household_id: &response.household_id,
            members: response.members.iter().map(summary_json).collect(),
            out_of_scope_partitions: &response.out_of_scope_partitions,
        }),
        OutputFormat::Table => Ok(format!(
            "{}household {}: {}{}\n",
            render(&SUMMARY_HEADERS, &summary_rows(&response.members)),
            response.household_id,
            plural(response.members.len(), "member"),
            skipped_note(&response.out_of_scope_partitions)
        )),
    }
}

/// Said after a scatter-gather answer when the caller's scope left partitions out.
fn skipped_note(out_of_scope: &[u32]) -> String {
    if out_of_scope.is_empty() {
        String::new()
    } else {
        format!(" ({} outside this caller's province scope skipped)", plural(out_of_scope.len(), "partition"))
    }
}

pub(crate) async fn search(global: &GlobalArgs, args: SearchArgs) -> Result<String, Failure> {
    let query = SearchQuery {
        full_name: nfc(&args.name),
        date_of_birth: args.dob,
        province_code: args.province.clone(),
        limit: args.limit.unwrap_or(0),
    };
    let client = global.connect().await?;
    let response = client.search(&query, args.consistency).await?;
    match global.output {
        OutputFormat::Json => to_json(&SearchJson {
            hits: response.hits.iter().map(summary_json).collect(),
            truncated: response.truncated,
            out_of_scope_partitions: &response.out_of_scope_partitions,
        }),
        OutputFormat::Table => {
            let more = if response.truncated { " (more match: raise --limit, at most 100)" } else { "" };
            Ok(format!(
                "{}{}{more}{}\n",
                render(&SUMMARY_HEADERS, &summary_rows(&response.hits)),
                plural(response.hits.len(), "hit"),
                skipped_note(&response.out_of_scope_partitions)
            ))
        }
    }
}

pub(crate) async fn scan(global: &GlobalArgs, args: ScanArgs) -> Result<String, Failure> {
    if let Some(start_after) = &args.start_after {
        check_id_arg(start_after, "start_after")?;
    }
    let (target_name, mut out): (String, Box<dyn Write>) = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|error| Failure::usage(format!("cannot create {}: {error}", path.display())))?;
            (path.display().to_string(), Box::new(std::io::BufWriter::new(file)))
        }
        None => ("stdout".to_string(), Box::new(std::io::BufWriter::new(std::io::stdout()))),
    };
    let client = global.connect().await?;
    let options = ScanOptions {
        consistency: args.consistency,
        page_size: args.page_size.unwrap_or(0),
        start_after: args.start_after.clone(),
    };
    let started = Instant::now();
    let mut scan = client.scan_partition(args.partition_id, options).await?;
    let (mut n_records, mut n_pages, mut n_resumes) = (0u64, 0u64, 0u64);
    let mut last_id = String::new();
    while let Some(page) = scan.next_page().await {
        let page = page.map_err(|error| scan_failure(error, args.partition_id, n_records, &last_id))?;
        n_pages += 1;
        n_resumes += u64::from(page.resumed);
        for citizen in &page.citizens {
            let line = serde_json::to_string(&CitizenJson::from(citizen))
                .map_err(|error| Failure::usage(format!("cannot encode a record as JSON: {error}")))?;
            if let Err(error) = writeln!(out, "{line}") {
                return write_failure(&target_name, error);
            }
            n_records += 1;
        }
        if let Some(last) = page.citizens.last() {
            last_id.clone_from(&last.id);
        }
    }
    if let Err(error) = out.flush() {
        return write_failure(&target_name, error);
    }
    let resumed = if n_resumes > 0 {
        format!(
            "; resumed {} (later pages reflect a newer read point)",
            plural(usize::try_from(n_resumes).unwrap_or(0), "time")
        )
    } else {
        String::new()
    };
    eprintln!(
        "scanned {} of partition {} in {} to {target_name}, {:.1} s{resumed}",
        plural(usize::try_from(n_records).unwrap_or(0), "record"),
        args.partition_id,
        plural(usize::try_from(n_pages).unwrap_or(0), "page"),
        started.elapsed().as_secs_f64()
    );
    Ok(String::new())
}

/// A closed stdout (`dancuctl scan 100 | head`) ends the scan quietly; other write errors fail.
fn write_failure(target_name: &str, error: std::io::Error) -> Result<String, Failure> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(String::new());
    }
    Err(Failure::usage(format!("cannot write {target_name}: {error}")))
}

/// The scan's error, and where to resume.
fn scan_failure(error: ClientError, partition_id: u32, n_records: u64, last_id: &str) -> Failure {
    let mut failure = Failure::from(error);
    let resume = if last_id.is_empty() {
        format!("partition {partition_id}: no record was written")
    } else {
        format!("partition {partition_id}: {n_records} records written, the last {last_id}; resume with --start-after {last_id}")
    };
    failure.lines.push(resume);
    failure
}

#[cfg(test)]
mod tests {
    use super::*;
    use dancu_proto::v1::Date;

    #[test]
    fn verify_json_has_only_answers() {
        let result = VerifyResult {
            id: "001085012345".to_string(),
            id_status: IdStatus::Found.into(),
            r#match: false,
            full_name: FieldMatch::Match.into(),
            date_of_birth: FieldMatch::Mismatch.into(),
            sex: FieldMatch::NotAsked.into(),
        };
        let value = serde_json::to_value(verify_json(&result, false)).expect("serializable");
        let want = serde_json::json!({
            "match": false, "id_status": "found", "fields": {"full_name": "match", "date_of_birth": "mismatch"}
        });
        assert_eq!(value, want);
        assert_eq!(
            verify_table(&result),
            "no match\nid_status      found\nfull_name      match\ndate_of_birth  mismatch\n"
        );
    }

    #[test]
    fn query_lines_are_checked_and_numbered() {
        let text =
            "{\"id\": \"001085012345\", \"full_name\": \"An\"}\n\n{\"id\": \"079305000123\", \"sex\": \"female\", \
                    \"date_of_birth\": \"2005-02-28\"}\n";
        let (line_nos, queries) = parse_queries(text).expect("valid");
        assert_eq!(line_nos, vec![1, 3]);
        assert_eq!(queries[1].date_of_birth, Some(Date { year: 2005, month: 2, day: 28 }));
        assert_eq!(queries[1].sex, Sex::Female as i32);
        let error = parse_queries("{\"id\": \"001085012345\"}\n").unwrap_err();
        assert_eq!(error, "line 1: nothing to verify: give full_name, date_of_birth or sex");
        let error = parse_queries("{\"id\": \"001085012345\", \"sex\": \"m\"}\n").unwrap_err();
        assert_eq!(error, "line 1: sex: expected \"male\" or \"female\", got \"m\"");
        assert!(parse_queries("{\"id\": \"1\", \"sex\": \"male\"}").unwrap_err().starts_with("line 1: id: "));
    }

    #[test]
    fn batch_table_counts_queries() {
        let text = batch_verify_table(&[VerifyResult { id: "001085012345".to_string(), ..Default::default() }]);
        assert!(text.ends_with("1 query, 0 matched\n"), "{text}");
        let two = vec![VerifyResult::default(), VerifyResult::default()];
        assert!(batch_verify_table(&two).ends_with("2 queries, 0 matched\n"));
    }
}
