//! Bulk import of citizen records from JSON lines (one [`CitizenJson`] object per line), used by
//! `dancuctl import` and by the demo.
//!
//! How it runs:
//! - **Parsing overlaps the network.** A blocking thread reads and parses lines and hands them over in chunks
//!   through a bounded channel, while batches already sent are in flight.
//! - **Batches per partition.** Records are grouped by the partition of their ID; a partition's batch is sent as
//!   one `PutCitizens` (one Raft entry, all or nothing) when it holds [`ImportOptions::batch_size`] records or
//!   about [`ImportOptions::batch_bytes_max`] bytes, and at the end of the input.
//! - **Bounded in flight.** At most [`ImportOptions::in_flight_per_partition`] batches per partition and
//!   [`ImportOptions::in_flight_max`] overall are unanswered; reading waits for a slot.
//! - **As fast as the cluster takes it.** A node refuses batches it cannot queue (`RESOURCE_EXHAUSTED` with a
//!   retry hint; the client retries after the hint). The overall in-flight window starts at 4 batches and doubles
//!   per round trip up to `in_flight_max` (slow start); each refusal halves it (at most once per batch round trip)
//!   and answers then widen it by one per round trip (AIMD).
//! - **Duplicate IDs keep file order.** When a line's ID is already in its partition's open batch or in one of
//!   its in-flight batches, the open batch is sent and every in-flight batch of that partition is awaited before
//!   the line is batched, so the later line is applied later and wins.
//! - **Bad lines are skipped, not fatal.** A line that is not a valid record, whose ID no partition holds, or
//!   that the server refuses (`INVALID_ARGUMENT` naming `citizens[K].<field>`) is recorded with its line number
//!   and reason, dropped from its batch, and the rest of the batch is sent again. With
//!   [`ImportOptions::strict`] the first bad line stops the import instead: batches already sent complete, the
//!   open ones are not sent, and the failure says what was written.
//! - **Re-runs write nothing new.** The server leaves a record whose stored content is identical unchanged
//!   (`written: false`), so importing the same file again reports every record as unchanged.
//! - **Exactly-once retries.** Each batch has a request id derived from its content:
//!   `import-` + hex SHA-256 over the run id, and each record's line number and encoding. A retry of a batch
//!   (within [`ImportOptions::batch_deadline`]) reuses it. The run id is random per call unless
//!   [`ImportOptions::run_id`] fixes it: then a re-run of the same file reuses every request id and the server
//!   answers from its exactly-once table. That is opt-in on purpose: within the table's window, a re-run would
//!   then NOT restore a record changed since the first run (the remembered answer is returned instead), whereas
//!   with a fresh run id the file's content is written again where it differs.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_proto::v1::Citizen;
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::citizen_json::CitizenJson;
use crate::in_flight_window::InFlightWindow;
use crate::{Client, ClientError, PUT_CITIZENS_MAX};

/// Longest line read; a record is a few kilobytes, so a longer line is a bad line (skipped without buffering it).
pub const LINE_BYTES_MAX: usize = 1 << 20;
/// Lines parsed per chunk handed from the reading thread to the import loop.
const CHUNK_LINES: usize = 512;
/// Parsed chunks waiting for the import loop; the reading thread blocks when they are unread.
const CHUNKS_BUFFERED: usize = 4;
/// Shortest per-attempt timeout of a batch: a 1,000-record entry under load can take longer to commit than a
/// single put (the server itself waits up to 5 s for a commit), and an attempt abandoned too early is only sent
/// again.
const BATCH_ATTEMPT_TIMEOUT_MIN: Duration = Duration::from_secs(10);

/// How an import batches and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Records per batch, 1 to 1,000 (default 1,000).
    pub batch_size: usize,
    /// A batch is sent before it would exceed this many encoded bytes (default 4 MiB; gRPC messages are capped at
    /// 16 MiB).
    pub batch_bytes_max: usize,
    /// Unanswered batches per partition (default 2).
    pub in_flight_per_partition: usize,
    /// Unanswered batches overall (default 64).
    pub in_flight_max: usize,
    /// Stop at the first bad line instead of skipping it.
    pub strict: bool,
    /// Time one batch may take, retries included (default 60 s); each attempt gets the client's `rpc_timeout`,
    /// but at least 10 s.
    pub batch_deadline: Duration,
    /// Part of every batch's request id; `None`: random per import. See the module docs before fixing it.
    pub run_id: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: PUT_CITIZENS_MAX,
            batch_bytes_max: 4 << 20,
            in_flight_per_partition: 2,
            in_flight_max: 64,
            strict: false,
            batch_deadline: Duration::from_secs(60),
            run_id: None,
        }
    }
}

