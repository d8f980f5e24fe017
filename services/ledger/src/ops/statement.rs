//! `posfee.ledger.statement.<tenant>`: a tenant's clerk fetches one day's statement, a chunk
//! at a time. The statement is issued on the first ask if the scheduler has not issued it yet
//! (the day must have ended in the tenant's time zone); every fetch gives the same bytes.

use crate::app::{App, StatementKey};
use crate::statement;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::statement::{StatementChunk, StatementRequest, STATEMENT_CHUNK_BYTES};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let Ok(Subject::LedgerStatement(tenant)) = Subject::parse(&msg.subject) else {
        return Err(WireError::new(
            ErrorCode::BadRequest,
            "not a statement subject",
        ));
    };
    record(Field::Caller, &format!("clerk.{tenant}"));
    let req: StatementRequest = decode_request(&msg.payload)?;
    let most = req.max_bytes.unwrap_or(STATEMENT_CHUNK_BYTES);
    if !(1..=STATEMENT_CHUNK_BYTES).contains(&most) {
        return Err(WireError::field(
            "max_bytes",
            format!("from 1 to {STATEMENT_CHUNK_BYTES}, or none for the most"),
        ));
    }
    let issued = statement::issue(&app, &tenant, req.date).await?;
    let bytes = file(&app, (tenant.clone(), req.date, req.format))?;
    let size = bytes.len() as u64;
    if req.offset > size {
        return Err(WireError::field(
            "offset",
            format!("the file is {size} bytes; ask from 0 up to {size}"),
        ));
    }
    let end = (req.offset + most).min(size);
    reply_ok(&StatementChunk {
        tenant,
        date: req.date,
        format: req.format,
        issued_at: issued.issued_at,
        size,
        sha256: statement::sha256(&bytes),
        offset: req.offset,
        bytes: bytes[req.offset as usize..end as usize].to_vec(),
    })
}

/// The statement file, from the last one served if it is the same.
fn file(app: &App, key: StatementKey) -> Result<Arc<Vec<u8>>, WireError> {
    if let Some((k, bytes)) = last(app).as_ref() {
        if *k == key {
            return Ok(bytes.clone());
        }
    }
    let (_, bytes) = statement::file(app, &key.0, key.1, key.2)?
        .ok_or_else(|| super::internal("an issued statement is not in the view"))?;
    let bytes = Arc::new(bytes);
    *last(app) = Some((key, bytes.clone()));
    Ok(bytes)
}

type Last<'a> = std::sync::MutexGuard<'a, Option<(StatementKey, Arc<Vec<u8>>)>>;

fn last(app: &App) -> Last<'_> {
    app.last_statement.lock().unwrap_or_else(|p| p.into_inner())
}
