//! `posfee report daily`: a tenant's billing clerk fetches the tenant's statement of one day
//! (T+1: issued once the day has ended in the tenant's time zone), as CSV or JSON, with its
//! SHA-256 beside it in `<file>.sha256` (the `sha256sum` format). The file is fetched in
//! chunks and checked against the hash the ledger recorded when it issued the statement.

use anyhow::Context;
use chrono::NaiveDate;
use posfee_client::{call, CallError};
use posfee_deploy::layout::DataDir;
use posfee_schemas::ids::TenantId;
use posfee_schemas::statement::{StatementChunk, StatementFormat, StatementRequest};
use posfee_schemas::subjects;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the ledger may take to answer one chunk (issuing a statement first included).
pub const CHUNK_TIMEOUT_MS: u64 = 15_000;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReportCommand {
    /// One day's statement of a tenant: every payment and refund, then totals.
    Daily(DailyArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct DailyArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The tenant (biller), e.g. city-water: the clerk's own.
    #[arg(long)]
    pub tenant: String,
    /// The day, YYYY-MM-DD, in the tenant's time zone; it must have ended.
    #[arg(long)]
    pub date: String,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Where to write the statement (default `<tenant>-<date>.<format>` here); its SHA-256
    /// goes beside it in `<file>.sha256`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The clerk's seed file (default: the one `posfee keys clerk TENANT` wrote).
    #[arg(long, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
}

/// What the arguments ask for, checked before anything is sent.
pub fn request(args: &DailyArgs) -> anyhow::Result<(TenantId, StatementRequest, PathBuf)> {
    let tenant = TenantId::parse(&args.tenant)
        .map_err(|e| anyhow::anyhow!("--tenant {}: {e}", args.tenant))?;
    let date = NaiveDate::parse_from_str(&args.date, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("--date {}: a day as YYYY-MM-DD", args.date))?;
    let format = match args.format.as_str() {
        "csv" => StatementFormat::Csv,
        "json" => StatementFormat::Json,
        other => anyhow::bail!("--format {other}: csv or json"),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| format!("{tenant}-{date}.{}", format.as_str()).into());
    let req = StatementRequest {
        date,
        format,
        offset: 0,
        max_bytes: None,
    };
    Ok((tenant, req, out))
}

pub async fn run(command: ReportCommand, json: bool) -> anyhow::Result<()> {
    let ReportCommand::Daily(args) = command;
    let (tenant, req, out) = request(&args)?;
    let data = DataDir::new(&args.data_dir);
    let clerk =
        crate::up::connect_clerk(&data, &tenant, args.nkey_file.as_deref(), "posfee-report")
            .await?;
    let (first, bytes) = fetch(&clerk, &tenant, req).await?;
    write(&out, &bytes, &first.sha256)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "tenant": first.tenant, "date": first.date, "format": first.format,
                "issued_at": first.issued_at, "bytes": first.size, "sha256": first.sha256,
                "file": out.display().to_string(),
            })
        );
    } else {
        println!(
            "statement of {tenant} for {} ({} bytes, issued {}) written to {}; sha256 {} in {}",
            first.date,
            first.size,
            posfee_client::screen::local_time(first.issued_at),
            out.display(),
            first.sha256,
            sha_file(&out).display()
        );
    }
    Ok(())
}

/// The ledger refused the statement (not issued yet, before the first, no such tenant …).
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(pub posfee_schemas::error::WireError);

/// Every chunk of the statement, in order; the first chunk's header and the whole file,
/// checked against its SHA-256.
pub async fn fetch(
    clerk: &async_nats::Client,
    tenant: &TenantId,
    mut req: StatementRequest,
) -> anyhow::Result<(StatementChunk, Vec<u8>)> {
    let subject = subjects::ledger_statement(tenant);
    let timeout = Some(Duration::from_millis(CHUNK_TIMEOUT_MS));
    let mut bytes = Vec::new();
    let mut first: Option<StatementChunk> = None;
    loop {
        let chunk: StatementChunk = match call(clerk, subject.clone(), &req, timeout).await {
            Ok(c) => c,
            Err(CallError::Remote(e)) => return Err(Refused(e).into()),
            Err(e) => anyhow::bail!("no answer from the ledger ({e}); run the same command again"),
        };
        if first
            .as_ref()
            .is_some_and(|f| f.sha256 != chunk.sha256 || f.size != chunk.size)
        {
            anyhow::bail!("the statement changed while it was fetched; run the same command again");
        }
        let done = chunk.bytes.is_empty() || chunk.offset + chunk.bytes.len() as u64 >= chunk.size;
        bytes.extend_from_slice(&chunk.bytes);
        req.offset = bytes.len() as u64;
        let head = first.get_or_insert_with(|| StatementChunk {
            bytes: Vec::new(),
            ..chunk
        });
        if done {
            let got: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if got != head.sha256 || bytes.len() as u64 != head.size {
                anyhow::bail!(
                    "the statement fetched does not match its SHA-256 ({got} against {}); run the same command again",
                    head.sha256
                );
            }
            return Ok((head.clone(), bytes));
        }
    }
}

/// `<file>.sha256`.
fn sha_file(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The file and its hash beside it, as `sha256sum -c` reads it.
fn write(out: &Path, bytes: &[u8], sha256: &str) -> anyhow::Result<()> {
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let sums = sha_file(out);
    std::fs::write(&sums, format!("{sha256}  {name}\n"))
        .with_context(|| format!("writing {}", sums.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(date: &str, format: &str) -> DailyArgs {
        DailyArgs {
            data_dir: "./data".into(),
            tenant: "city-water".into(),
            date: date.into(),
            format: format.into(),
            out: None,
            nkey_file: None,
        }
    }

    #[test]
    fn the_day_and_format_are_checked_and_the_file_is_named_after_them() {
        let (_, req, out) = request(&args("2026-11-25", "json")).unwrap();
        assert_eq!(req.format, StatementFormat::Json);
        assert_eq!(out, PathBuf::from("city-water-2026-11-25.json"));
        assert_eq!(
            sha_file(&out),
            PathBuf::from("city-water-2026-11-25.json.sha256")
        );
        for (date, format, flag) in [
            ("25/11/2026", "csv", "--date"),
            ("2026-11-25", "xls", "--format"),
        ] {
            let e = request(&args(date, format)).unwrap_err().to_string();
            assert!(e.starts_with(flag), "{e}");
        }
    }
}
