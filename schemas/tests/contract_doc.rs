//! docs/contract.md shows every flow with its exact bytes. This test makes each worked example
//! again with the real encoder and signer (fixed keys, ids and times) and fails if a block of
//! the document differs, if the document lacks an example, or if it has one the test does not
//! make. Blocks are fenced as `hex NAME` (bytes), `diag NAME` (the same bytes as a readable
//! MessagePack view) and `text NAME` (subjects, codes, headers).
//!
//! After a deliberate change to the wire, `BLESS=1 cargo test -p posfee-schemas --test
//! contract_doc` rewrites the blocks' contents in place; review the diff before committing.
//!
//! Where the document describes an algorithm (the typed pairing code's check symbols, event
//! ids, the registration proof, the purpose tags) the test implements it from the document's
//! description and compares with the code's result.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, NaiveDate, Utc};
use common::{diag, hex_lines, parse, unhex};
use ed25519_dalek::{Signer, SigningKey};
use posfee_schemas::events::{Event, EventBody, PairingEnded};
use posfee_schemas::fee::{Bill, BillIssueRequest, BillLine, IssuedBill, QuoteRequest};
use posfee_schemas::ledger::{CloseOutcome, CloseReply, CloseRequest, Receipt, SignedReceipt};
use posfee_schemas::pairing::{
    BillOffer, CloseReason, KioskNotice, PairCode, PairJoin, PairMode, PayerStep, PayerUpdate,
    PhoneChannel, WalletAnswer,
};
use posfee_schemas::paygate::{
    AmendReply, AmendRequest, PayOrder, PayRequest, RegisterReply, RegisterRequest,
};
use posfee_schemas::signed::{sign_detached, verify_with, PublicKeyRecord, Purpose, Signed};
use posfee_schemas::subjects::{self, Identity};
use posfee_schemas::trust::{may, RootSigner, Signer as Authority};
use posfee_schemas::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::str::FromStr;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/contract.md");

/// The user nkey of the example phone (only its public half matters here).
const PHONE_NKEY: &str = "UDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB";

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Hex(Vec<u8>),
    Diag(String),
    Text(String),
}

impl Block {
    fn kind(&self) -> &'static str {
        match self {
            Block::Hex(_) => "hex",
            Block::Diag(_) => "diag",
            Block::Text(_) => "text",
        }
    }
    fn body(&self) -> String {
        match self {
            Block::Hex(b) => hex_lines(b),
            Block::Diag(s) | Block::Text(s) => s.clone(),
        }
    }
}