impl ImportOptions {
    fn check(&self) -> Result<(), String> {
        if !(1..=PUT_CITIZENS_MAX).contains(&self.batch_size) {
            return Err(format!("batch size {} is not in 1..={PUT_CITIZENS_MAX}", self.batch_size));
        }
        if self.in_flight_per_partition == 0 || self.in_flight_max == 0 {
            return Err("in-flight limits must be at least 1".to_string());
        }
        if self.batch_bytes_max == 0 || self.batch_deadline.is_zero() {
            return Err("the batch byte limit and deadline must be positive".to_string());
        }
        Ok(())
    }
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the input.
    pub line: u64,
    /// Why, as `field: message` (e.g. `date_of_birth: expected a date YYYY-MM-DD, got "1985-02-30"`).
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Counters handed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportProgress {
    /// Records (non-blank lines) read so far.
    pub lines_read: u64,
    /// Records applied with new content.
    pub records_written: u64,
    /// Records whose stored content was already identical (or whose batch was answered as a duplicate).
    pub records_unchanged: u64,
    /// Bad lines skipped.
    pub lines_skipped: u64,
    pub elapsed: Duration,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportSummary {
    /// Non-blank lines read (each a record or a bad line); blank lines are ignored.
    pub lines: u64,
    pub written: u64,
    pub unchanged: u64,
    /// Every skipped line, by line number.
    pub bad_lines: Vec<BadLine>,
    /// `PutCitizens` batches answered (successfully).
    pub batches: u64,
    pub seconds: f64,
    /// `lines / seconds`.
    pub records_per_s: f64,
    /// Attempts the nodes refused as overloaded (each retried after the node's hint).
    pub overload_refusals: u64,
    /// The smallest the in-flight window became (`in_flight_max` when nothing was refused).
    pub in_flight_min: usize,
}

/// Why an import stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// `strict` and a bad line.
    #[error("{bad_line} (--strict: stopped at the first bad line)")]
    Strict { bad_line: BadLine },
    /// A batch failed for good (retries exhausted within its deadline, or an error naming no record).
    #[error("the batch starting at line {first_line} failed: {error}")]
    Batch { first_line: u64, error: ClientError },
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Read(String),
    /// Unusable options.
    #[error("import options: {0}")]
    Options(String),
}

/// An import that stopped early: why, and what it had done by then (batches sent before the stop completed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct ImportFailure {
    pub error: ImportError,
    pub summary: ImportSummary,
}

/// One non-blank input line, parsed.
struct ParsedLine {
    line: u64,
    record: Result<Citizen, String>,
}

/// What the reading thread hands over: a chunk of lines, or the read error that ended the input.
type Chunk = Result<Vec<ParsedLine>, String>;

/// What a batch task reports.
struct BatchOutcome {
    partition_id: u32,
    ids: Vec<String>,
    first_line: u64,
    written: u64,
    unchanged: u64,
    bad_lines: Vec<BadLine>,
    /// Set when the batch stopped the import (strict bad line, or a failure).
    stop: Option<ImportError>,
    /// From sending to the answer, retries included.
    elapsed: Duration,
}

/// The records of one partition not yet sent, and the IDs of its batches in flight.
#[derive(Default)]
struct PartitionState {
    lines: Vec<u64>,
    citizens: Vec<Citizen>,
    bytes: usize,
    ids: HashSet<String>,
    n_in_flight: usize,
    in_flight_ids: HashSet<String>,
}

