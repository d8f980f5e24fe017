//! Keys rotate while money is in flight: a bill signed with the tenant's old key still pays
//! after the fee-engine has moved to a new one, settlement notices signed with paygate's new
//! key settle at a ledger that only knew the old one, and the books stay clean.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{call, ManualClock};
use posfee_harness::fixtures::{self, billing_now, register_phone};
use posfee_harness::{asker, Harness, ServiceOptions};
use posfee_operator::reconcile::reconcile;
use posfee_runtime::keyfile;
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, Role, ServiceName};
use std::sync::Arc;
use std::time::Duration;

fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-rot").unwrap()
}

async fn issue(terminal: &async_nats::Client, account: &str) -> IssuedBill {
    call(
        terminal,
        subjects::bill_issue(&kiosk()),
        &BillIssueRequest {
            basket: None,
            quote: QuoteRequest {
                tenant: fixtures::water(),
                account: AccountNo::parse(account).unwrap(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            terminal: kiosk(),
            idempotency_key: IdempotencyKey::parse(format!("rot-{account}")).unwrap(),
        },
        None,
    )
    .await
    .unwrap()
}

async fn pay(
    companion: &async_nats::Client,
    phone: &fixtures::Phone,
    bill: &IssuedBill,
) -> Receipt {
    let b: Bill = bill.signed.peek().unwrap();
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id: PaymentId::new_random(),
        payer: phone.payer.clone(),
        bill_id: b.bill_id,
        amount: b.total,
        terminal: kiosk(),
    };
    call(
        companion,
        fixtures::pay_subject(companion),
        &PayRequest {
            pairing: None,
            more_bills: Vec::new(),
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &phone.device_key_id,
                &phone.device_key,
            ),
            bill: bill.clone(),
        },
        Some(Duration::from_secs(30)),
    )
    .await
    .map(|r: SignedReceipt| r.peek().unwrap())
    .unwrap()
}

#[tokio::test]
async fn bills_and_settlements_keep_verifying_across_a_key_rotation() {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(billing_now());
    let opts = ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    h.start_all(opts.clone()).await.unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        &[
            AccountNo::parse("r-1").unwrap(),
            AccountNo::parse("r-2").unwrap(),
        ],
    )
    .await
    .unwrap();
    let terminal = h.terminal("kiosk-rot").await.unwrap();
    let companion = h.phone().await.unwrap().1;
    let phone = register_phone(&companion, "轮换").await.unwrap();

    let old_bill = issue(&terminal, "r-1").await;
    // `<tenant>-<instance>-<n>`: this instance's first key.
    let old_id = old_bill.signed.key_id.as_str().to_string();
    assert!(
        old_id.starts_with("city-water-") && old_id.ends_with("-1"),
        "{old_id}"
    );
    // Paygate settles once with its first key, so the ledger has that one cached.
    let warm = pay(&companion, &phone, &issue(&terminal, "r-2").await).await;
    assert_eq!(warm.total.fen.get(), 19000);

    // Rotate both signers' keys: a new key file each, picked up when the service restarts.
    let fee_keys = h
        .data()
        .service("fee-engine")
        .join("keys")
        .join("city-water");
    let paygate_keys = h.data().service("paygate").join("keys");
    assert_eq!(keyfile::rotate(&fee_keys).unwrap(), 2);
    assert_eq!(keyfile::rotate(&paygate_keys).unwrap(), 2);
    for s in [ServiceName::FeeEngine, ServiceName::Paygate] {
        h.stop_service(s).await.unwrap();
        h.start_service(s, opts.clone()).await.unwrap();
    }

    // The bill signed before the rotation still pays; its settlement notice is now signed
    // with paygate-2, which the ledger has never seen and fetches from the key directory.
    let receipt = pay(&companion, &phone, &old_bill).await;
    assert_eq!(receipt.bill_id, old_bill.bill_id);

    // New bills carry the new key id.
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        &[AccountNo::parse("r-3").unwrap()],
    )
    .await
    .unwrap();
    let new_bill = issue(&terminal, "r-3").await;
    assert_eq!(
        new_bill.signed.key_id.as_str(),
        format!("{}2", old_id.trim_end_matches('1'))
    );
    pay(&companion, &phone, &new_bill).await;

    let operator = h.connect(Role::Operator).await.unwrap();
    let r = posfee_harness::eventually_within(
        "the books after rotation",
        Duration::from_secs(5),
        || async {
            let r = reconcile(&operator, posfee_client::Clock::now(&clock))
                .await
                .unwrap();
            if r.differences.is_empty() && r.settled == 3 {
                Ok(r)
            } else {
                Err(r)
            }
        },
    )
    .await;
    assert_eq!((r.captured, r.voided), (3, 0));
}

#[tokio::test]
async fn a_bill_must_be_signed_by_its_own_tenants_key() {
    let mut h = Harness::start().await.unwrap();
    // A phone looks keys up through the query service.
    h.start_service(ServiceName::Query, ServiceOptions::default())
        .await
        .unwrap();
    let fee_engine = h.connect(Role::FeeEngine).await.unwrap();
    // A genuine key in the directory, published for one tenant.
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let key_id = KeyId::parse("acme-property-k9").unwrap();
    posfee_client::keydir::publish(
        &fee_engine,
        &h.signer(Role::FeeEngine),
        Purpose::Bill,
        "acme-property",
        &key_id,
        &key.verifying_key(),
    )
    .await
    .unwrap();
    let bill_for = |tenant: &str| Bill {
        basket: None,
        bill_id: BillId::new_random(),
        tenant: TenantId::parse(tenant).unwrap(),
        tenant_name: tenant.into(),
        account: AccountNo::parse("3-1-1202").unwrap(),
        terminal: kiosk(),
        as_of: billing_now().date_naive(),
        lines: vec![],
        total: posfee_schemas::money::Money::cny(100),
        issued_at: billing_now(),
        expires_at: billing_now(),
        holder_masked: None,
        tenant_name_zh: String::new(),
        class: String::new(),
        class_zh: String::new(),
    };
    let phone = h.phone().await.unwrap().1;
    let keys = posfee_client::keydir::KeyDirectory::remote(&phone, asker(&phone), h.root());
    // Its own tenant's bill verifies: the check can pass.
    let own = Signed::sign(Purpose::Bill, &bill_for("acme-property"), &key_id, &key);
    let bill = keys.verify_bill(&own).await.unwrap();
    assert_eq!(bill.tenant.as_str(), "acme-property");
    // The same key signing a bill payable to another tenant is refused.
    let foreign = Signed::sign(Purpose::Bill, &bill_for("city-water"), &key_id, &key);
    match keys.verify_bill(&foreign).await {
        Err(posfee_client::keydir::VerifyError::Sign(
            posfee_schemas::signed::SignError::NotOwner { owner, claimed, .. },
        )) => {
            assert_eq!(owner, "acme-property");
            assert_eq!(claimed, "city-water");
        }
        other => panic!("a foreign tenant's key was accepted: {other:?}"),
    }
}