#[derive(Default)]
struct Examples(BTreeMap<(String, &'static str), Block>);

impl Examples {
    fn put(&mut self, name: &str, b: Block) {
        let key = (name.to_string(), b.kind());
        assert!(self.0.insert(key, b).is_none(), "example {name} made twice");
    }
    /// A MessagePack message: its bytes and its readable view.
    fn msg<T: Serialize>(&mut self, name: &str, value: &T) -> Vec<u8> {
        let bytes = encode(value);
        self.put(name, Block::Diag(diag(&parse(&bytes))));
        self.put(name, Block::Hex(bytes.clone()));
        bytes
    }
    fn hex(&mut self, name: &str, bytes: &[u8]) {
        self.put(name, Block::Hex(bytes.to_vec()));
    }
    fn text(&mut self, name: &str, text: impl Into<String>) {
        self.put(name, Block::Text(text.into()));
    }
}

fn uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::from_str(s).unwrap()
}
fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
fn tok(s: &str) -> PairToken {
    PairToken::parse(s).unwrap()
}

/// The fixed world of the examples.
struct World {
    terminal: TerminalId,
    bill_key: SigningKey,
    bill_key_id: KeyId,
    device_key: SigningKey,
    device_key_id: KeyId,
    device: DeviceId,
    payer: PayerHandle,
    bill: Bill,
    issued: IssuedBill,
    payment_id: PaymentId,
    /// The root every verifier pins, and the authorities it certified.
    root: RootSigner,
    fee_engine: Authority,
    ledger: Authority,
    query: Authority,
    query_key: SigningKey,
}

/// An authority of `root` named `name`, its key from `seed`, certified at a fixed time.
fn authority(root: &RootSigner, name: &str, seed: u8, rights: &[&str]) -> Authority {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let cert = root
        .certify(
            &KeyId::parse(name).unwrap(),
            &key.verifying_key(),
            rights,
            t("2026-11-25T06:00:00Z"),
        )
        .unwrap();
    Authority::new(key, cert).unwrap()
}

fn world() -> World {
    let terminal = TerminalId::parse("kiosk-01").unwrap();
    let bill_key = SigningKey::from_bytes(&[0x11; 32]);
    let bill_key_id = KeyId::parse("city-water-1").unwrap();
    let bill = Bill {
        basket: None,
        bill_id: BillId(uuid("1b4e28ba-2fa1-41d2-883f-0016d3cca427")),
        tenant: TenantId::parse("city-water").unwrap(),
        tenant_name: "City Water".into(),
        account: AccountNo::parse("3-1-1202").unwrap(),
        terminal: terminal.clone(),
        as_of: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        lines: vec![BillLine {
            kind: FeeKind::parse("water").unwrap(),
            period: "2026-10".into(),
            quantity: rust_decimal::Decimal::from_str("12.5").unwrap(),
            unit: "m3".into(),
            unit_price: rust_decimal::Decimal::from_str("2.07").unwrap(),
            amount: Fen::new(2588),
            rule_id: "water-residential".into(),
            rule_version: "2026-01-01".into(),
            explanation: "12.5 m3 x 2.07".into(),
            label: "Tap water".into(),
            label_zh: "自来水".into(),
            unit_zh: "m3".into(),
            explanation_zh: "12.5 m3 × 2.07".into(),
        }],
        total: Money::cny(2588),
        issued_at: t("2026-11-25T08:30:00.123456789Z"),
        expires_at: t("2026-11-25T08:45:00.123456789Z"),
        holder_masked: Some("王*".into()),
        tenant_name_zh: "市自来水公司".into(),
        class: "residential".into(),
        class_zh: "居民".into(),
    };
    let issued = IssuedBill {
        bill_id: bill.bill_id,
        signed: Signed::sign(Purpose::Bill, &bill, &bill_key_id, &bill_key),
    };
    let root_seed = nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Operator, [0x21; 32])
        .unwrap()
        .seed()
        .unwrap();
    let root = RootSigner::from_seed(&root_seed).unwrap();
    let fee_engine = authority(&root, "fee-engine", 0x31, &[may::BILL, may::SEAL]);
    let ledger = authority(&root, "ledger", 0x32, &[may::RECEIPT, may::SEAL]);
    let query = authority(&root, "query", 0x33, &[may::SEAL]);
    World {
        terminal,
        bill_key,
        bill_key_id,
        device_key: SigningKey::from_bytes(&[0x22; 32]),
        device_key_id: KeyId::parse("dev-0011223344556677").unwrap(),
        device: DeviceId::of_nkey(PHONE_NKEY).unwrap(),
        payer: PayerHandle::parse("p-5e1d0c9b8a7f6e5d4c3b2a19").unwrap(),
        bill,
        issued,
        payment_id: PaymentId(uuid("9a3f6c1e-7b2d-4e8f-a051-3c6d9e2f4b70")),
        root,
        fee_engine,
        ledger,
        query,
        query_key: SigningKey::from_bytes(&[0x33; 32]),
    }
}

/// An error answer's headers (its payload is empty), as `Name: value` lines.
fn error_headers(status: u16, text: &str) -> String {
    format!("Nats-Service-Error-Code: {status}\nNats-Service-Error: {text}")
}

fn wire_error(code: ErrorCode, message: &str) -> String {
    let e = WireError::new(code, message);
    error_headers(code.status(), &e.header_text())
}

// --- what the document describes, implemented from its words --------------------------------

/// The purpose tag: `posfee/v1/<purpose>` and one NUL byte.
fn tag(purpose: Purpose) -> Vec<u8> {
    let mut t = format!("posfee/v1/{}", purpose.as_str()).into_bytes();
    t.push(0);
    t
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The bytes the typed code's check covers.
fn check_input(mode: PairMode, presenter: &str, token: &PairToken) -> Vec<u8> {
    let mut b = match mode {
        PairMode::TerminalPresents => b"posfee-pair\0".to_vec(),
        PairMode::PhonePresents => b"posfee-wallet\0".to_vec(),
    };
    b.extend_from_slice(presenter.as_bytes());
    b.push(0);
    b.extend(unhex(token.as_str()));
    b
}

/// The typed code as the document says to make it.
fn typed(mode: PairMode, presenter: &str, token: &PairToken) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let value = u128::from_str_radix(token.as_str(), 16).unwrap();
    let check = crc16(&check_input(mode, presenter, token)) & 0x3ff;
    let mut symbols: Vec<u8> = (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (5 * i)) & 31) as usize])
        .collect();
    symbols.push(ALPHABET[usize::from(check >> 5)]);
    symbols.push(ALPHABET[usize::from(check & 31)]);
    let groups: Vec<String> = symbols
        .chunks(4)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!("{presenter}:{}", groups.join("-"))
}

