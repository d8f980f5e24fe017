//! Reference data in: the CSV formats tenants export, parsed row by row into events.
//!
//! Parsing is separate from publishing so a file can be checked whole before anything is
//! sent: a file with a bad row imports nothing unless the operator says `--skip-bad`.

pub mod check;
pub mod csv_accounts;
pub mod csv_readings;
pub mod generate;

use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::EventId;

/// Namespace of import event ids: uuid v5 of the event's kind and body, so the same row
/// imported again is the same event, and JetStream stores it once (`Nats-Msg-Id`).
pub const IMPORT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x8f1f_3c2a_6a0e_4d2b_9a55_7c0b_1e2d_0001);

/// The event for one row, with its deterministic id.
pub fn row_event(body: EventBody, at: chrono::DateTime<chrono::Utc>) -> Event {
    let mut name = body.kind().as_str().as_bytes().to_vec();
    name.push(0);
    name.extend(posfee_schemas::encode(&body));
    Event::new(
        EventId(uuid::Uuid::new_v5(&IMPORT_NAMESPACE, &name)),
        at,
        body,
    )
}

/// A row that could not be read: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Everything read from one file: the good rows as events, the bad ones with their reasons.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub bad: Vec<BadRow>,
    /// The line of each event, so a later check can still name the row.
    lines: Vec<u64>,
}

impl Parsed {
    pub(crate) fn good(&mut self, line: u64, event: Event) {
        self.events.push(event);
        self.lines.push(line);
    }

    pub(crate) fn bad(&mut self, line: u64, reason: String) {
        self.bad.push(BadRow { line, reason });
    }

    /// Moves every row `check` finds fault with (one reason per fault) to the bad rows, which
    /// stay in file order.
    pub fn refuse(&mut self, mut check: impl FnMut(&Event) -> Vec<String>) {
        let rows = std::mem::take(&mut self.events).into_iter();
        let lines = std::mem::take(&mut self.lines);
        for (event, line) in rows.zip(lines) {
            let faults = check(&event);
            if faults.is_empty() {
                self.good(line, event);
            } else {
                self.bad
                    .extend(faults.into_iter().map(|reason| BadRow { line, reason }));
            }
        }
        self.bad.sort_by_key(|b| b.line);
    }
}

/// `key=value;key=value` (empty is an empty map).
pub(crate) fn pairs(
    field: &str,
    what: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for part in field.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("{what}: {part:?} is not key=value"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("{what}: {part:?} has an empty key or value"));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("{what}: {k} appears twice"));
        }
    }
    Ok(out)
}

/// Reads a whole CSV file with a header row, giving each record with its line number.
pub(crate) fn records(
    path: &std::path::Path,
    expected_header: &[&str],
) -> anyhow::Result<Vec<(u64, Result<csv::StringRecord, String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| anyhow::anyhow!("{}: header row: {e}", path.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    if header != expected_header {
        anyhow::bail!(
            "{}: line 1: header must be {:?}, found {:?}",
            path.display(),
            expected_header.join(","),
            header.join(",")
        );
    }
    let mut out = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                if r.len() != expected_header.len() {
                    out.push((
                        line,
                        Err(format!(
                            "{} fields, expected {}",
                            r.len(),
                            expected_header.len()
                        )),
                    ));
                } else {
                    out.push((line, Ok(r)));
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.push((line, Err(format!("not valid CSV: {e}"))));
            }
        }
    }
    Ok(out)
}
