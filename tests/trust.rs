//! A record that money rests on is believed because of who signed it, never because of where
//! it was written: a key record in the directory that the root's authorities did not sign, a
//! receipt the ledger did not sign, a settlement notice signed with a key nobody certified,
//! and an event id anyone could compute are all worth nothing, even when a forger has
//! managed to write them where the real ones live: the forger here holds the service
//! credentials that may write there (a leaked seed), never a service's authority.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::Stream;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use posfee_client::{call, CallError, ManualClock};
use posfee_companion::register::{self, Identity as Person};
use posfee_companion::{verify, Companion};
use posfee_harness::{fixtures, Harness, ServiceOptions};
use posfee_pos_agent::receipt::ReceiptWatch;
use posfee_schemas::events::EventBody;
use posfee_schemas::fee::{Bill, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{
    Receipt, RefundReply, RefundRequest, SettleRequest, SettlementNotice, SignedReceipt,
};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::pairing::BillOffer;
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{PublicKeyRecord, Purpose, Signed};
use posfee_schemas::subjects::{self, EventKind, Identity, LedgerOp, PaygateOp, Role};
use posfee_schemas::trust::{
    may, JournalLink, JournalSeal, RootSigner, Signer, JOURNAL_PREV_HEADER, JOURNAL_SEAL_HEADER,
};
use posfee_schemas::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

fn account() -> AccountNo {
    AccountNo::parse("3-1-1202").unwrap()
}
fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}
fn now() -> chrono::DateTime<Utc> {
    fixtures::billing_now()
}

fn quote() -> QuoteRequest {
    QuoteRequest {
        tenant: fixtures::water(),
        account: account(),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    }
}

/// Every service, one household that owes 190.00 CNY, a kiosk and a registered phone.
struct World {
    h: Harness,
    kiosk: posfee_pos_agent::Agent,
    phone: Companion,
    _home: tempfile::TempDir,
}

async fn world() -> World {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(now());
    h.start_all(ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &[account()])
        .await
        .unwrap();
    let kiosk = h
        .kiosk(&kiosk(), Duration::from_secs(60), Arc::new(clock.clone()))
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let phone = h.companion(home.path(), Arc::new(clock)).await.unwrap();
    register::register(
        &phone,
        Person {
            name: "王五".into(),
            national_id: "110101199003071233".into(),
            bank_account: "4111111111111111".into(),
        },
    )
    .await
    .unwrap();
    World {
        h,
        kiosk,
        phone,
        _home: home,
    }
}

/// A root of the forger's own, and an authority it certified under a genuine name.
fn forged_authority(name: &str, rights: &[&str]) -> Signer {
    let root = RootSigner::from_seed(&nkeys::KeyPair::new_operator().seed().unwrap()).unwrap();
    certified(&root, name, rights)
}

fn certified(root: &RootSigner, name: &str, rights: &[&str]) -> Signer {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let cert = root
        .certify(
            &KeyId::parse(name).unwrap(),
            &key.verifying_key(),
            rights,
            now(),
        )
        .unwrap();
    Signer::new(key, cert).unwrap()
}

/// Writes `value` into the key directory under `key` with the credential that may write
/// there (the fee-engine's for `bill.*`, paygate's for `settlement.*`, the set-up's for
/// `authority.*`): a forger holding a leaked service seed, but not the service's authority.
async fn forge_directory(h: &Harness, key: &str, value: Vec<u8>) {
    let role = match key.split('.').next() {
        Some("bill") => Role::FeeEngine,
        Some("settlement") => Role::Paygate,
        _ => Role::Admin,
    };
    let writer = h.connect(role).await.unwrap();
    let kv = async_nats::jetstream::new(writer)
        .get_key_value(subjects::KEYS_BUCKET)
        .await
        .unwrap();
    kv.put(key, value.into()).await.unwrap();
}

