//! The wire contract and its document agree: every subject in code is in asyncapi.yaml and the
//! reverse, every payload round-trips, every payload's field names are the ones the document
//! lists for it, and every field's MessagePack type is the one the document gives it (a Uuid
//! is bin 16, an Instant a str of the documented form, Fen an int, an enum one of its
//! documented strings), read back by a MessagePack reader of the tests' own.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveDate, TimeZone, Utc};
use posfee_schemas::events::*;
use posfee_schemas::fee::*;
use posfee_schemas::ledger::*;
use posfee_schemas::pairing::*;
use posfee_schemas::paygate::*;
use posfee_schemas::query::*;
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::Subject;
use posfee_schemas::terminal::*;
use posfee_schemas::*;
use serde::{de::DeserializeOwned, de::IgnoredAny, Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::str::FromStr;

mod common;
use common::{check, doc, parse, Mp};

#[test]
fn every_subject_in_code_is_documented_and_the_reverse() {
    let doc = doc();
    assert_eq!(doc["asyncapi"].as_str(), Some("3.0.0"));
    let documented: BTreeSet<String> = doc["channels"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    let in_code: BTreeSet<String> = Subject::patterns().into_iter().collect();
    let missing: Vec<_> = in_code.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&in_code).collect();
    assert!(
        missing.is_empty(),
        "subjects in code but not in asyncapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "subjects in asyncapi.yaml but not in code: {extra:?}"
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref") {
                    out.push(v.as_str().unwrap().to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_in_the_document_resolves() {
    let doc = doc();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50);
    for r in refs {
        let mut node = &doc;
        for part in r.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref {r}");
    }
}

#[test]
fn documented_error_codes_are_exactly_the_code_enum() {
    let doc = doc();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let in_code: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(documented, in_code);
    let statuses = doc["components"]["schemas"]["ErrorCode"]["x-status"]
        .as_mapping()
        .unwrap();
    assert_eq!(statuses.len(), ErrorCode::ALL.len());
    for code in ErrorCode::ALL {
        let documented = statuses[code.name()].as_u64();
        assert_eq!(documented, Some(u64::from(code.status())), "{code}");
    }
    let outcomes: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["x-outcome"]
        ["codes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let in_code: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .filter(|c| c.is_outcome())
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(outcomes, in_code);
}

/// The field names of an encoded MessagePack map.
fn map_keys(bytes: &[u8]) -> BTreeSet<String> {
    let m: BTreeMap<String, IgnoredAny> = rmp_serde::from_slice(bytes).unwrap();
    m.into_keys().collect()
}

/// Encodes, decodes, compares; then checks the encoded map's keys against the schema named
/// `schema` in the document: every key the code writes is documented, and every field the
/// document requires is written.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(schema: &str, value: T) {
    let bytes = encode(&value);
    let back: T = decode(&bytes).unwrap_or_else(|e| panic!("{schema}: {e}"));
    assert_eq!(back, value, "{schema} did not round-trip");

    let keys = map_keys(&bytes);
    let doc = doc();
    let s = &doc["components"]["schemas"][schema];
    assert!(!s.is_null(), "no schema {schema} in asyncapi.yaml");
    let props: BTreeSet<String> = s["properties"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let required: BTreeSet<String> = s["required"]
        .as_sequence()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let undocumented: Vec<_> = keys.difference(&props).collect();
    assert!(
        undocumented.is_empty(),
        "{schema}: fields not in the document: {undocumented:?}"
    );
    let unwritten: Vec<_> = required.difference(&keys).collect();
    assert!(
        unwritten.is_empty(),
        "{schema}: required fields not written: {unwritten:?}"
    );
    let value = parse(&bytes);
    if let Err(e) = check(&doc, &value, s, schema) {
        panic!("{e}");
    }
    // Fields are written in the order the document lists them (what signed bodies hold).
    let Mp::Map(entries) = &value else {
        panic!("{schema} is not a map")
    };
    let written: Vec<&str> = entries
        .iter()
        .filter_map(|(k, _)| match k {
            Mp::Str(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let listed: Vec<&str> = s["properties"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| written.contains(k))
        .collect();
    assert_eq!(
        written, listed,
        "{schema}: fields not in the documented order"
    );
}

fn t() -> TenantId {
    TenantId::parse("city-water").unwrap()
}
fn a() -> AccountNo {
    AccountNo::parse("3-1-1202").unwrap()
}
fn term() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}
fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 30, 0).unwrap()
}
/// An instant with all nine fraction digits, as a running clock gives them.
fn at_ns() -> chrono::DateTime<Utc> {
    at() + chrono::Duration::nanoseconds(123_456_789)
}
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}
fn dec(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str(s).unwrap()
}
fn line() -> BillLine {
    BillLine {
        kind: FeeKind::parse("water").unwrap(),
        period: "2026-10".into(),
        quantity: dec("12.5"),
        unit: "m3".into(),
        unit_price: dec("2.07"),
        amount: Fen::new(2588),
        rule_id: "water-residential".into(),
        rule_version: "2026-01-01".into(),
        explanation: "12.5 m3 x 2.07 water fee, tier 1".into(),
        label: "Tap water".into(),
        label_zh: "自来水".into(),
        unit_zh: "m3".into(),
        explanation_zh: "水费，第 1 档：12.5 m3 × 2.07".into(),
    }
}
fn issued() -> IssuedBill {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let bill = Bill {
        basket: None,
        bill_id: BillId::new_random(),
        tenant: t(),
        tenant_name: "City Water".into(),
        account: a(),
        terminal: term(),
        as_of: day(),
        lines: vec![line()],
        total: Money::cny(2588),
        issued_at: at_ns(),
        expires_at: at(),
        holder_masked: Some("王**".into()),
        tenant_name_zh: "市自来水公司".into(),
        class: "residential".into(),
        class_zh: "居民".into(),
    };
    round_trip("Bill", bill.clone());
    IssuedBill {
        bill_id: bill.bill_id,
        signed: Signed::sign(Purpose::Bill, &bill, &KeyId::parse("k1").unwrap(), &key),
    }
}
fn qreq() -> QuoteRequest {
    QuoteRequest {
        tenant: t(),
        account: a(),
        kinds: vec![FeeKind::parse("water").unwrap()],
        as_of: Some(day()),
        prepay_months: Some(12),
        top_up: Some(Fen::new(5000)),
    }
}

#[test]
fn request_and_reply_payloads_round_trip_and_match_the_document() {
    let pid = PaymentId::new_random();
    let bid = BillId::new_random();
    let payer = PayerHandle::parse("p-0123456789abcdef").unwrap();
    round_trip("QuoteRequest", qreq());
    round_trip(
        "Quote",
        Quote {
            tenant: t(),
            tenant_name: "City Water".into(),
            account: a(),
            as_of: day(),
            currency: Currency::CNY,
            lines: vec![line()],
            total: Fen::new(2588),
            tenant_name_zh: "市自来水公司".into(),
            class: "residential".into(),
            class_zh: "居民".into(),
        },
    );
    round_trip("BillLine", line());
    round_trip(
        "BillIssueRequest",
        BillIssueRequest {
            basket: None,
            quote: qreq(),
            terminal: term(),
            idempotency_key: IdempotencyKey::parse("kiosk-01/42").unwrap(),
        },
    );
    round_trip("IssuedBill", issued());
    round_trip("Signed", issued().signed);
    round_trip(
        "AccountRef",
        AccountRef {
            tenant: t(),
            account: a(),
        },
    );
    round_trip(
        "AccountSummary",
        AccountSummary {
            tenant: t(),
            account: a(),
            class: "residential".into(),
            attributes: BTreeMap::from([("area_m2".into(), "89.50".into())]),
            holder_masked: "张*".into(),
            outstanding: Some(Money::cny(10)),
            outstanding_error: None,
        },
    );
    let summary = BillSummary {
        bill_id: bid,
        total: Money::cny(5),
        issued_at: at(),
        expires_at: at(),
        paid: false,
    };
    round_trip("BillSummary", summary.clone());
    round_trip(
        "BillsReply",
        BillsReply {
            bills: vec![summary],
            live_total: Some(Money::cny(5)),
        },
    );
    round_trip(
        "PaymentsQuery",
        PaymentsQuery {
            tenant: t(),
            account: a(),
            from: Some(day()),
            to: Some(day()),
            page_size: Some(20),
            cursor: Some("c".into()),
        },
    );
    let item = PaymentItem {
        payment_id: pid,
        bill_id: bid,
        amount: Money::cny(100),
        refunded: Money::cny(0),
        terminal: term(),
        settled_at: at(),
    };
    round_trip("PaymentItem", item.clone());
    round_trip(
        "PaymentsPage",
        PaymentsPage {
            items: vec![item],
            next_cursor: Some("n".into()),
        },
    );
    round_trip(
        "ReadingsQuery",
        ReadingsQuery {
            tenant: t(),
            account: a(),
            meter: Some("W-1".into()),
            from: Some(day()),
            to: None,
            page_size: Some(100),
            cursor: Some("c".into()),
        },
    );
    let reading = ReadingItem {
        meter: "W-1".into(),
        register: Some("peak".into()),
        read_on: day(),
        value: dec("1234.5"),
    };
    round_trip("ReadingItem", reading.clone());
    round_trip(
        "ReadingsReply",
        ReadingsReply {
            readings: vec![reading],
            next_cursor: Some("n".into()),
        },
    );
    round_trip(
        "PairJoin",
        PairJoin {
            terminal: term(),
            bill_id: Some(bid),
            notify: Some(PhoneChannel {
                device: DeviceId::parse("phabcd2345").unwrap(),
                token: PairToken::generate(),
            }),
        },
    );
    round_trip(
        "PayerUpdate",
        PayerUpdate {
            bill_id: bid,
            step: PayerStep::NotPaid,
            payment_id: Some(PaymentId::new_random()),
            code: Some("INSUFFICIENT_FUNDS".into()),
            message: Some("balance 1.00 CNY is less than 190.00 CNY".into()),
        },
    );
    round_trip(
        "TerminalReport",
        posfee_schemas::terminal::TerminalReport {
            report_id: EventId::new_random(),
            at: at(),
            body: EventBody::TerminalOnline(TerminalEvent {
                terminal: term(),
                version: "0.1.0".into(),
            }),
        },
    );
    round_trip(
        "KioskNotice",
        KioskNotice {
            bill_id: bid,
            reason: CloseReason::Cancelled,
        },
    );
    round_trip(
        "CloseRequest",
        CloseRequest {
            pairing: None,
            bill: issued(),
            reason: CloseReason::NoReceipt,
            code: Some("BILL_EXPIRED".into()),
        },
    );
    round_trip(
        "CloseReply",
        CloseReply {
            outcome: CloseOutcome::Closed,
            receipt: None,
        },
    );
    // Enrolling and a key's status.
    let nkey = "UDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB".to_string();
    round_trip(
        "EnrolRequest",
        posfee_schemas::identity::EnrolRequest {
            nkey: nkey.clone(),
            proof: vec![1; 64],
            stamp: Some(51194),
        },
    );
    round_trip(
        "KeyStatus",
        posfee_schemas::identity::KeyStatus {
            nkey,
            state: posfee_schemas::identity::KeyState::Revoked,
            holder: Some(posfee_schemas::identity::Holder::Terminal(term())),
            since: Some(at()),
            stamp_bits: 16,
            message: "the operator issues a new key".into(),
        },
    );
    // The key directory and the ledger's receipts, as a fixed root and its authorities make
    // them.
    let root_seed = nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Operator, [0x21; 32])
        .unwrap()
        .seed()
        .unwrap();
    let root = posfee_schemas::trust::RootSigner::from_seed(&root_seed).unwrap();
    let authority_key = ed25519_dalek::SigningKey::from_bytes(&[0x31; 32]);
    let cert = root
        .certify(
            &KeyId::parse("ledger").unwrap(),
            &authority_key.verifying_key(),
            &["receipt", "seal"],
            at(),
        )
        .unwrap();
    let ledger = posfee_schemas::trust::Signer::new(authority_key, cert.clone()).unwrap();
    round_trip("Authority", ledger.authority().clone());
    round_trip("Signed", cert);
    round_trip(
        "DirectoryEntry",
        ledger.entry(&posfee_schemas::signed::PublicKeyRecord {
            key_id: KeyId::parse("city-water-1").unwrap(),
            purpose: "bill".into(),
            owner: "city-water".into(),
            public_key: vec![7; 32],
            published_at: at(),
        }),
    );
    round_trip(
        "SignedReceipt",
        SignedReceipt(ledger.sign(Purpose::Receipt, &"a receipt")),
    );
    round_trip(
        "CloseReply",
        CloseReply {
            outcome: CloseOutcome::Paid,
            receipt: Some(SignedReceipt(ledger.sign(Purpose::Receipt, &"a receipt"))),
        },
    );
    round_trip(
        "BillOffer",
        BillOffer {
            pairing: None,
            more_bills: Vec::new(),
            terminal: term(),
            bill: issued(),
            pairing_expires_at: at(),
            updates: Some(PairToken::generate()),
        },
    );
    round_trip(
        "WalletAnswer",
        WalletAnswer {
            payment_id: pid,
            bill_id: bid,
        },
    );
    round_trip(
        "PairCode",
        PairCode::terminal(term(), PairToken::generate(), Some(bid)),
    );
    round_trip(
        "PairCode",
        PairCode::wallet(
            DeviceId::parse("phabcd2345").unwrap(),
            PairToken::generate(),
        ),
    );
    round_trip(
        "RegisterRequest",
        RegisterRequest {
            name: "n".into(),
            national_id: "i".into(),
            bank_account: "b".into(),
            device_public_key: vec![1; 32],
            device_key_id: KeyId::parse("dev-1").unwrap(),
            idempotency_key: IdempotencyKey::parse("reg-1").unwrap(),
            device_proof: vec![2; 64],
        },
    );
    round_trip(
        "RegisterReply",
        RegisterReply {
            payer: payer.clone(),
            balance: Money::cny(100_000),
        },
    );
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id: pid,
        payer: payer.clone(),
        bill_id: bid,
        amount: Money::cny(2588),
        terminal: term(),
    };
    round_trip("PayOrder", order.clone());
    let dev = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    round_trip(
        "PayRequest",
        PayRequest {
            pairing: None,
            more_bills: Vec::new(),
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &KeyId::parse("dev-1").unwrap(),
                &dev,
            ),
            bill: issued(),
        },
    );
    let notice = SettlementNotice {
        basket: None,
        payment_id: pid,
        payer,
        amount: Money::cny(2588),
        bill: issued(),
        authorized_at: at(),
    };
    round_trip("SettlementNotice", notice.clone());
    round_trip(
        "SettleRequest",
        SettleRequest {
            more: Vec::new(),
            notice: Signed::sign(
                Purpose::Settlement,
                &notice,
                &KeyId::parse("pg-1").unwrap(),
                &dev,
            ),
        },
    );
    round_trip(
        "Receipt",
        Receipt {
            payment_id: pid,
            bill_id: bid,
            tenant: t(),
            tenant_name: "City Water".into(),
            account: a(),
            terminal: term(),
            lines: vec![line()],
            total: Money::cny(2588),
            settled_at: at(),
            tenant_name_zh: "市自来水公司".into(),
        },
    );
    round_trip(
        "RefundRequest",
        RefundRequest {
            payment_id: pid,
            amount: Money::cny(100),
            reason: "overcharge".into(),
            idempotency_key: IdempotencyKey::parse("r-1").unwrap(),
        },
    );
    round_trip(
        "RefundReply",
        RefundReply {
            payment_id: pid,
            refunded: Money::cny(100),
            total_refunded: Money::cny(100),
            refunded_at: at(),
        },
    );
    round_trip(
        "TerminalSeen",
        TerminalSeen {
            terminal: term(),
            state: TerminalState::Online,
            last_seen: at(),
            heartbeat_secs: 10,
            version: "0.1.0".into(),
        },
    );
    round_trip("Money", Money::cny(1));
    round_trip(
        "SettlementsQuery",
        SettlementsQuery {
            page_size: Some(100),
            cursor: Some("00ab".into()),
        },
    );
    let settled_item = SettlementItem {
        payment_id: pid,
        bill_id: bid,
        tenant: t(),
        amount: Money::cny(5),
        refunded: Money::cny(0),
        settled_at: at(),
    };
    round_trip("SettlementItem", settled_item.clone());
    round_trip(
        "SettlementsPage",
        SettlementsPage {
            items: vec![settled_item],
            next_cursor: Some("00ab".into()),
        },
    );
    round_trip(
        "ChainReport",
        posfee_schemas::audit::ChainReport {
            journal: "POSFEE_LEDGER".into(),
            entries: 9,
            subjects: 2,
            last_seq: 12,
            broken: Some(posfee_schemas::audit::BrokenLink {
                seq: 7,
                subject: "posfee.journal.ledger.ab".into(),
                names: Some("city-water/3-1-1202".into()),
                why: "not chained".into(),
            }),
        },
    );
    round_trip(
        "StatementRequest",
        posfee_schemas::statement::StatementRequest {
            date: day(),
            format: posfee_schemas::statement::StatementFormat::Csv,
            offset: 262144,
            max_bytes: Some(1024),
        },
    );
    round_trip(
        "StatementChunk",
        posfee_schemas::statement::StatementChunk {
            tenant: t(),
            date: day(),
            format: posfee_schemas::statement::StatementFormat::Json,
            issued_at: at(),
            size: 3,
            sha256: "ab".repeat(32),
            offset: 0,
            bytes: b"{}\n".to_vec(),
        },
    );
    round_trip(
        "EraseRequest",
        EraseRequest {
            payer: PayerHandle::parse("p-0123456789abcdef01234567").unwrap(),
        },
    );
    round_trip(
        "EraseReply",
        EraseReply {
            payer: PayerHandle::parse("p-0123456789abcdef01234567").unwrap(),
            erased_at: at(),
        },
    );
    round_trip(
        "PaymentsListQuery",
        PaymentsListQuery {
            page_size: Some(10),
            cursor: None,
        },
    );
    let pg = PaygatePayment {
        payment_id: pid,
        bill_id: bid,
        amount: Money::cny(5),
        state: PaymentState::Captured,
        refunded: Money::cny(0),
        authorized_at: at(),
    };
    round_trip("PaygatePayment", pg.clone());
    round_trip(
        "PaymentsList",
        PaymentsList {
            items: vec![pg],
            next_cursor: None,
            recovered_through: Some(at()),
        },
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    round_trip(
        "PublicKeyRecord",
        posfee_schemas::signed::PublicKeyRecord {
            key_id: KeyId::parse("city-water-1").unwrap(),
            purpose: "bill".into(),
            owner: "city-water".into(),
            public_key: key.verifying_key().to_bytes().to_vec(),
            published_at: at(),
        },
    );
}

#[test]
fn every_event_kind_round_trips_with_its_documented_body() {
    let pid = PaymentId::new_random();
    let bid = BillId::new_random();
    let payer = PayerHandle::parse("p-1").unwrap();
    let ended = PairingEnded {
        more_bills: Vec::new(),
        terminal: term(),
        bill_id: bid,
        mode: PairMode::PhonePresents,
        opened_at: at(),
        expires_at: at(),
    };
    let bodies: Vec<(&str, EventBody)> = vec![
        (
            "BillIssued",
            EventBody::BillIssued(BillIssued {
                bill_id: bid,
                tenant: t(),
                account: a(),
                terminal: term(),
                total: Money::cny(1),
                expires_at: at(),
                record: None,
            }),
        ),
        (
            "BillClosed",
            EventBody::BillClosed(BillClosed {
                bill_id: bid,
                tenant: t(),
                account: a(),
                terminal: term(),
                total: Money::cny(1),
                reason: CloseReason::Declined,
                code: Some("PAYER_DECLINED".into()),
                closed_at: at(),
            }),
        ),
        ("PairingEnded", EventBody::PairingJoined(ended.clone())),
        ("PairingEnded", EventBody::PairingExpired(ended.clone())),
        ("PairingEnded", EventBody::PairingCancelled(ended)),
        (
            "PaymentAuthorized",
            EventBody::PaymentAuthorized(PaymentAuthorized {
                payment_id: pid,
                bill_id: bid,
                payer: payer.clone(),
                amount: Money::cny(1),
            }),
        ),
        (
            "PaymentSettled",
            EventBody::PaymentSettled(PaymentSettled {
                payment_id: pid,
                bill_id: bid,
                tenant: t(),
                account: a(),
                terminal: term(),
                payer,
                amount: Money::cny(1),
                settled_at: at(),
                receipt: Some(Box::new(SignedReceipt(Signed::sign(
                    Purpose::Receipt,
                    &"a receipt",
                    &KeyId::parse("ledger").unwrap(),
                    &ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
                )))),
            }),
        ),
        (
            "PaymentVoided",
            EventBody::PaymentVoided(PaymentVoided {
                payment_id: pid,
                bill_id: bid,
                reason: "BILL_EXPIRED".into(),
            }),
        ),
        (
            "PaymentRefunded",
            EventBody::PaymentRefunded(PaymentRefunded {
                payment_id: pid,
                bill_id: bid,
                amount: Money::cny(1),
                total_refunded: Money::cny(1),
            }),
        ),
        (
            "TerminalEvent",
            EventBody::TerminalOnline(TerminalEvent {
                terminal: term(),
                version: "0.1.0".into(),
            }),
        ),
        (
            "TerminalEvent",
            EventBody::TerminalOffline(TerminalEvent {
                terminal: term(),
                version: String::new(),
            }),
        ),
        (
            "AccountUpserted",
            EventBody::AccountUpserted(AccountUpserted {
                tenant: t(),
                account: a(),
                class: "residential".into(),
                holder_name: "张三".into(),
                attributes: BTreeMap::from([("area_m2".into(), "89.5".into())]),
                meters: BTreeMap::from([(FeeKind::parse("water").unwrap(), "W-1".into())]),
                paid_through: BTreeMap::from([(
                    FeeKind::parse("water").unwrap(),
                    Month::parse("2026-09").unwrap(),
                )]),
                arrears: vec![ArrearRecord {
                    kind: FeeKind::parse("water").unwrap(),
                    period: "2026-08".into(),
                    amount: Money::cny(1234),
                    due_on: day(),
                }],
            }),
        ),
        (
            "ReadingRecorded",
            EventBody::ReadingRecorded(ReadingRecorded {
                tenant: t(),
                account: a(),
                meter: "W-1".into(),
                register: None,
                read_on: day(),
                value: dec("10"),
            }),
        ),
    ];
    let mut kinds = BTreeSet::new();
    for (schema, body) in bodies {
        kinds.insert(body.kind());
        let event = Event::new(EventId::new_random(), at(), body.clone());
        round_trip("Event", event.clone());
        assert_eq!(
            Subject::parse(&event.subject()).unwrap(),
            Subject::Event(event.kind())
        );
        // The body's data matches its own schema.
        #[derive(Deserialize)]
        struct Tagged {
            kind: String,
            data: BTreeMap<String, IgnoredAny>,
        }
        let v: Tagged = rmp_serde::from_slice(&encode(&body)).unwrap();
        assert_eq!(v.kind, body.kind().as_str());
        let keys: BTreeSet<String> = v.data.into_keys().collect();
        let doc = doc();
        let data = parse(&encode(&body)).get("data").cloned().unwrap();
        let s = &doc["components"]["schemas"][schema];
        if let Err(e) = check(&doc, &data, s, schema) {
            panic!("{e}");
        }
        let props: BTreeSet<String> = doc["components"]["schemas"][schema]["properties"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert!(keys.is_subset(&props), "{schema}: {keys:?} vs {props:?}");
    }
    assert_eq!(kinds.len(), posfee_schemas::subjects::EventKind::ALL.len());
}

/// The checker is only worth something if it refuses what the wire must not carry.
#[test]
fn the_type_checker_refuses_wrong_wire_types() {
    let doc = doc();
    let notice = &doc["components"]["schemas"]["KioskNotice"];
    let bid = BillId::new_random();
    let good = parse(&encode(&KioskNotice {
        bill_id: bid,
        reason: CloseReason::Cancelled,
    }));
    check(&doc, &good, notice, "KioskNotice").unwrap();
    let with = |k: &str, v: Mp| {
        let Mp::Map(mut entries) = good.clone() else {
            unreachable!()
        };
        for e in &mut entries {
            if e.0 == Mp::Str(k.into()) {
                e.1 = v.clone();
            }
        }
        Mp::Map(entries)
    };
    for (bad, why) in [
        (with("bill_id", Mp::Str(bid.to_string())), "uuid as text"),
        (with("bill_id", Mp::Bin(vec![0; 15])), "uuid of 15 bytes"),
        (
            with("reason", Mp::Str("canceled".into())),
            "not an enum value",
        ),
        (with("reason", Mp::Nil), "required field nil"),
    ] {
        assert!(check(&doc, &bad, notice, "KioskNotice").is_err(), "{why}");
    }
    let money = &doc["components"]["schemas"]["Money"];
    let as_text = Mp::Map(vec![(Mp::Str("fen".into()), Mp::Str("25.88".into()))]);
    assert!(check(&doc, &as_text, money, "Money").is_err());
    let instant = &doc["components"]["schemas"]["Instant"];
    for bad in [
        "2026-11-25T16:30:00+08:00",
        "2026-11-25T08:30:00.1Z",
        "2026-11-25 08:30:00Z",
    ] {
        assert!(check(&doc, &Mp::Str(bad.into()), instant, "Instant").is_err());
    }
    // What the document said before it was checked: a Uuid as a string. The real bytes fail.
    let mut old = doc.clone();
    old["components"]["schemas"]["Uuid"] =
        serde_yaml::from_str("{ type: string, format: uuid }").unwrap();
    assert!(check(
        &old,
        &good,
        &old["components"]["schemas"]["KioskNotice"],
        "KioskNotice"
    )
    .is_err());
}

/// A Uuid is 16 raw bytes on the wire, and the 36-character text is refused.
#[test]
fn uuids_are_bin_16_and_text_uuids_are_refused() {
    let id = BillId(uuid::Uuid::from_u128(
        0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
    ));
    assert_eq!(
        common::hex(&encode(&id)),
        "c4100123456789abcdef0123456789abcdef"
    );
    #[derive(Serialize)]
    struct TextId {
        bill_id: String,
        reason: String,
    }
    let text = rmp_serde::to_vec_named(&TextId {
        bill_id: id.to_string(),
        reason: "cancelled".into(),
    })
    .unwrap();
    assert!(decode::<KioskNotice>(&text).is_err());
}

/// Instants are written in RFC 3339 UTC with as many fraction digits as they need (0, 3, 6 or
/// 9) and read in any RFC 3339 form; what the document says about both.
#[test]
fn instants_are_written_in_one_form_and_read_in_many() {
    let base = at();
    for (ns, text) in [
        (0, "2026-11-25T08:30:00Z"),
        (500_000_000, "2026-11-25T08:30:00.500Z"),
        (5_000, "2026-11-25T08:30:00.000005Z"),
        (123_456_789, "2026-11-25T08:30:00.123456789Z"),
    ] {
        let t = base + chrono::Duration::nanoseconds(ns);
        assert_eq!(parse(&encode(&t)), Mp::Str(text.into()));
        assert!(common::instant_form(text));
    }
    let read = |s: &str| decode::<chrono::DateTime<Utc>>(&rmp_serde::to_vec(s).unwrap());
    for (input, meant) in [
        ("2026-11-25T16:30:00+08:00", base),
        ("2026-11-25T16:30:00+0800", base),
        ("2026-11-25 08:30:00Z", base),
        ("2026-11-25t08:30:00z", base),
        (
            "2026-11-25T08:30:00.1234567891Z",
            base + chrono::Duration::nanoseconds(123_456_789),
        ),
    ] {
        assert_eq!(read(input).unwrap(), meant, "{input}");
    }
    for refused in ["2026-11-25T08:30:00", "2026-11-25T08:30Z", "2026-11-25"] {
        assert!(read(refused).is_err(), "{refused}");
    }
    let doc = doc();
    let described = doc["components"]["schemas"]["Instant"]["description"]
        .as_str()
        .unwrap();
    for needle in ["+08:00", "+0800", "past nine", "3, 6 or 9"] {
        assert!(
            described.contains(needle),
            "Instant description lacks {needle}"
        );
    }
}

/// The Chinese texts (issue 11) are optional on the wire: a bill, quote, line or receipt
/// written before them (no `label`, `label_zh`, `unit_zh`, `explanation_zh`,
/// `tenant_name_zh`, `class`, `class_zh`) still decodes, with those texts empty.
#[test]
fn bills_and_receipts_from_older_writers_decode_without_the_chinese_texts() {
    /// The line, bill and receipt as they were written before issue 11.
    #[derive(Serialize)]
    struct OldLine {
        kind: FeeKind,
        period: String,
        quantity: rust_decimal::Decimal,
        unit: String,
        unit_price: rust_decimal::Decimal,
        amount: Fen,
        rule_id: String,
        rule_version: String,
        explanation: String,
    }
    #[derive(Serialize)]
    struct OldBill {
        bill_id: BillId,
        tenant: TenantId,
        tenant_name: String,
        account: AccountNo,
        terminal: TerminalId,
        as_of: NaiveDate,
        lines: Vec<OldLine>,
        total: Money,
        issued_at: chrono::DateTime<Utc>,
        expires_at: chrono::DateTime<Utc>,
        holder_masked: Option<String>,
    }
    #[derive(Serialize)]
    struct OldReceipt {
        payment_id: PaymentId,
        bill_id: BillId,
        tenant: TenantId,
        tenant_name: String,
        account: AccountNo,
        terminal: TerminalId,
        lines: Vec<OldLine>,
        total: Money,
        settled_at: chrono::DateTime<Utc>,
    }
    let l = line();
    let old_line = || OldLine {
        kind: l.kind.clone(),
        period: l.period.clone(),
        quantity: l.quantity,
        unit: l.unit.clone(),
        unit_price: l.unit_price,
        amount: l.amount,
        rule_id: l.rule_id.clone(),
        rule_version: l.rule_version.clone(),
        explanation: l.explanation.clone(),
    };
    let back: BillLine = decode(&encode(&old_line())).unwrap();
    let expected = BillLine {
        label: String::new(),
        label_zh: String::new(),
        unit_zh: String::new(),
        explanation_zh: String::new(),
        ..line()
    };
    assert_eq!(back, expected);

    let old = OldBill {
        bill_id: BillId::new_random(),
        tenant: t(),
        tenant_name: "City Water".into(),
        account: a(),
        terminal: term(),
        as_of: day(),
        lines: vec![old_line()],
        total: Money::cny(2588),
        issued_at: at_ns(),
        expires_at: at(),
        holder_masked: None,
    };
    let back: Bill = decode(&encode(&old)).unwrap();
    assert_eq!(back.tenant_name, "City Water");
    assert!(back.tenant_name_zh.is_empty() && back.class.is_empty() && back.class_zh.is_empty());
    assert_eq!(back.lines, vec![expected.clone()]);

    let old = OldReceipt {
        payment_id: PaymentId::new_random(),
        bill_id: back.bill_id,
        tenant: t(),
        tenant_name: "City Water".into(),
        account: a(),
        terminal: term(),
        lines: vec![old_line()],
        total: Money::cny(2588),
        settled_at: at(),
    };
    let back: Receipt = decode(&encode(&old)).unwrap();
    assert!(back.tenant_name_zh.is_empty());
    assert_eq!(back.lines, vec![expected]);
}

/// Since 0.4.0: a basket's fields are written where the document says, with its types.
#[test]
fn basket_payloads_round_trip_and_match_the_document() {
    let tag = posfee_schemas::basket::BasketTag {
        id: BasketId::new_random(),
        size: 2,
    };
    round_trip("BasketTag", tag);
    round_trip(
        "BillIssueRequest",
        BillIssueRequest {
            quote: qreq(),
            terminal: term(),
            idempotency_key: IdempotencyKey::parse("k-basket").unwrap(),
            basket: Some(tag),
        },
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let bill = |account: &str| {
        let b = Bill {
            basket: Some(tag),
            account: AccountNo::parse(account).unwrap(),
            ..issued().signed.peek::<Bill>().unwrap()
        };
        round_trip("Bill", b.clone());
        IssuedBill {
            bill_id: b.bill_id,
            signed: Signed::sign(Purpose::Bill, &b, &KeyId::parse("k1").unwrap(), &key),
        }
    };
    let (first, second) = (bill("3-1-1202"), bill("3-1-1203"));
    round_trip(
        "BillOffer",
        BillOffer {
            pairing: None,
            terminal: term(),
            bill: first.clone(),
            pairing_expires_at: at(),
            updates: None,
            more_bills: vec![second.clone()],
        },
    );
    let basket = PaymentId::new_random();
    let order = PayOrder {
        payment_id: basket,
        payer: PayerHandle::parse("p-1").unwrap(),
        bill_id: first.bill_id,
        amount: Money::cny(5176),
        terminal: term(),
        more_bills: vec![second.bill_id],
    };
    round_trip("PayOrder", order.clone());
    let dev = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let dev_id = KeyId::parse("dev-1").unwrap();
    round_trip(
        "PayRequest",
        PayRequest {
            pairing: None,
            order: Signed::sign(Purpose::DevicePay, &order, &dev_id, &dev),
            bill: first.clone(),
            more_bills: vec![second.clone()],
        },
    );
    let notice = |b: &IssuedBill| SettlementNotice {
        payment_id: PaymentId::part(basket, b.bill_id),
        payer: PayerHandle::parse("b-1").unwrap(),
        amount: Money::cny(2588),
        bill: b.clone(),
        authorized_at: at(),
        basket: Some(basket),
    };
    round_trip("SettlementNotice", notice(&first));
    let sign = |n: SettlementNotice| Signed::sign(Purpose::Settlement, &n, &dev_id, &dev);
    round_trip(
        "SettleRequest",
        SettleRequest {
            notice: sign(notice(&first)),
            more: vec![sign(notice(&second))],
        },
    );
    round_trip(
        "BasketPaid",
        posfee_schemas::basket::BasketPaid {
            payment_id: basket,
            total: Money::cny(5176),
            receipts: vec![],
        },
    );
}