/// Imports every record read from `reader` (JSON lines); see the module docs. `progress` is called as lines are
/// read and batches are answered. The summary lists every bad line; an early stop returns what was done too.
pub async fn import<R>(
    client: &Client,
    reader: R,
    options: &ImportOptions,
    mut progress: impl FnMut(&ImportProgress),
) -> Result<ImportSummary, Box<ImportFailure>>
where
    R: BufRead + Send + 'static,
{
    let started = Instant::now();
    if let Err(message) = options.check() {
        return Err(Box::new(ImportFailure {
            error: ImportError::Options(message),
            summary: ImportSummary::default(),
        }));
    }
    let (sender, mut chunks) = mpsc::channel::<Chunk>(CHUNKS_BUFFERED);
    // A plain thread, not `spawn_blocking`: after an early stop it is not joined, and one blocked on an input that
    // never ends (a pipe left open) must not hold up the runtime's shutdown. It stops at its next line once the
    // import stops listening.
    let spawned =
        std::thread::Builder::new().name("import-reader".to_string()).spawn(move || read_lines(reader, &sender));
    if let Err(error) = spawned {
        let error = ImportError::Read(format!("cannot start the reading thread: {error}"));
        return Err(Box::new(ImportFailure { error, summary: ImportSummary::default() }));
    }
    let attempt_timeout = client.options().rpc_timeout.max(BATCH_ATTEMPT_TIMEOUT_MIN).min(options.batch_deadline);
    let batch_options = crate::ClientOptions {
        deadline: options.batch_deadline,
        rpc_timeout: attempt_timeout,
        ..client.options().clone()
    };
    let run_id = options.run_id.clone().unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    let mut importer = Importer {
        client: client.with_options(batch_options),
        options: options.clone(),
        run_id: Arc::from(run_id),
        partitions: HashMap::new(),
        tasks: JoinSet::new(),
        summary: ImportSummary { in_flight_min: options.in_flight_max, ..ImportSummary::default() },
        stop: None,
        started,
        progress: &mut progress,
        window: InFlightWindow::new(options.in_flight_max),
        refusals_seen: client.overload_refusals(),
        refusals_at_start: client.overload_refusals(),
    };
    while importer.stop.is_none() {
        let Some(chunk) = chunks.recv().await else { break };
        match chunk {
            Ok(lines) => importer.take_chunk(lines).await,
            Err(message) => importer.stop = Some(ImportError::Read(message)),
        }
        importer.report();
    }
    // Dropping the receiver stops the reading thread at its next line when the import stopped early.
    drop(chunks);
    if importer.stop.is_none() {
        importer.flush_all().await;
    }
    importer.drain().await;
    importer.finish()
}

struct Importer<'p> {
    client: Client,
    options: ImportOptions,
    run_id: Arc<str>,
    partitions: HashMap<u32, PartitionState>,
    tasks: JoinSet<BatchOutcome>,
    summary: ImportSummary,
    stop: Option<ImportError>,
    started: Instant,
    progress: &'p mut dyn FnMut(&ImportProgress),
    /// How many batches may be in flight now (AIMD on overload refusals, up to `in_flight_max`).
    window: InFlightWindow,
    /// The client's overload refusal count when last looked at, and when the import started.
    refusals_seen: u64,
    refusals_at_start: u64,
}