/// A key directory entry for `key`, signed by `authority`.
fn entry(
    authority: &Signer,
    purpose: Purpose,
    id: &KeyId,
    owner: &str,
    key: &SigningKey,
) -> Vec<u8> {
    let record = PublicKeyRecord {
        key_id: id.clone(),
        purpose: purpose.as_str().into(),
        owner: owner.into(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        published_at: now(),
    };
    posfee_schemas::encode(&authority.entry(&record))
}

/// The kiosk's genuine bill, and the same bill for 0.01 CNY signed with `key` under `id`.
async fn genuine_and_cheap(w: &World, key: &SigningKey, id: &KeyId) -> (IssuedBill, IssuedBill) {
    let shown = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap();
    let mut bill: Bill = shown.issued.signed.peek().unwrap();
    for line in &mut bill.lines {
        line.amount = Fen::new(1);
    }
    bill.total = Money::cny(i64::try_from(bill.lines.len()).unwrap());
    let cheap = IssuedBill {
        bill_id: bill.bill_id,
        signed: Signed::sign(Purpose::Bill, &bill, id, key),
    };
    (shown.issued, cheap)
}

/// The phone pays `issued` in full, straight at paygate.
async fn pay(w: &World, issued: &IssuedBill) -> Result<SignedReceipt, CallError> {
    let profile = w.phone.home.profile().unwrap().unwrap();
    let bill: Bill = issued.signed.peek().unwrap();
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id: PaymentId::new_random(),
        payer: profile.payer.clone().unwrap(),
        bill_id: bill.bill_id,
        amount: bill.total,
        terminal: kiosk(),
    };
    let req = PayRequest {
        pairing: None,
        more_bills: Vec::new(),
        order: Signed::sign(
            Purpose::DevicePay,
            &order,
            &profile.device_key_id,
            &register::device_key(&profile).unwrap(),
        ),
        bill: issued.clone(),
    };
    let me = Identity::Device(w.phone.device.clone());
    call(
        &w.phone.client,
        subjects::paygate(PaygateOp::Pay, &me),
        &req,
        Some(Duration::from_secs(20)),
    )
    .await
}

fn offer(issued: &IssuedBill) -> BillOffer {
    BillOffer {
        pairing: None,
        more_bills: Vec::new(),
        terminal: kiosk(),
        bill: issued.clone(),
        pairing_expires_at: now() + chrono::Duration::seconds(60),
        updates: None,
    }
}

#[tokio::test]
async fn a_bill_key_the_root_did_not_vouch_for_is_refused_by_the_phone_paygate_and_the_ledger() {
    let w = world().await;
    let forged_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let forged_id = KeyId::parse("city-water-99").unwrap();
    let (genuine, cheap) = genuine_and_cheap(&w, &forged_key, &forged_id).await;
    // The probe can succeed: the genuine bill verifies on the phone.
    let v = verify::offer(&w.phone, &offer(&genuine), &kiosk())
        .await
        .unwrap();
    assert_eq!(v.bill.total, Money::cny(19000));

    // The forger's key, in the directory under a root of its own: refused.
    let outsider = forged_authority("fee-engine", &[may::BILL, may::SEAL]);
    let key = format!("bill.{forged_id}");
    forge_directory(
        &w.h,
        &key,
        entry(
            &outsider,
            Purpose::Bill,
            &forged_id,
            "city-water",
            &forged_key,
        ),
    )
    .await;
    let refused = verify::offer(&w.phone, &offer(&cheap), &kiosk())
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadSignature, "{refused}");

    // A genuine authority of the root that may not vouch for bills (the query service's,
    // which only seals): refused too. A colluding service cannot mint bill keys.
    let query = w.h.signer(Role::Query);
    forge_directory(
        &w.h,
        &key,
        entry(&query, Purpose::Bill, &forged_id, "city-water", &forged_key),
    )
    .await;
    let refused = verify::offer(&w.phone, &offer(&cheap), &kiosk())
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadSignature, "{refused}");

    // Paygate refuses to hold money for it.
    let profile = w.phone.home.profile().unwrap().unwrap();
    match pay(&w, &cheap).await {
        Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::BadSignature, "{e}"),
        other => panic!("paygate took a bill signed with a forged key: {other:?}"),
    }

    // The ledger refuses a settlement notice signed with a key the root did not vouch for,
    // sent on paygate's subject by paygate's identity.
    let notice_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let notice_id = KeyId::parse("paygate-forged-1").unwrap();
    forge_directory(
        &w.h,
        &format!("settlement.{notice_id}"),
        entry(
            &forged_authority("paygate", &[may::SETTLEMENT]),
            Purpose::Settlement,
            &notice_id,
            "paygate",
            &notice_key,
        ),
    )
    .await;
    let notice = SettlementNotice {
        basket: None,
        payment_id: PaymentId::new_random(),
        payer: profile.payer.unwrap(),
        amount: Money::cny(19000),
        bill: genuine,
        authorized_at: now(),
    };
    let paygate = w.h.connect(Role::Paygate).await.unwrap();
    let settled = call::<_, SignedReceipt>(
        &paygate,
        subjects::ledger(LedgerOp::Settle),
        &SettleRequest {
            more: Vec::new(),
            notice: Signed::sign(Purpose::Settlement, &notice, &notice_id, &notice_key),
        },
        None,
    )
    .await;
    match settled {
        Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::BadSignature, "{e}"),
        other => panic!("the ledger settled on a forged notice key: {other:?}"),
    }
}

