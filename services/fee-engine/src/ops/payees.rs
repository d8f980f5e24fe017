//! `posfee.fee.payees`: every payee the system collects for, in both languages, so a kiosk
//! lists them from the system itself rather than from its own configuration.

use crate::app::App;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::fee::{Payee, Payees, PayeesRequest};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let _: PayeesRequest = decode_request(&msg.payload)?;
    let payees = app
        .rules
        .tenants
        .values()
        .map(|t| Payee {
            tenant: t.id.clone(),
            name: t.name.clone(),
            name_zh: t.zh.name.clone().unwrap_or_default(),
            kinds: t.kinds.iter().map(|k| k.kind.clone()).collect(),
        })
        .collect();
    reply_ok(&Payees { payees })
}