fn code_text(mode: PairMode, presenter: &str, code: &PairCode) -> String {
    let input = check_input(mode, presenter, code.token());
    let crc = crc16(&input);
    let typed_doc = typed(mode, presenter, code.token());
    assert_eq!(
        typed_doc,
        code.typed(),
        "the documented algorithm is the code's"
    );
    assert_eq!(PairCode::parse_mode(&code.uri(), mode).unwrap(), *code);
    format!(
        "link:        {}\ncheck input: {}\nCRC-16:      0x{crc:04x}, check = 0x{:03x} = {}\ntyped:       {typed_doc}",
        code.uri(),
        common::hex(&input),
        crc & 0x3ff,
        crc & 0x3ff,
    )
}

/// Event ids: UUID version 5 in the namespace, of `kind`, NUL, the subject bytes.
/// A service's keyed event id as section 12 describes it: HMAC-SHA-256 (RFC 2104, written out
/// here from SHA-256) of `kind`, one NUL and `subject` under `key`, its first 16 bytes with the
/// version nibble set to 8 and the variant bits to 10.
fn keyed_event_id(key: &[u8; 32], kind: &str, subject: &[u8]) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(kind.as_bytes());
    inner.update([0]);
    inner.update(subject);
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    let digest = outer.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b)
}

// --- the examples -----------------------------------------------------------------------------

