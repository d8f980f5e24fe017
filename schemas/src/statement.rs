//! A biller's daily statement (T+1): every payment settled and every refund made for one
//! tenant on one day of the tenant's time zone, with totals, issued by the ledger once the day
//! has ended and never changed afterwards. Fetched by the tenant's clerk only, on
//! `posfee.ledger.statement.<tenant>`, in chunks.

use crate::ids::{AccountNo, BillId, PayerHandle, PaymentId, TenantId, TerminalId};
use crate::money::Fen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The most bytes of a statement file one answer carries.
pub const STATEMENT_CHUNK_BYTES: u64 = 256 * 1024;

/// The file a statement is fetched as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    /// UTF-8 CSV: comment lines starting with `#` (tenant, day, zone, when issued), a header
    /// row, one row per payment or refund, then the totals as comment lines.
    Csv,
    /// The [`Statement`] as pretty-printed JSON.
    Json,
}

impl StatementFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementFormat::Csv => "csv",
            StatementFormat::Json => "json",
        }
    }
}

/// `posfee.ledger.statement.<tenant>`: part of the tenant's statement of `date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRequest {
    /// The day, in the tenant's time zone.
    pub date: NaiveDate,
    pub format: StatementFormat,
    /// Where in the file this answer starts (0 for the first chunk).
    #[serde(default)]
    pub offset: u64,
    /// The most bytes this answer may carry (1 to [`STATEMENT_CHUNK_BYTES`], which is the
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// Part of a statement file: `bytes` from `offset`; the next chunk starts at `offset` +
/// `bytes.len()`, and the file ends at `size`. `sha256` is the whole file's, the same in every
/// chunk and on every later fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementChunk {
    pub tenant: TenantId,
    pub date: NaiveDate,
    pub format: StatementFormat,
    pub issued_at: DateTime<Utc>,
    pub size: u64,
    /// SHA-256 of the whole file, 64 lower-case hex digits.
    pub sha256: String,
    pub offset: u64,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A statement, as its JSON file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub tenant: TenantId,
    pub date: NaiveDate,
    /// The tenant's time zone (IANA name); every row's time carries its offset.
    pub time_zone: String,
    pub issued_at: DateTime<Utc>,
    pub rows: Vec<StatementRow>,
    pub totals: StatementTotals,
}

/// What a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    Payment,
    Refund,
}

/// One payment or one refund. A refund is on the statement of the day it was made, whenever
/// its payment was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRow {
    /// When it was settled or refunded, in the tenant's time zone (RFC 3339 with offset).
    pub at: String,
    pub kind: RowKind,
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub account: AccountNo,
    /// The bill's fee kinds with their periods, e.g. `water 2026-10`, `; `-separated.
    pub fees: String,
    /// The payment's amount (a payment row) or 0 (a refund row), in fen.
    pub amount: Fen,
    /// The refund's amount (a refund row) or 0, in fen.
    pub refund: Fen,
    /// `amount - refund`.
    pub net: Fen,
    pub terminal: TerminalId,
    /// The payer as this biller knows them.
    pub payer: PayerHandle,
    /// It happened on an earlier day but reached the books after that day's statement was
    /// issued: an issued statement never changes, so it is on this one.
    #[serde(default)]
    pub late: bool,
}

/// The statement's sums, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatementTotals {
    pub payments: u64,
    pub refunds: u64,
    pub amount: Fen,
    pub refunded: Fen,
    pub net: Fen,
}