/// A receipt for the kiosk's bill, signed by `signer` (genuine or not) and published where the
/// ledger sends receipts.
async fn send_receipt(h: &Harness, signer: &Signer, receipt: &Receipt) {
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let signed = SignedReceipt(signer.sign(Purpose::Receipt, receipt));
    ledger
        .publish(
            subjects::receipt(&kiosk()),
            posfee_schemas::encode(&signed).into(),
        )
        .await
        .unwrap();
    ledger.flush().await.unwrap();
}

#[tokio::test]
async fn a_receipt_the_ledger_did_not_sign_is_never_printed() {
    let w = world().await;
    let shown = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap();
    let bill: Bill = shown.issued.signed.peek().unwrap();
    let receipt_for = |fen: i64| Receipt {
        total: Money::cny(fen),
        ..Receipt::of_bill(PaymentId::new_random(), &bill, now())
    };
    let mut watch = ReceiptWatch::subscribe(&w.kiosk).await.unwrap();
    let kiosk = w.kiosk.clone();
    let bill_id = bill.bill_id;
    let printed = tokio::spawn(async move { watch.next_for(&kiosk, bill_id).await });
    // A ledger of the forger's own root, under the ledger's name.
    send_receipt(
        &w.h,
        &forged_authority("ledger", &[may::RECEIPT]),
        &receipt_for(1),
    )
    .await;
    // A genuine authority of the root that may not sign receipts.
    send_receipt(&w.h, &w.h.signer(Role::FeeEngine), &receipt_for(2)).await;
    // The forger's certificate written over the ledger's in the directory, and a receipt
    // signed by the forger's key: still refused, through the root.
    let forger = forged_authority("ledger", &[may::RECEIPT, may::SEAL]);
    forge_directory(
        &w.h,
        "authority.ledger",
        posfee_schemas::encode(forger.certificate()),
    )
    .await;
    send_receipt(&w.h, &forger, &receipt_for(3)).await;
    // The ledger's own: printed, and it is the one printed.
    let ledger = w.h.signer(Role::Ledger);
    forge_directory(
        &w.h,
        "authority.ledger",
        posfee_schemas::encode(ledger.certificate()),
    )
    .await;
    send_receipt(&w.h, &ledger, &receipt_for(19000)).await;
    let got = tokio::time::timeout(Duration::from_secs(10), printed)
        .await
        .expect("the genuine receipt is printed")
        .unwrap()
        .unwrap();
    assert_eq!(got.total, Money::cny(19000), "a forged receipt was printed");
}

#[tokio::test]
async fn nobody_can_take_a_settlements_event_id_first() {
    let w = world().await;
    let shown = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap();
    // The phone pays with a payment id chosen now; before it does, a writer of the stream
    // publishes something else under the id this settlement's event had while ids could be
    // computed from the payment id.
    let v = verify::offer(&w.phone, &offer(&shown.issued), &kiosk())
        .await
        .unwrap();
    let payment = posfee_companion::pay::payment_id_for(&w.phone, v.bill.bill_id)
        .await
        .unwrap();
    let old_id = EventId::derived("payment.settled", payment.0.as_bytes());
    let query = w.h.connect(Role::Query).await.unwrap();
    let js = async_nats::jetstream::new(query);
    let decoy = async_nats::jetstream::message::PublishMessage::build()
        .message_id(old_id.to_string())
        .payload("decoy".into());
    js.send_publish(subjects::event(EventKind::PairingJoined), decoy)
        .await
        .unwrap()
        .await
        .unwrap();
    let receipt = posfee_companion::pay::pay(&w.phone, &v)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(receipt.payment_id, payment);
    // The settlement's event is stored all the same, under an id nobody else could know.
    let operator = w.h.connect(Role::Operator).await.unwrap();
    let stored =
        posfee_harness::stored_events(&operator, &subjects::event(EventKind::PaymentSettled))
            .await
            .unwrap();
    let settled: Vec<_> = stored
        .iter()
        .filter(|e| matches!(&e.body, EventBody::PaymentSettled(s) if s.payment_id == payment))
        .collect();
    assert_eq!(settled.len(), 1, "the settlement's event was dropped");
    assert_ne!(settled[0].id, old_id);
}