fn examples() -> Examples {
    let w = world();
    let mut ex = Examples::default();
    // The check value the document gives for its CRC.
    assert_eq!(crc16(b"123456789"), 0x29b1);

    // Identities and inboxes.
    ex.text("device-id", format!("{PHONE_NKEY}\n{}", w.device));
    assert_eq!(
        &PHONE_NKEY[2..10].to_ascii_lowercase(),
        &w.device.as_str()[2..]
    );
    ex.text(
        "inboxes",
        [
            Identity::Terminal(w.terminal.clone()).inbox_prefix(),
            Identity::Device(w.device.clone()).inbox_prefix(),
            Identity::Role(subjects::Role::Operator).inbox_prefix(),
        ]
        .join("\n"),
    );

    // A new key's stamp, as section 1 describes it: the first counter whose SHA-256 of
    // "posfee.stamp.v1:" + key + ":" + counter has 16 leading zero bits.
    let stamp = posfee_schemas::identity::find_stamp(PHONE_NKEY, 16, 0);
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(format!("posfee.stamp.v1:{PHONE_NKEY}:{stamp}").as_bytes())
    };
    assert_eq!(&digest[..2], &[0, 0]);
    assert_eq!(
        posfee_schemas::identity::stamp_bits(PHONE_NKEY, stamp),
        digest.iter().take_while(|b| **b == 0).count() as u32 * 8
            + digest
                .iter()
                .find(|b| **b != 0)
                .map_or(0, |b| b.leading_zeros())
    );
    ex.text(
        "stamp",
        format!(
            "key:    {PHONE_NKEY}\nstamp:  {stamp}\nsha256: {}\nbits:   {}\nname:   posfee-phone stamp={stamp}",
            common::hex(&digest),
            posfee_schemas::identity::stamp_bits(PHONE_NKEY, stamp)
        ),
    );

    // Purpose tags: a signature over the documented tag and the body verifies as that purpose.
    let probe = b"any body";
    for p in [
        Purpose::Bill,
        Purpose::DevicePay,
        Purpose::DeviceRegister,
        Purpose::Settlement,
        Purpose::Receipt,
        Purpose::Authority,
        Purpose::KeyRecord,
        Purpose::Seal,
    ] {
        let mut m = tag(p);
        m.extend_from_slice(probe);
        let sig = w.bill_key.sign(&m).to_bytes();
        verify_with(&w.bill_key.verifying_key(), p, probe, &sig).unwrap();
        assert_eq!(sign_detached(&w.bill_key, p, probe), sig.to_vec());
        ex.hex(&format!("tag.{}", p.as_str()), &tag(p));
    }

    // Mode A: the bill.
    let issue = BillIssueRequest {
        basket: None,
        quote: QuoteRequest {
            tenant: w.bill.tenant.clone(),
            account: w.bill.account.clone(),
            kinds: vec![FeeKind::parse("water").unwrap()],
            as_of: None,
            prepay_months: None,
            top_up: None,
        },
        terminal: w.terminal.clone(),
        idempotency_key: IdempotencyKey::parse("kiosk-01-6b0e0a52d1f04c7e").unwrap(),
    };
    ex.text("bill-issue.subject", subjects::bill_issue(&w.terminal));
    ex.msg("bill-issue.request", &issue);
    let body = ex.msg("bill.body", &w.bill);
    assert_eq!(body, w.issued.signed.body);
    let mut signed_message = tag(Purpose::Bill);
    signed_message.extend_from_slice(&body);
    let sig = w.bill_key.sign(&signed_message).to_bytes();
    assert_eq!(sig.to_vec(), w.issued.signed.signature);
    ex.hex("bill.public-key", w.bill_key.verifying_key().as_bytes());
    ex.hex("bill.signature", &sig);
    ex.msg("bill.issued", &w.issued);

    // Mode A: the code, the join, the offer.
    let pair_token = tok("00112233445566778899aabbccddeeff");
    let updates = tok("ffeeddccbbaa99887766554433221100");
    let notify = tok("0123456789abcdef0123456789abcdef");
    let code = PairCode::terminal(w.terminal.clone(), pair_token.clone(), Some(w.bill.bill_id));
    ex.text(
        "pair.subjects",
        format!(
            "{}\n{}\n{}",
            subjects::pair(&w.terminal, &pair_token),
            subjects::pair(&w.terminal, &updates),
            subjects::receipt(&w.terminal),
        ),
    );
    ex.text(
        "pair.code",
        code_text(PairMode::TerminalPresents, w.terminal.as_str(), &code),
    );
    ex.msg(
        "pair.join",
        &PairJoin {
            terminal: w.terminal.clone(),
            bill_id: Some(w.bill.bill_id),
            notify: Some(PhoneChannel {
                device: w.device.clone(),
                token: notify.clone(),
            }),
        },
    );
    let offer = BillOffer {
        pairing: None,
        more_bills: Vec::new(),
        terminal: w.terminal.clone(),
        bill: w.issued.clone(),
        pairing_expires_at: t("2026-11-25T08:32:00Z"),
        updates: Some(updates.clone()),
    };
    ex.msg("pair.offer", &offer);
    ex.text(
        "pair.refusals",
        [
            wire_error(
                ErrorCode::PairingConflict,
                "this code belongs to terminal kiosk-01, not kiosk-02",
            ),
            wire_error(
                ErrorCode::PairingConflict,
                "this code was already used or has ended",
            ),
        ]
        .join("\n\n"),
    );

    // Events the kiosk writes.
    let joined = Event::new(
        EventId(uuid("c2a1e7f0-3b4d-4e5f-9a8b-7c6d5e4f3a21")),
        t("2026-11-25T08:30:14.600Z"),
        EventBody::PairingJoined(PairingEnded {
            more_bills: Vec::new(),
            terminal: w.terminal.clone(),
            bill_id: w.bill.bill_id,
            mode: PairMode::TerminalPresents,
            opened_at: t("2026-11-25T08:30:00.200Z"),
            expires_at: t("2026-11-25T08:32:00Z"),
        }),
    );
    let joined_bytes = ex.msg("event.pairing-joined", &joined);
    let seal = w.query.seal(&joined.subject(), &joined_bytes);
    // The seal as the document describes it: the query authority's signature over the
    // tag, the subject, one NUL and the payload.
    let mut sealed = tag(Purpose::Seal);
    sealed.extend_from_slice(joined.subject().as_bytes());
    sealed.push(0);
    sealed.extend_from_slice(&joined_bytes);
    assert_eq!(
        seal.signature,
        w.query_key.sign(&sealed).to_bytes().to_vec()
    );
    ex.text(
        "event.pairing-joined.publish",
        format!(
            "{}\nNats-Msg-Id: {}\nPosfee-Seal: {}",
            joined.subject(),
            joined.id,
            seal.render()
        ),
    );
    ex.msg("seal.query-authority", w.query.certificate());
    // A service's event id: keyed with a secret of its authority.
    let example_key = [0x44u8; 32];
    let settled_id = EventId::keyed(&example_key, "payment.settled", w.payment_id.0.as_bytes());
    assert_eq!(
        settled_id.0,
        keyed_event_id(&example_key, "payment.settled", w.payment_id.0.as_bytes())
    );
    let mut name = b"payment.settled\0".to_vec();
    name.extend_from_slice(w.payment_id.0.as_bytes());
    ex.text(
        "event-id.payment-settled",
        format!(
            "key:  {}\nname: {}\nid:   {settled_id}",
            common::hex(&example_key),
            common::hex(&name)
        ),
    );

    // The key directory.
    ex.text("keydir.root", w.root.root().as_str());
    ex.msg(
        "keydir.get",
        &posfee_schemas::signed::KeyRequest {
            purpose: Purpose::Bill.as_str().into(),
            key_id: w.bill_key_id.clone(),
        },
    );
    let record = PublicKeyRecord {
        key_id: w.bill_key_id.clone(),
        purpose: "bill".into(),
        owner: "city-water".into(),
        public_key: w.bill_key.verifying_key().to_bytes().to_vec(),
        published_at: t("2026-11-25T06:00:00.5Z"),
    };
    ex.msg("keydir.record", &record);
    ex.msg("keydir.authority", &w.fee_engine.authority().clone());
    ex.msg("keydir.certificate", w.fee_engine.certificate());
    let entry = w.fee_engine.entry(&record);
    ex.msg("keydir.entry", &entry);
    assert_eq!(
        w.root
            .root()
            .key_record(&entry, Purpose::Bill, &w.bill_key_id)
            .unwrap(),
        record
    );

    // The phone pays.
    ex.msg(
        "update.paying",
        &PayerUpdate {
            bill_id: w.bill.bill_id,
            step: PayerStep::Paying,
            payment_id: Some(w.payment_id),
            code: None,
            message: None,
        },
    );
    ex.hex("update.ack", &encode(&()));
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id: w.payment_id,
        payer: w.payer.clone(),
        bill_id: w.bill.bill_id,
        amount: w.bill.total,
        terminal: w.terminal.clone(),
    };
    let order_body = ex.msg("order.body", &order);
    let mut m = tag(Purpose::DevicePay);
    m.extend_from_slice(&order_body);
    let order_sig = w.device_key.sign(&m).to_bytes();
    ex.hex("order.signature", &order_sig);
    let pay = PayRequest {
        pairing: None,
        more_bills: Vec::new(),
        order: Signed::sign(Purpose::DevicePay, &order, &w.device_key_id, &w.device_key),
        bill: w.issued.clone(),
    };
    assert_eq!(pay.order.signature, order_sig.to_vec());
    ex.msg("pay.request", &pay);
    let receipt = Receipt {
        payment_id: w.payment_id,
        bill_id: w.bill.bill_id,
        tenant: w.bill.tenant.clone(),
        tenant_name: w.bill.tenant_name.clone(),
        account: w.bill.account.clone(),
        terminal: w.terminal.clone(),
        lines: w.bill.lines.clone(),
        total: w.bill.total,
        settled_at: t("2026-11-25T08:31:10.480213Z"),
        tenant_name_zh: w.bill.tenant_name_zh.clone(),
    };
    ex.msg("receipt.body", &receipt);
    let signed_receipt = SignedReceipt(w.ledger.sign(Purpose::Receipt, &receipt));
    ex.msg("receipt", &signed_receipt);
    ex.msg("receipt.ledger-authority", w.ledger.certificate());
    ex.msg(
        "update.not-paid",
        &PayerUpdate {
            bill_id: w.bill.bill_id,
            step: PayerStep::NotPaid,
            payment_id: Some(w.payment_id),
            code: Some("INSUFFICIENT_FUNDS".into()),
            message: Some("balance 10.00 CNY is less than 25.88 CNY".into()),
        },
    );

    // Mode B.
    let wallet_token = tok("a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5");
    let wallet = PairCode::wallet(w.device.clone(), wallet_token.clone());
    ex.text("wallet.subject", subjects::wallet(&w.device, &wallet_token));
    ex.text(
        "wallet.code",
        code_text(PairMode::PhonePresents, w.device.as_str(), &wallet),
    );
    let updates_b = tok("5f4e3d2c1b0a99887766554433221100");
    ex.msg(
        "wallet.offer",
        &BillOffer {
            pairing: None,
            more_bills: Vec::new(),
            terminal: w.terminal.clone(),
            bill: w.issued.clone(),
            pairing_expires_at: t("2026-11-25T08:32:00Z"),
            updates: Some(updates_b),
        },
    );
    ex.msg(
        "wallet.answer",
        &WalletAnswer {
            payment_id: w.payment_id,
            bill_id: w.bill.bill_id,
        },
    );
    ex.text(
        "wallet.refusals",
        [
            wire_error(
                ErrorCode::PayerDeclined,
                "the payer declined; nothing was paid",
            ),
            wire_error(
                ErrorCode::PairingConflict,
                "this wallet code was already used",
            ),
        ]
        .join("\n\n"),
    );

    // Registration.
    let idem = IdempotencyKey::parse("register-0011223344556677").unwrap();
    let mut proof_message = tag(Purpose::DeviceRegister);
    proof_message.extend_from_slice(w.device_key_id.as_str().as_bytes());
    proof_message.push(0);
    proof_message.extend_from_slice(idem.as_str().as_bytes());
    let proof = w.device_key.sign(&proof_message).to_bytes();
    let reg = RegisterRequest::signed(
        "张三".into(),
        "11010519491231002X".into(),
        "6222020200112233445".into(),
        &w.device_key,
        w.device_key_id.clone(),
        idem,
    );
    assert_eq!(reg.device_proof, proof.to_vec());
    assert!(reg.proves_possession(&w.device_key.verifying_key()));
    ex.hex(
        "register.public-key",
        w.device_key.verifying_key().as_bytes(),
    );
    ex.hex("register.proof-message", &proof_message);
    ex.hex("register.proof", &proof);
    ex.msg("register.request", &reg);
    ex.msg(
        "register.reply",
        &RegisterReply {
            payer: w.payer.clone(),
            balance: Money::cny(1_000_000),
        },
    );

    // Correcting a registration.
    ex.text(
        "amend.subject",
        subjects::paygate(
            subjects::PaygateOp::Amend,
            &subjects::Identity::Device(w.device.clone()),
        ),
    );
    let amend = AmendRequest::signed(
        Some("张叁".into()),
        None,
        &w.device_key,
        w.device_key_id.clone(),
    );
    let mut amend_message = tag(Purpose::DeviceAmend);
    amend_message.extend_from_slice(&amend.proof_body());
    assert!(amend.proves_possession(&w.device_key.verifying_key()));
    ex.hex("amend.proof-message", &amend_message);
    ex.msg("amend.request", &amend);
    ex.msg(
        "amend.reply",
        &AmendReply {
            payer: w.payer.clone(),
            changed: vec!["name".into()],
        },
    );

    // Ledger close.
    ex.text("close.subject", subjects::ledger_close(&w.terminal));
    ex.msg(
        "close.request",
        &CloseRequest {
            pairing: None,
            bill: w.issued.clone(),
            reason: CloseReason::Cancelled,
            code: None,
        },
    );
    ex.msg(
        "close.reply.closed",
        &CloseReply {
            outcome: CloseOutcome::Closed,
            receipt: None,
        },
    );
    ex.msg(
        "close.reply.paid",
        &CloseReply {
            outcome: CloseOutcome::Paid,
            receipt: Some(signed_receipt),
        },
    );
    ex.text("close.notice.subject", subjects::wallet(&w.device, &notify));
    ex.msg(
        "close.notice",
        &KioskNotice {
            bill_id: w.bill.bill_id,
            reason: CloseReason::Cancelled,
        },
    );
    ex.text(
        "close.refusal",
        wire_error(
            ErrorCode::Forbidden,
            "bill 1b4e28ba-2fa1-41d2-883f-0016d3cca427 was issued for terminal kiosk-01; only that terminal may close it",
        ),
    );
    baskets(&w, &mut ex);
    ex
}