impl Importer<'_> {
    async fn take_chunk(&mut self, lines: Vec<ParsedLine>) {
        for ParsedLine { line, record } in lines {
            if self.stop.is_some() {
                return;
            }
            self.summary.lines += 1;
            let partition = record.and_then(|citizen| match self.client.partition_of(&citizen.id) {
                Ok(partition_id) => Ok((partition_id, citizen)),
                Err(ClientError::InvalidArgument { field, message }) => Err(format!("{field}: {message}")),
                Err(other) => Err(format!("id: {other}")),
            });
            match partition {
                Ok((partition_id, citizen)) => self.add(partition_id, line, citizen).await,
                Err(reason) => self.bad_line(BadLine { line, reason }),
            }
        }
    }

    fn bad_line(&mut self, bad_line: BadLine) {
        if self.options.strict && self.stop.is_none() {
            self.stop = Some(ImportError::Strict { bad_line: bad_line.clone() });
        }
        self.summary.bad_lines.push(bad_line);
    }

    /// Adds one record to its partition's open batch, keeping duplicate IDs in file order.
    async fn add(&mut self, partition_id: u32, line: u64, citizen: Citizen) {
        let state = self.partitions.entry(partition_id).or_default();
        if state.ids.contains(&citizen.id) || state.in_flight_ids.contains(&citizen.id) {
            self.flush(partition_id).await;
            while self.partitions[&partition_id].n_in_flight > 0 {
                self.complete_one().await;
            }
        }
        let n_bytes = citizen.encoded_len();
        let state = self.partitions.entry(partition_id).or_default();
        if !state.citizens.is_empty() && state.bytes + n_bytes > self.options.batch_bytes_max {
            self.flush(partition_id).await;
        }
        let state = self.partitions.entry(partition_id).or_default();
        state.ids.insert(citizen.id.clone());
        state.lines.push(line);
        state.citizens.push(citizen);
        state.bytes += n_bytes;
        if state.citizens.len() >= self.options.batch_size {
            self.flush(partition_id).await;
        }
    }

    /// Sends a partition's open batch once it has a free in-flight slot (overall and for the partition). Nothing
    /// is sent once the import has stopped.
    async fn flush(&mut self, partition_id: u32) {
        if self.partitions.get(&partition_id).is_none_or(|state| state.citizens.is_empty()) {
            return;
        }
        while self.tasks.len() >= self.window.limit()
            || self.partitions[&partition_id].n_in_flight >= self.options.in_flight_per_partition
        {
            self.complete_one().await;
        }
        if self.stop.is_some() {
            return;
        }
        let state = self.partitions.get_mut(&partition_id).expect("the partition has an open batch");
        let lines = std::mem::take(&mut state.lines);
        let citizens = std::mem::take(&mut state.citizens);
        state.bytes = 0;
        state.in_flight_ids.extend(state.ids.drain());
        state.n_in_flight += 1;
        assert!(state.n_in_flight <= self.options.in_flight_per_partition);
        let batch = Batch { partition_id, lines, citizens, strict: self.options.strict };
        self.tasks.spawn(batch.send(self.client.clone(), self.run_id.clone()));
    }

    async fn flush_all(&mut self) {
        let mut partition_ids: Vec<u32> = self.partitions.keys().copied().collect();
        partition_ids.sort_unstable();
        for partition_id in partition_ids {
            self.flush(partition_id).await;
        }
    }

    /// Waits for one batch to be answered and accounts for it.
    async fn complete_one(&mut self) {
        let Some(joined) = self.tasks.join_next().await else { return };
        let outcome = match joined {
            Ok(outcome) => outcome,
            Err(error) => {
                // A batch task only ends early by panicking (a bug) or by abort (never done while it runs).
                panic!("an import batch task failed: {error}");
            }
        };
        let refusals = self.client.overload_refusals();
        if refusals > self.refusals_seen {
            self.refusals_seen = refusals;
            self.window.on_overload(Instant::now(), outcome.elapsed);
        } else {
            self.window.on_answer();
        }
        self.summary.overload_refusals = refusals - self.refusals_at_start;
        self.summary.in_flight_min = self.summary.in_flight_min.min(self.window.limit());
        let state = self.partitions.get_mut(&outcome.partition_id).expect("a batch belongs to a known partition");
        assert!(state.n_in_flight > 0, "a batch completed that was not in flight");
        state.n_in_flight -= 1;
        for id in &outcome.ids {
            state.in_flight_ids.remove(id);
        }
        self.summary.written += outcome.written;
        self.summary.unchanged += outcome.unchanged;
        if outcome.written + outcome.unchanged > 0 {
            self.summary.batches += 1;
        }
        self.summary.bad_lines.extend(outcome.bad_lines);
        if let Some(stop) = outcome.stop {
            tracing::debug!(partition = outcome.partition_id, first_line = outcome.first_line, "import batch stopped");
            self.stop.get_or_insert(stop);
        }
        self.report();
    }

    async fn drain(&mut self) {
        while !self.tasks.is_empty() {
            self.complete_one().await;
        }
    }

    fn report(&mut self) {
        let progress = ImportProgress {
            lines_read: self.summary.lines,
            records_written: self.summary.written,
            records_unchanged: self.summary.unchanged,
            lines_skipped: self.summary.bad_lines.len() as u64,
            elapsed: self.started.elapsed(),
        };
        (self.progress)(&progress);
    }

    fn finish(mut self) -> Result<ImportSummary, Box<ImportFailure>> {
        let mut summary = std::mem::take(&mut self.summary);
        summary.bad_lines.sort_by_key(|bad_line| bad_line.line);
        summary.seconds = self.started.elapsed().as_secs_f64();
        summary.records_per_s = if summary.seconds > 0.0 { summary.lines as f64 / summary.seconds } else { 0.0 };
        match self.stop.take() {
            None => Ok(summary),
            Some(error) => Err(Box::new(ImportFailure { error, summary })),
        }
    }
}

/// One batch on its way: the records of one partition with their line numbers.
struct Batch {
    partition_id: u32,
    lines: Vec<u64>,
    citizens: Vec<Citizen>,
    strict: bool,
}