/// Appends `entry` to a journal as the role that may write it (a leaked seed), chained after
/// the subject's last entry, sealed with `key` if any.
async fn append<E: serde::Serialize>(
    h: &Harness,
    role: Role,
    subject: String,
    entry: &E,
    key: Option<&JournalSeal>,
) {
    let writer = async_nats::jetstream::new(h.connect(role).await.unwrap());
    let payload = posfee_schemas::encode(entry);
    let prev = last_link(&writer, role, &subject).await;
    let mut msg = PublishMessage::build().header(JOURNAL_PREV_HEADER, prev.to_hex().as_str());
    if let Some(k) = key {
        let seal = k.render(&subject, &prev, &payload);
        msg = msg.header(JOURNAL_SEAL_HEADER, seal.as_str());
    }
    writer
        .send_publish(subject, msg.payload(payload.into()))
        .await
        .unwrap()
        .await
        .unwrap();
}

/// `role`'s journal.
async fn journal_of(js: &async_nats::jetstream::Context, role: Role) -> Stream<()> {
    js.get_stream_no_info(journal_name(role)).await.unwrap()
}

fn journal_name(role: Role) -> &'static str {
    match role {
        Role::Ledger => subjects::LEDGER_JOURNAL,
        Role::Identity => subjects::IDENTITY_JOURNAL,
        _ => subjects::PAYGATE_JOURNAL,
    }
}

/// The link the next entry on `subject` chains to.
async fn last_link(js: &async_nats::jetstream::Context, role: Role, subject: &str) -> JournalLink {
    match journal_of(js, role)
        .await
        .get_last_raw_message_by_subject(subject)
        .await
    {
        Ok(raw) => {
            let prev = raw.headers.get(JOURNAL_PREV_HEADER).unwrap().as_str();
            JournalLink::from_hex(prev)
                .unwrap()
                .next(subject, &raw.payload)
        }
        Err(_) => JournalLink::START,
    }
}

/// A ledger `Closed` entry for `issued`, on its account's journal subject.
fn closing(issued: &IssuedBill) -> (String, posfee_ledger::journal::Entry) {
    let bill: Bill = issued.signed.peek().unwrap();
    let scope = posfee_ledger::journal::scope(&bill.tenant, &bill.account);
    (
        posfee_ledger::journal::subject(&scope),
        posfee_ledger::journal::Entry::Closed {
            pairing: None,
            bill: bill.bill_id,
            why: "forged".into(),
            writer: 0,
            event: None,
        },
    )
}

#[tokio::test]
async fn a_journal_entry_its_service_did_not_seal_changes_nothing() {
    let w = world().await;
    // The probe can succeed: an entry sealed by the ledger's authority, closing a bill, is
    // believed, and the bill can no longer be paid.
    let closed = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap()
        .issued;
    let (subject, entry) = closing(&closed);
    append(
        &w.h,
        Role::Ledger,
        subject,
        &entry,
        Some(&w.h.journal_seal(Role::Ledger)),
    )
    .await;
    // (The ledger decides on its journal's latest state: the entry is seen at once.)
    match pay(&w, &closed).await {
        Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::PairingGone, "{e}"),
        other => panic!("a bill the ledger's authority closed was paid: {other:?}"),
    }

    // A leaked ledger seed closes the next bill without a seal, and with a seal under a key
    // of its own; a leaked paygate seed rewrites the payer's registration with nothing to
    // spend.
    let bill = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap()
        .issued;
    let (subject, entry) = closing(&bill);
    append(&w.h, Role::Ledger, subject.clone(), &entry, None).await;
    let outsider = JournalSeal::from_hex(&JournalSeal::generate_hex()).unwrap();
    append(&w.h, Role::Ledger, subject, &entry, Some(&outsider)).await;
    let registered = registration(&w.h).await;
    let posfee_paygate::journal::Entry::Registered {
        handle,
        mut payer,
        idempotency_key,
        registration,
        identity,
    } = registered
    else {
        panic!("the registrations scope holds a registration")
    };
    payer.balance = Fen::new(0);
    let emptied = posfee_paygate::journal::Entry::Registered {
        handle,
        payer,
        idempotency_key,
        registration,
        identity,
    };
    let subject = posfee_paygate::journal::subject(posfee_paygate::journal::REGISTRATIONS);
    append(&w.h, Role::Paygate, subject, &emptied, None).await;

    // The bill is paid all the same: the books and the platform skipped what they did not
    // seal.
    let receipt = pay(&w, &bill).await.unwrap();
    let bill: Bill = bill.signed.peek().unwrap();
    assert_eq!(receipt.peek().unwrap().bill_id, bill.bill_id);
}