/// Section 13: a basket of two bills, paid in one order.
fn baskets(w: &World, ex: &mut Examples) {
    let tag = posfee_schemas::basket::BasketTag {
        id: BasketId(uuid("7c1e5a40-2b9d-4f63-8e17-5d0a4c3b2f91")),
        size: 2,
    };
    let mut issue = BillIssueRequest {
        quote: QuoteRequest {
            tenant: w.bill.tenant.clone(),
            account: w.bill.account.clone(),
            kinds: vec![],
            as_of: None,
            prepay_months: None,
            top_up: None,
        },
        terminal: w.terminal.clone(),
        idempotency_key: IdempotencyKey::parse("kiosk-01-7f2c").unwrap(),
        basket: Some(tag),
    };
    ex.msg("basket.issue", &issue);
    issue.basket = None;
    let first = Bill {
        basket: Some(tag),
        ..w.bill.clone()
    };
    let second = Bill {
        basket: Some(tag),
        bill_id: BillId(uuid("2c5f39cb-3fb2-42e3-994f-1127e4ddb538")),
        account: AccountNo::parse("3-1-1203").unwrap(),
        holder_masked: Some("李*".into()),
        total: Money::cny(1035),
        lines: vec![BillLine {
            quantity: rust_decimal::Decimal::from_str("5").unwrap(),
            amount: Fen::new(1035),
            explanation: "5 m3 x 2.07".into(),
            explanation_zh: "5 m3 × 2.07".into(),
            ..w.bill.lines[0].clone()
        }],
        ..w.bill.clone()
    };
    let sign = |b: &Bill| IssuedBill {
        bill_id: b.bill_id,
        signed: Signed::sign(Purpose::Bill, b, &w.bill_key_id, &w.bill_key),
    };
    let (first_issued, second_issued) = (sign(&first), sign(&second));
    ex.msg("basket.bill-2", &second);
    ex.msg(
        "basket.offer",
        &BillOffer {
            pairing: None,
            terminal: w.terminal.clone(),
            bill: first_issued.clone(),
            pairing_expires_at: t("2026-11-25T08:32:00Z"),
            updates: Some(tok("00112233445566778899aabbccddeeff")),
            more_bills: vec![second_issued.clone()],
        },
    );
    let order = PayOrder {
        payment_id: w.payment_id,
        payer: w.payer.clone(),
        bill_id: first.bill_id,
        amount: Money::cny(2588 + 1035),
        terminal: w.terminal.clone(),
        more_bills: vec![second.bill_id],
    };
    ex.msg("basket.order.body", &order);
    let pay = PayRequest {
        pairing: None,
        order: Signed::sign(Purpose::DevicePay, &order, &w.device_key_id, &w.device_key),
        bill: first_issued,
        more_bills: vec![second_issued],
    };
    ex.hex("basket.pay.request", &encode(&pay));
    let parts = [
        PaymentId::part(w.payment_id, first.bill_id),
        PaymentId::part(w.payment_id, second.bill_id),
    ];
    // The derivation as the document gives it: UUIDv5, the basket's payment id as namespace,
    // the bill id's 16 bytes as name.
    for (part, bill) in parts.iter().zip([&first, &second]) {
        assert_eq!(
            part.0,
            uuid::Uuid::new_v5(&w.payment_id.0, bill.bill_id.0.as_bytes())
        );
    }
    ex.text("basket.part-ids", format!("{}\n{}", parts[0], parts[1]));
    let receipt = |id: PaymentId, b: &Bill| {
        let r = Receipt::of_bill(id, b, t("2026-11-25T08:31:10.480213Z"));
        SignedReceipt(w.ledger.sign(Purpose::Receipt, &r))
    };
    ex.msg(
        "basket.paid",
        &posfee_schemas::basket::BasketPaid {
            payment_id: w.payment_id,
            total: order.amount,
            receipts: vec![receipt(parts[0], &first), receipt(parts[1], &second)],
        },
    );
    ex.text(
        "basket.refusal",
        wire_error(
            ErrorCode::BillAlreadyPaid,
            "City Water, account 3-1-1203 (bill 2c5f39cb-3fb2-42e3-994f-1127e4ddb538): city-water 3-1-1203 water 2026-10 was already paid by another bill",
        ),
    );
}

