//! One file per request paygate answers.

pub mod amend;
pub mod audit;
pub mod basket;
pub mod erase;
pub mod pay;
pub mod payments;
pub mod register;

use crate::app::App;
use crate::journal;
use crate::store::Payer;
use posfee_schemas::ids::{KeyId, PayerHandle};
use posfee_schemas::{decode, WireError};

/// The payer who registered the device key `key`, with their record: from the view, or, for
/// a key it does not know, once the view has every registration. `None`: nobody did.
pub(crate) async fn device_owner(
    app: &App,
    key: &KeyId,
) -> Result<Option<(PayerHandle, Payer)>, WireError> {
    let key = key.as_str().as_bytes();
    if !app.store.devices.contains_key(key).map_err(internal)? {
        app.journal.settled_view(journal::REGISTRATIONS).await?;
    }
    let Some(handle) = app.store.devices.get(key).map_err(internal)? else {
        return Ok(None);
    };
    let handle =
        PayerHandle::parse(String::from_utf8_lossy(&handle).to_string()).map_err(internal)?;
    match app
        .store
        .payers
        .get(handle.as_str().as_bytes())
        .map_err(internal)?
    {
        Some(raw) => {
            let payer: Payer = decode(&raw).map_err(internal)?;
            if let Some(at) = payer.erased_at {
                return Err(WireError::new(
                    posfee_schemas::ErrorCode::PayerNotFound,
                    format!("this payer was erased at {at}; register again (a new device key)"),
                ));
            }
            Ok(Some((handle, payer)))
        }
        None => Ok(None),
    }
}

pub(crate) use posfee_runtime::serve::internal;