impl Batch {
    /// Sends the batch; a record the server refuses is dropped (or, strict, stops the import) and the rest is
    /// sent again. At most one resend per record, so the loop is bounded by the batch size.
    async fn send(self, client: Client, run_id: Arc<str>) -> BatchOutcome {
        let ids: Vec<String> = self.citizens.iter().map(|citizen| citizen.id.clone()).collect();
        let first_line = self.lines.first().copied().unwrap_or(0);
        let sent_at = Instant::now();
        let mut outcome = BatchOutcome {
            partition_id: self.partition_id,
            ids,
            first_line,
            written: 0,
            unchanged: 0,
            bad_lines: Vec::new(),
            stop: None,
            elapsed: Duration::ZERO,
        };
        outcome = self.send_all(client, run_id, outcome).await;
        outcome.elapsed = sent_at.elapsed();
        outcome
    }

    async fn send_all(mut self, client: Client, run_id: Arc<str>, mut outcome: BatchOutcome) -> BatchOutcome {
        let first_line = outcome.first_line;
        while !self.citizens.is_empty() {
            let request_id = batch_request_id(&run_id, &self.lines, &self.citizens);
            let error = match client.put_citizens_with_request_id(&self.citizens, request_id).await {
                Ok(response) if response.deduplicated => {
                    outcome.unchanged = self.citizens.len() as u64;
                    return outcome;
                }
                Ok(response) => {
                    let n_written = response.results.iter().filter(|result| result.written).count() as u64;
                    outcome.written = n_written;
                    outcome.unchanged = self.citizens.len() as u64 - n_written;
                    return outcome;
                }
                Err(error) => error,
            };
            let Some((record_idx, reason)) = refused_record(&error, self.citizens.len()) else {
                outcome.stop = Some(ImportError::Batch { first_line, error });
                return outcome;
            };
            let bad_line = BadLine { line: self.lines.remove(record_idx), reason };
            self.citizens.remove(record_idx);
            if self.strict {
                outcome.stop = Some(ImportError::Strict { bad_line: bad_line.clone() });
                outcome.bad_lines.push(bad_line);
                return outcome;
            }
            outcome.bad_lines.push(bad_line);
        }
        outcome
    }
}

/// The record an INVALID_ARGUMENT names (`citizens[K].<field>`), and the reason as `field: message`.
fn refused_record(error: &ClientError, n_citizens: usize) -> Option<(usize, String)> {
    let ClientError::InvalidArgument { field, message } = error else { return None };
    let rest = field.strip_prefix("citizens[")?;
    let close = rest.find(']')?;
    let record_idx: usize = rest[..close].parse().ok()?;
    if record_idx >= n_citizens {
        return None;
    }
    let reason = match rest[close + 1..].strip_prefix('.') {
        Some(record_field) if !record_field.is_empty() => format!("{record_field}: {message}"),
        _ => message.clone(),
    };
    Some((record_idx, reason))
}

/// `import-` + hex SHA-256 over the run id and every record's line number and encoding (length-prefixed, so
/// different batches cannot hash the same bytes).
fn batch_request_id(run_id: &str, lines: &[u64], citizens: &[Citizen]) -> String {
    let mut hasher = Sha256::new();
    hasher.update((run_id.len() as u64).to_be_bytes());
    hasher.update(run_id.as_bytes());
    let mut encoded = Vec::new();
    for (line, citizen) in lines.iter().zip(citizens) {
        encoded.clear();
        citizen.encode(&mut encoded).expect("a Vec grows as needed");
        hasher.update(line.to_be_bytes());
        hasher.update((encoded.len() as u64).to_be_bytes());
        hasher.update(&encoded);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("import-{hex}")
}

/// The reading thread: reads, parses and hands over lines in chunks until the input ends, a read fails, or the
/// import loop stops listening.
fn read_lines(mut reader: impl BufRead, sender: &mpsc::Sender<Chunk>) {
    let mut line_no = 0u64;
    let mut chunk: Vec<ParsedLine> = Vec::with_capacity(CHUNK_LINES);
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        buffer.clear();
        let (n_bytes, too_long) = match read_line_bounded(&mut reader, &mut buffer) {
            Ok(read) => read,
            Err(error) => {
                let _ = sender.blocking_send(Ok(std::mem::take(&mut chunk)));
                let _ = sender.blocking_send(Err(format!("after line {line_no}: {error}")));
                return;
            }
        };
        if n_bytes == 0 || sender.is_closed() {
            break;
        }
        line_no += 1;
        let record = if too_long {
            Some(Err(format!("record: longer than {LINE_BYTES_MAX} bytes")))
        } else {
            parse_line(&buffer)
        };
        if let Some(record) = record {
            chunk.push(ParsedLine { line: line_no, record });
        }
        if chunk.len() >= CHUNK_LINES && sender.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
            return;
        }
    }
    if !chunk.is_empty() && !sender.is_closed() {
        let _ = sender.blocking_send(Ok(chunk));
    }
}