/// The payer's registration as paygate journaled it.
async fn registration(h: &Harness) -> posfee_paygate::journal::Entry {
    let js = async_nats::jetstream::new(h.connect(Role::Paygate).await.unwrap());
    let stream = js
        .get_stream_no_info(subjects::PAYGATE_JOURNAL)
        .await
        .unwrap();
    let subject = posfee_paygate::journal::subject(posfee_paygate::journal::REGISTRATIONS);
    let raw = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    posfee_schemas::decode(&raw.payload).unwrap()
}

#[tokio::test]
async fn a_sealed_journal_entry_put_back_later_changes_nothing() {
    let w = world().await;
    let issued = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap()
        .issued;
    let receipt: Receipt = pay(&w, &issued).await.unwrap().peek().unwrap();
    let clerk = w.h.clerk("city-water").await.unwrap();
    let refund = |key: &str| RefundRequest {
        payment_id: receipt.payment_id,
        amount: Money::cny(1),
        reason: "meter misread".into(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    };
    let ask = |key: &'static str| {
        let (clerk, req) = (clerk.clone(), refund(key));
        async move {
            let subject = subjects::ledger_refund(&posfee_harness::fixtures::water());
            let r: RefundReply = call(&clerk, subject, &req, None).await.unwrap();
            r.total_refunded
        }
    };
    assert_eq!(ask("r-1").await, Money::cny(1));
    // The refund's entry, as stored: sealed, chained after the settlement.
    let bill: Bill = issued.signed.peek().unwrap();
    let scope = posfee_ledger::journal::scope(&bill.tenant, &bill.account);
    let subject = posfee_ledger::journal::subject(&scope);
    let ledger = async_nats::jetstream::new(w.h.connect(Role::Ledger).await.unwrap());
    let stored = journal_of(&ledger, Role::Ledger)
        .await
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    let entry: posfee_ledger::journal::Entry = posfee_schemas::decode(&stored.payload).unwrap();
    assert!(matches!(
        entry,
        posfee_ledger::journal::Entry::Refunded { .. }
    ));
    // The probe can succeed: the same entry chained in its new place by the journal key's
    // holder is believed, and the payment counts one more fen refunded.
    append(
        &w.h,
        Role::Ledger,
        subject.clone(),
        &entry,
        Some(&w.h.journal_seal(Role::Ledger)),
    )
    .await;
    assert_eq!(ask("r-2").await, Money::cny(3));
    // Put back by a leaked ledger seed with its seal and link as stored, it is passed over:
    // the next refund counts only itself.
    let mut copy = PublishMessage::build();
    for name in [JOURNAL_PREV_HEADER, JOURNAL_SEAL_HEADER] {
        copy = copy.header(name, stored.headers.get(name).unwrap().as_str());
    }
    ledger
        .send_publish(subject, copy.payload(stored.payload.clone()))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ask("r-3").await, Money::cny(4));
}