// --- reading and rewriting the document --------------------------------------------------------

/// A fence line that opens an example block: its kind and name.
fn opening(line: &str) -> Option<(&str, &str)> {
    let info = line.trim_end().strip_prefix("```")?;
    let (kind, name) = info.split_once(' ')?;
    matches!(kind, "hex" | "diag" | "text").then_some((kind, name.trim()))
}

/// Every example block of the document, by (name, kind), with its contents.
fn blocks(doc: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some((kind, name)) = opening(line) else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        let prev = out.insert((name.to_string(), kind.to_string()), body.join("\n"));
        assert!(prev.is_none(), "block {kind} {name} appears twice");
    }
    out
}

fn bless(doc: &str, ex: &Examples) -> String {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        out.push(line.to_string());
        let Some((kind, name)) = opening(line) else {
            continue;
        };
        let old: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        match ex.0.iter().find(|((n, k), _)| n == name && *k == kind) {
            Some((_, b)) => out.push(b.body()),
            None => out.extend(old.iter().map(|s| s.to_string())),
        }
        out.push("```".into());
    }
    out.join("\n") + "\n"
}

#[test]
fn every_worked_example_in_the_document_is_what_the_code_makes() {
    let text = std::fs::read_to_string(DOC).expect("docs/contract.md");
    let ex = examples();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(DOC, bless(&text, &ex)).unwrap();
        return;
    }
    let found = blocks(&text);
    let mut problems = Vec::new();
    for ((name, kind), b) in &ex.0 {
        match found.get(&(name.clone(), kind.to_string())) {
            None => problems.push(format!("missing block ```{kind} {name}")),
            Some(got) => {
                let same = match b {
                    Block::Hex(want) => unhex(got) == *want,
                    _ => got.trim_end() == b.body().trim_end(),
                };
                if !same {
                    problems.push(format!(
                        "```{kind} {name} differs; the code makes:\n{}",
                        b.body()
                    ));
                }
            }
        }
    }
    for (name, kind) in found.keys() {
        if !ex.0.keys().any(|(n, k)| n == name && k == kind) {
            problems.push(format!("block ```{kind} {name} is not made by this test"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The bytes in the document decode as what they claim to be, read back with the real
/// decoder, and their signatures verify: an independent client following the document would
/// get the same answers.
#[test]
fn the_documented_bytes_decode_and_verify() {
    let text = std::fs::read_to_string(DOC).expect("docs/contract.md");
    let found = blocks(&text);
    let bytes = |name: &str| unhex(&found[&(name.to_string(), "hex".to_string())]);
    let w = world();
    let issued: IssuedBill = decode(&bytes("bill.issued")).unwrap();
    // The bill's key, believed only through the root the document names.
    let root = posfee_schemas::trust::TrustRoot::parse(
        &found[&("keydir.root".to_string(), "text".to_string())],
    )
    .unwrap();
    let entry: posfee_schemas::trust::DirectoryEntry = decode(&bytes("keydir.entry")).unwrap();
    let record = root
        .key_record(&entry, Purpose::Bill, &w.bill_key_id)
        .unwrap();
    assert_eq!(record.public_key, bytes("bill.public-key"));
    let mut ring = posfee_schemas::signed::KeyRing::new();
    let key: [u8; 32] = record.public_key.as_slice().try_into().unwrap();
    ring.insert(
        w.bill_key_id.clone(),
        ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
    );
    let bill: Bill = issued.signed.verify(Purpose::Bill, &ring).unwrap();
    assert_eq!(bill, w.bill);
    // The receipt, believed through the ledger's certificate from the same root.
    let ledger = root
        .authority(&decode(&bytes("receipt.ledger-authority")).unwrap())
        .unwrap();
    let receipt: SignedReceipt = decode(&bytes("receipt")).unwrap();
    let body: Receipt = ledger.verify(Purpose::Receipt, &receipt.0).unwrap();
    assert_eq!(body.bill_id, w.bill.bill_id);
    let pay: PayRequest = decode(&bytes("pay.request")).unwrap();
    let device: [u8; 32] = bytes("register.public-key").try_into().unwrap();
    let device = ed25519_dalek::VerifyingKey::from_bytes(&device).unwrap();
    verify_with(
        &device,
        Purpose::DevicePay,
        &pay.order.body,
        &pay.order.signature,
    )
    .unwrap();
    let reg: RegisterRequest = decode(&bytes("register.request")).unwrap();
    assert!(reg.proves_possession(&device));
    let offer: BillOffer = decode(&bytes("pair.offer")).unwrap();
    assert_eq!(offer.bill, issued);
    let _: CloseRequest = decode(&bytes("close.request")).unwrap();
    let _: Event = decode(&bytes("event.pairing-joined")).unwrap();
}
