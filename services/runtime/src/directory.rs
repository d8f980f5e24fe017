//! `posfee.keys.get.<asker>`: a public key or an authority's certificate from the key
//! directory, for kiosks and phones, which have no JetStream rights. What is answered is
//! passed on as stored, for the asker to believe or not through the root it pins, so any
//! service may answer: the query service answers everyone, and the fee-engine and the ledger
//! answer kiosks, paygate phones, in one queue group. A kiosk or phone in the middle of a
//! payment gets its keys while the query service is down.

use async_nats::jetstream::{self, kv};
use posfee_schemas::signed::{KeyRequest, PublicKeyRecord, Purpose, Signed};
use posfee_schemas::trust::DirectoryEntry;
use posfee_schemas::{decode, subjects, ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

use crate::serve::{decode_request, reply_ok, Handled};

/// How long the bucket may take to find a record.
pub const BUCKET_TIMEOUT_MS: u64 = 2_000;

/// The endpoint: the bucket, opened on first use (a stream-info round trip) and kept.
pub struct Directory {
    client: async_nats::Client,
    bucket: OnceCell<kv::Store>,
}

use crate::serve::unavailable;

impl Directory {
    pub fn new(client: &async_nats::Client) -> Arc<Directory> {
        Arc::new(Directory {
            client: client.clone(),
            bucket: OnceCell::new(),
        })
    }

    async fn bucket(&self) -> Result<&kv::Store, WireError> {
        self.bucket
            .get_or_try_init(|| async {
                jetstream::new(self.client.clone())
                    .get_key_value(subjects::KEYS_BUCKET)
                    .await
                    .map_err(|e| unavailable("opening the key directory", e))
            })
            .await
    }

    pub async fn handle(self: Arc<Self>, msg: async_nats::Message) -> Handled {
        let req: KeyRequest = decode_request(&msg.payload)?;
        let Some(purpose) = Purpose::of_directory(&req.purpose) else {
            return Err(WireError::field(
                "purpose",
                "must be bill, settlement or authority",
            ));
        };
        let get = self
            .bucket()
            .await?
            .get(PublicKeyRecord::directory_key(purpose, &req.key_id));
        let raw = match tokio::time::timeout(Duration::from_millis(BUCKET_TIMEOUT_MS), get).await {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => return Err(unavailable("reading the key directory", e)),
            Err(_) => return Err(unavailable("reading the key directory", "timed out")),
        };
        let unknown = || {
            WireError::new(
                ErrorCode::BadSignature,
                format!(
                    "{} {} is not in the key directory: the signature cannot be trusted",
                    req.purpose, req.key_id
                ),
            )
        };
        let Some(raw) = raw else {
            return Err(unknown());
        };
        // What does not even read as a directory value is not answered at all.
        match purpose {
            Purpose::Authority => reply_ok(&decode::<Signed>(&raw).map_err(|_| unknown())?),
            _ => reply_ok(&decode::<DirectoryEntry>(&raw).map_err(|_| unknown())?),
        }
    }
}