#[tokio::test]
async fn a_journal_entry_removed_or_altered_through_the_admin_credential_is_named_by_reconcile() {
    let w = world().await;
    let operator = w.h.connect(Role::Operator).await.unwrap();
    let issued = posfee_pos_agent::bill::issue(&w.kiosk, quote())
        .await
        .unwrap()
        .issued;
    let receipt: Receipt = pay(&w, &issued).await.unwrap().peek().unwrap();
    let bill: Bill = issued.signed.peek().unwrap();
    let subject = posfee_ledger::journal::subject(&posfee_ledger::journal::scope(
        &bill.tenant,
        &bill.account,
    ));
    let admin = async_nats::jetstream::new(w.h.connect(Role::Admin).await.unwrap());
    let settled = journal_of(&admin, Role::Ledger)
        .await
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap()
        .sequence;
    let clerk = w.h.clerk("city-water").await.unwrap();
    let refund = RefundRequest {
        payment_id: receipt.payment_id,
        amount: Money::cny(1),
        reason: "meter misread".into(),
        idempotency_key: IdempotencyKey::parse("r-1").unwrap(),
    };
    let subject_refund = subjects::ledger_refund(&fixtures::water());
    let _: RefundReply = call(&clerk, subject_refund, &refund, None).await.unwrap();
    // The probe can succeed: once paygate has credited the refund, the books agree and both
    // chains are walked whole.
    let whole = agreed(&operator).await;
    assert!(
        whole
            .journals
            .iter()
            .all(|j| j.entries > 0 && j.broken.is_none()),
        "{:?}",
        whole.journals
    );

    // The journals deny deleting an entry, so the admin credential deletes the whole stream
    // and writes it again (with a leaked ledger seed) without the settlement: the refund
    // after it is named.
    let moved = rewrite(&w.h, Role::Ledger, |seq, _| {
        (seq != settled).then_some(None)
    })
    .await;
    let (report, broken) = chain_breaks(&operator).await;
    assert_eq!(broken.len(), 1, "{:?}", report.differences);
    let (journal, link) = &broken[0];
    assert_eq!(journal, subjects::LEDGER_JOURNAL);
    let refunded = journal_of(&admin, Role::Ledger)
        .await
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap()
        .sequence;
    assert!(moved.values().any(|s| *s == refunded));
    assert_eq!(
        (link.seq, link.subject.as_str()),
        (refunded, subject.as_str())
    );
    assert_eq!(link.names.as_deref(), Some("city-water/3-1-1202"));

    // The payer's registration altered by one bit in paygate's journal, written again with
    // its seal and link as they were: named too.
    let reg_subject = posfee_paygate::journal::subject(posfee_paygate::journal::REGISTRATIONS);
    let moved = rewrite(&w.h, Role::Paygate, |_, m| {
        Some((m.subject.as_str() == reg_subject).then(|| {
            let mut altered = m.payload.to_vec();
            let last = altered.len() - 1;
            altered[last] ^= 1;
            altered
        }))
    })
    .await;
    let (report, broken) = chain_breaks(&operator).await;
    assert_eq!(broken.len(), 2, "{:?}", report.differences);
    let (journal, link) = &broken[1];
    assert_eq!(journal, subjects::PAYGATE_JOURNAL);
    assert_eq!(link.subject, reg_subject);
    assert!(moved.values().any(|s| *s == link.seq), "{link:?}");
    assert!(link.why.contains("not sealed"), "{link:?}");

    // The kiosk's key entry altered in the identity journal: named by its holder.
    let holder = posfee_schemas::identity::Holder::Terminal(kiosk());
    let key_subject = posfee_identity::journal::subject(&posfee_identity::journal::scope(&holder));
    let moved = rewrite(&w.h, Role::Identity, |_, m| {
        Some((m.subject.as_str() == key_subject).then(|| {
            let mut altered = m.payload.to_vec();
            altered[0] ^= 1;
            altered
        }))
    })
    .await;
    let (report, broken) = chain_breaks(&operator).await;
    assert_eq!(broken.len(), 3, "{:?}", report.differences);
    let (journal, link) = &broken[2];
    assert_eq!(journal, subjects::IDENTITY_JOURNAL);
    assert_eq!(link.subject, key_subject);
    assert!(moved.values().any(|s| *s == link.seq), "{link:?}");
    assert_eq!(link.names, Some(holder.key()), "{link:?}");
}

/// Reconcile, asked again until paygate has caught up with the ledger (a refund is credited
/// a moment after the ledger books it): the report once both sides agree.
async fn agreed(operator: &async_nats::Client) -> posfee_operator::reconcile::Report {
    posfee_harness::eventually_within("both sides agree", Duration::from_secs(10), || async {
        let r = posfee_operator::reconcile::reconcile(operator, Utc::now())
            .await
            .unwrap();
        if r.differences.is_empty() {
            Ok(r)
        } else {
            Err(r.differences)
        }
    })
    .await
}

