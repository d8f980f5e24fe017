//! `posfee.ledger.statement.<tenant>`: a tenant's clerk fetches one day's statement, a chunk
//! at a time. The statement is issued on the first ask if the scheduler has not issued it yet
//! (the day must have ended in the tenant's time zone); every fetch gives the same bytes.

use crate::app::App;
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
    let issued = statement::issue(&app, &tenant, req.date).await?;
    let (_, bytes) = statement::file(&app, &tenant, req.date, req.format)?
        .ok_or_else(|| super::internal("an issued statement is not in the view"))?;
    let size = bytes.len() as u64;
    if req.offset > size {
        return Err(WireError::field(
            "offset",
            format!("the file is {size} bytes; ask from 0 up to {size}"),
        ));
    }
    let end = (req.offset + STATEMENT_CHUNK_BYTES).min(size);
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