/// Reads one line into `line` (newline included) without holding more than [`LINE_BYTES_MAX`] of it: a longer
/// line is consumed to its end and reported as too long. Returns the bytes consumed (0 at the end).
fn read_line_bounded(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    use std::io::Read;
    let n_bytes = reader.by_ref().take(LINE_BYTES_MAX as u64 + 1).read_until(b'\n', line)?;
    let too_long = n_bytes > LINE_BYTES_MAX && line.last() != Some(&b'\n');
    if !too_long {
        return Ok((n_bytes, false));
    }
    let mut n_skipped = n_bytes;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            break;
        }
        match available.iter().position(|byte| *byte == b'\n') {
            Some(newline_idx) => {
                reader.consume(newline_idx + 1);
                n_skipped += newline_idx + 1;
                break;
            }
            None => {
                let n_available = available.len();
                reader.consume(n_available);
                n_skipped += n_available;
            }
        }
    }
    Ok((n_skipped, true))
}

/// A line as a record; `None` for a blank line.
fn parse_line(bytes: &[u8]) -> Option<Result<Citizen, String>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(Err("record: not UTF-8 text".to_string()));
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(CitizenJson::parse_citizen(text).map_err(|error| error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientError;

    #[test]
    fn refused_records_are_located() {
        let error = ClientError::invalid("citizens[2].date_of_birth", "before 1900-01-01");
        assert_eq!(refused_record(&error, 3), Some((2, "date_of_birth: before 1900-01-01".to_string())));
        let error = ClientError::invalid("citizens[0]", "duplicate ID");
        assert_eq!(refused_record(&error, 1), Some((0, "duplicate ID".to_string())));
        // Not a record of this batch: the batch fails as a whole.
        assert_eq!(refused_record(&ClientError::invalid("citizens[3].sex", "x"), 3), None);
        assert_eq!(refused_record(&ClientError::invalid("citizens", "two partitions"), 3), None);
        assert_eq!(refused_record(&ClientError::NotFound, 3), None);
    }

    #[test]
    fn request_ids_depend_on_run_lines_and_content() {
        let citizen =
            |name: &str| Citizen { id: "001085012345".to_string(), full_name: name.to_string(), ..Default::default() };
        let base = batch_request_id("run", &[1], &[citizen("An")]);
        assert!(base.starts_with("import-") && base.len() == 7 + 64, "{base}");
        assert_eq!(base, batch_request_id("run", &[1], &[citizen("An")]));
        assert_ne!(base, batch_request_id("run2", &[1], &[citizen("An")]));
        assert_ne!(base, batch_request_id("run", &[2], &[citizen("An")]));
        assert_ne!(base, batch_request_id("run", &[1], &[citizen("Ân")]));
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let long = "x".repeat(LINE_BYTES_MAX + 10);
        let input = format!("{long}\nshort\n{}\n", "y".repeat(LINE_BYTES_MAX));
        let mut reader = std::io::Cursor::new(input.into_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), (LINE_BYTES_MAX + 11, true));
        line.clear();
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), (6, false));
        assert_eq!(line, b"short\n");
        line.clear();
        // Exactly the limit plus its newline is fine.
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), (LINE_BYTES_MAX + 1, false));
        line.clear();
        assert_eq!(read_line_bounded(&mut reader, &mut line).unwrap(), (0, false));
    }

    #[test]
    fn lines_parse_or_say_why_not() {
        assert!(parse_line(b"   \r\n").is_none());
        assert_eq!(parse_line(b"\xff\n").map(|r| r.map(|_| ())), Some(Err("record: not UTF-8 text".to_string())));
        let bad = parse_line(br#"{"id": "001085012345", "sex": "m"}"#).expect("not blank");
        assert_eq!(bad.map(|_| ()), Err("sex: expected \"male\" or \"female\", got \"m\"".to_string()));
        let good = parse_line(br#"{"id": "001085012345"}"#).expect("not blank").expect("valid");
        assert_eq!(good.id, "001085012345");
    }
}