/// What the admin credential (with a leaked seed of the journal's writer) can do to a
/// journal whose entries cannot be deleted: read every entry, delete the stream, create it
/// again and write the entries back with their headers, each as `change` says (`None`: left
/// out; `Some(None)`: as it was; `Some(Some(bytes))`: with this payload). Returns each kept
/// entry's new sequence by its old one.
async fn rewrite(
    h: &Harness,
    role: Role,
    change: impl Fn(u64, &async_nats::jetstream::message::StreamMessage) -> Option<Option<Vec<u8>>>,
) -> std::collections::BTreeMap<u64, u64> {
    let admin = async_nats::jetstream::new(h.connect(Role::Admin).await.unwrap());
    let writer = async_nats::jetstream::new(h.connect(role).await.unwrap());
    let name = journal_name(role);
    let mut stream = admin.get_stream(name).await.unwrap();
    let info = stream.info().await.unwrap().clone();
    let mut entries = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(m) = stream.get_raw_message(seq).await {
            entries.push(m);
        }
    }
    admin.delete_stream(name).await.unwrap();
    admin.create_stream(info.config).await.unwrap();
    let mut moved = std::collections::BTreeMap::new();
    for m in entries {
        let Some(payload) = change(m.sequence, &m) else {
            continue;
        };
        let mut msg = PublishMessage::build();
        for header in [JOURNAL_PREV_HEADER, JOURNAL_SEAL_HEADER] {
            if let Some(v) = m.headers.get(header) {
                msg = msg.header(header, v.as_str());
            }
        }
        let payload = payload.unwrap_or_else(|| m.payload.to_vec());
        let ack = writer
            .send_publish(m.subject.to_string(), msg.payload(payload.into()))
            .await
            .unwrap()
            .await
            .unwrap();
        moved.insert(m.sequence, ack.sequence);
    }
    moved
}

/// A reconcile report, and the broken chains it names, by journal.
async fn chain_breaks(
    operator: &async_nats::Client,
) -> (
    posfee_operator::reconcile::Report,
    Vec<(String, posfee_schemas::audit::BrokenLink)>,
) {
    use posfee_operator::reconcile::Difference;
    let report = posfee_operator::reconcile::reconcile(operator, Utc::now())
        .await
        .unwrap();
    let broken = report
        .differences
        .iter()
        .filter_map(|d| match d {
            Difference::BrokenChain { journal, link } => Some((journal.clone(), link.clone())),
            _ => None,
        })
        .collect();
    (report, broken)
}

/// A revocation is believed because the identity service sealed it, and acted on by every
/// instance that applies it, not only by the one that took the request: an entry written
/// straight to the journal with the identity journal's key closes the kiosk's connection,
/// one without the seal (a leaked identity-role seed) closes nothing.
#[tokio::test]
async fn a_sealed_revocation_closes_the_keys_connections_wherever_it_was_written() {
    let h = Harness::start().await.unwrap();
    let forged = h.terminal("kiosk-forged").await.unwrap();
    let sealed = h.terminal("kiosk-sealed").await.unwrap();
    let revoke = |id: &str| {
        let id = TerminalId::parse(id).unwrap();
        let seed = h.seed_of(&Identity::Terminal(id.clone())).unwrap();
        let holder = posfee_schemas::identity::Holder::Terminal(id);
        let subject = posfee_identity::journal::subject(&posfee_identity::journal::scope(&holder));
        let entry = posfee_identity::journal::Entry::Revoked {
            nkey: posfee_client::creds::public_key(&seed).unwrap(),
            at: Utc::now(),
        };
        (subject, entry)
    };
    let connects = |c: &async_nats::Client| {
        c.statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (before_forged, before_sealed) = (connects(&forged), connects(&sealed));
    let (subject, entry) = revoke("kiosk-forged");
    append(&h, Role::Identity, subject, &entry, None).await;
    let (subject, entry) = revoke("kiosk-sealed");
    append(
        &h,
        Role::Identity,
        subject,
        &entry,
        Some(&h.journal_seal(Role::Identity)),
    )
    .await;
    // The sealed one is applied after the forged one (same journal, in order): once it has
    // closed its kiosk's connection (which then reconnects), the forged one was passed over.
    posfee_harness::eventually(
        "the sealed revocation closes its kiosk's connection",
        || async { connects(&sealed) > before_sealed },
    )
    .await;
    assert_eq!(
        connects(&forged),
        before_forged,
        "an unsealed revocation was believed"
    );
    let status = posfee_client::bus::key_status(
        &forged,
        &h.seed_of(&Identity::Terminal(
            TerminalId::parse("kiosk-forged").unwrap(),
        ))
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(status.state, posfee_schemas::identity::KeyState::Active);
}
