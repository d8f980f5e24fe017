//! Who vouches for a public key: one **root** key that every verifier pins, the **authorities**
//! it certifies (one per signing service: the fee-engine, paygate, the ledger, the query
//! service, the importer), and what each authority signs: the key directory's records of the
//! keys that sign bills and settlement notices, the ledger's receipts, and the seals on the
//! events a service writes.
//!
//! A record is believed because of who signed it, never because of where it was written:
//! whoever manages to write into the key bucket or the event stream still cannot make a
//! verifier accept a key, a receipt or an event that no authority of the root signed. The
//! root's private half never leaves the operator (it signs the authorities' certificates at
//! set-up and can then be kept offline); an authority's private half lives only with its
//! service; kiosks and phones hold neither.

use crate::codec::{decode, encode};
use crate::ids::KeyId;
use crate::signed::{
    public_key, sign_detached, verify_with, PublicKeyRecord, Purpose, SignError, Signed,
};
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an authority may vouch for or sign.
pub mod may {
    /// Certify bill-signing keys (the fee-engine's tenants' keys).
    pub const BILL: &str = "bill";
    /// Certify settlement-notice keys (paygate's).
    pub const SETTLEMENT: &str = "settlement";
    /// Sign receipts (the ledger).
    pub const RECEIPT: &str = "receipt";
    /// Seal the events and journal entries it writes.
    pub const SEAL: &str = "seal";
}

/// An authority's certificate, signed by the root (purpose `authority`, key id = the root's
/// public key): the service it belongs to, its public key and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    /// The service role that holds it (`fee-engine`, `paygate`, `ledger`, `query`, `importer`);
    /// what it signs carries this as its key id.
    pub name: KeyId,
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// What it may do ([`may`]).
    pub may: Vec<String>,
    pub issued_at: DateTime<Utc>,
}

impl Authority {
    pub fn allows(&self, what: &str) -> bool {
        self.may.iter().any(|m| m == what)
    }

    fn key(&self) -> Result<VerifyingKey, SignError> {
        public_key(&self.public_key).ok_or(SignError::BadSignature)
    }

    /// Verifies something this authority signed for `purpose`, which its certificate must
    /// allow, and decodes it.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        purpose: Purpose,
        signed: &Signed,
    ) -> Result<T, SignError> {
        if signed.key_id != self.name {
            return Err(SignError::UnknownKey(signed.key_id.clone()));
        }
        self.verify_detached(purpose, &signed.body, &signed.signature)?;
        Ok(decode(&signed.body)?)
    }

    /// Checks a detached signature of this authority for `purpose` over `message`.
    pub fn verify_detached(
        &self,
        purpose: Purpose,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        if let Some(right) = purpose.authority_right() {
            if !self.allows(right) {
                return Err(SignError::NotAllowed {
                    authority: self.name.to_string(),
                    purpose: purpose.as_str(),
                });
            }
        }
        verify_with(&self.key()?, purpose, message, signature)
    }
}

/// A key directory entry (`POSFEE_KEYS`, key `<purpose>.<key id>`): the key's record signed by
/// an authority, and that authority's certificate, so a verifier that pins the root needs
/// nothing else to believe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// A [`PublicKeyRecord`], signed by `authority` (purpose `key-record`).
    pub record: Signed,
    /// The authority's certificate, signed by the root (purpose `authority`).
    pub authority: Signed,
}

/// Why a root key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a posfee root key (an operator public nkey, 56 symbols starting with O)")]
pub struct NotARoot(pub String);

/// The root every verifier pins: the public half of the operator's root key, written as a
/// NATS operator nkey (`O…`). It is the key id of every certificate it signs.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustRoot {
    text: String,
    key: VerifyingKey,
}

impl fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustRoot({})", self.text)
    }
}

impl fmt::Display for TrustRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TrustRoot {
    pub fn parse(text: &str) -> Result<TrustRoot, NotARoot> {
        let text = text.trim();
        let bad = || NotARoot(text.to_string());
        if !text.starts_with('O') {
            return Err(bad());
        }
        let (_, raw) = nkeys::from_public_key(text).map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad())?;
        Ok(TrustRoot {
            text: text.to_string(),
            key,
        })
    }

    /// The root's public key as it is pinned and shown.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key id certificates carry: the root's public key.
    pub fn key_id(&self) -> Result<KeyId, SignError> {
        KeyId::parse(self.text.clone()).map_err(|_| SignError::BadSignature)
    }

    /// An authority's certificate, if this root signed it.
    pub fn authority(&self, certificate: &Signed) -> Result<Authority, SignError> {
        if certificate.key_id.as_str() != self.text {
            return Err(SignError::UnknownKey(certificate.key_id.clone()));
        }
        verify_with(
            &self.key,
            Purpose::Authority,
            &certificate.body,
            &certificate.signature,
        )?;
        Ok(decode(&certificate.body)?)
    }

    /// The record in a directory entry, if an authority of this root that may certify
    /// `purpose` keys signed it, and it is the record of `key_id` for `purpose`.
    pub fn key_record(
        &self,
        entry: &DirectoryEntry,
        purpose: Purpose,
        key_id: &KeyId,
    ) -> Result<PublicKeyRecord, SignError> {
        let authority = self.authority(&entry.authority)?;
        if !authority.allows(purpose.as_str()) {
            return Err(SignError::NotAllowed {
                authority: authority.name.to_string(),
                purpose: purpose.as_str(),
            });
        }
        let record: PublicKeyRecord = authority.verify(Purpose::KeyRecord, &entry.record)?;
        if record.purpose != purpose.as_str() || &record.key_id != key_id {
            return Err(SignError::Mislabelled(key_id.clone()));
        }
        Ok(record)
    }
}

/// The root's private half: signs the authorities' certificates. Only the operator holds it.
pub struct RootSigner {
    root: TrustRoot,
    key: SigningKey,
}

impl RootSigner {
    /// From the root's seed as a NATS operator seed (`SO…`).
    pub fn from_seed(seed: &str) -> Result<RootSigner, NotARoot> {
        let bad = || NotARoot("the root seed".into());
        let kp = nkeys::KeyPair::from_seed(seed.trim()).map_err(|_| bad())?;
        let (_, raw) = nkeys::decode_seed(seed.trim()).map_err(|_| bad())?;
        let root = TrustRoot::parse(&kp.public_key())?;
        Ok(RootSigner {
            root,
            key: SigningKey::from_bytes(&raw),
        })
    }

    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// The certificate of an authority named `name` holding `public_key`.
    pub fn certify(
        &self,
        name: &KeyId,
        public_key: &VerifyingKey,
        may: &[&str],
        at: DateTime<Utc>,
    ) -> Result<Signed, SignError> {
        let authority = Authority {
            name: name.clone(),
            public_key: public_key.to_bytes().to_vec(),
            may: may.iter().map(|m| m.to_string()).collect(),
            issued_at: at,
        };
        Ok(Signed::sign(
            Purpose::Authority,
            &authority,
            &self.root.key_id()?,
            &self.key,
        ))
    }
}

/// An authority's private half with its certificate: what a signing service holds.
#[derive(Clone)]
pub struct Signer {
    authority: Authority,
    certificate: Signed,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({})", self.authority.name)
    }
}

/// The name of the header that carries a seal ([`Seal`]).
pub const SEAL_HEADER: &str = "Posfee-Seal";
/// The name of the header that carries a journal entry's seal ([`JournalSeal`]).
pub const JOURNAL_SEAL_HEADER: &str = "Posfee-Journal-Seal";

impl Signer {
    /// `key` with its certificate, which must certify exactly this key.
    pub fn new(key: SigningKey, certificate: Signed) -> Result<Signer, SignError> {
        let authority: Authority = decode(&certificate.body)?;
        if authority.public_key != key.verifying_key().to_bytes() {
            return Err(SignError::BadSignature);
        }
        Ok(Signer {
            authority,
            certificate,
            key,
        })
    }

    pub fn name(&self) -> &KeyId {
        &self.authority.name
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The certificate, as the key directory keeps it under `authority.<name>`.
    pub fn certificate(&self) -> &Signed {
        &self.certificate
    }

    /// Signs `value` for `purpose` as this authority (receipts).
    pub fn sign<T: Serialize>(&self, purpose: Purpose, value: &T) -> Signed {
        Signed::sign(purpose, value, &self.authority.name, &self.key)
    }

    /// The directory entry of `record`.
    pub fn entry(&self, record: &PublicKeyRecord) -> DirectoryEntry {
        DirectoryEntry {
            record: self.sign(Purpose::KeyRecord, record),
            authority: self.certificate.clone(),
        }
    }

    /// The seal of a message this authority writes on `subject`.
    pub fn seal(&self, subject: &str, payload: &[u8]) -> Seal {
        Seal {
            authority: self.authority.name.clone(),
            signature: sign_detached(&self.key, Purpose::Seal, &Seal::message(subject, payload)),
        }
    }

    /// A key derived from this authority's private half for `label`: the same for every
    /// instance holding the authority, unknown to anyone else (keyed event ids).
    pub fn derived_key(&self, label: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"posfee/v1/derived\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(self.key.to_bytes());
        h.finalize().into()
    }
}

/// The seal of a service's own journal, which only that service writes and reads: an
/// HMAC-SHA256 over the subject's bytes, one NUL, the previous entry's link on the subject
/// ([`JournalLink`]) and the payload, with the service's journal key (32 random bytes made
/// once per system beside the service's authority, kept when the authority is replaced), so
/// only the service can make or check it, at a hundredth of an ed25519 signature's cost (a
/// journal entry is sealed and checked on every flow). Carried in [`JOURNAL_SEAL_HEADER`] as
/// 64 lower-case hex digits. Sealing the link as well makes an entry valid only in its place:
/// a copy published again later names a link that is no longer its subject's last, and the
/// views pass it over. Nobody else needs to check it: events, which others read, carry a
/// [`Seal`].
#[derive(Clone)]
pub struct JournalSeal {
    key: [u8; 32],
}

impl fmt::Debug for JournalSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JournalSeal(…)")
    }
}

impl JournalSeal {
    pub fn new(key: [u8; 32]) -> JournalSeal {
        JournalSeal { key }
    }

    /// A fresh random key, as 64 hex digits: what a journal key file holds.
    pub fn generate_hex() -> String {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        to_hex(&key)
    }

    /// A key for `label` derived from this one: stable for the system's life, as the
    /// journal key is kept when the service's authority is replaced.
    pub fn derived_key(&self, label: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"posfee/v1/journal-derived\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(self.key);
        h.finalize().into()
    }

    /// The key written as 64 hex digits (a journal key file's content).
    pub fn from_hex(text: &str) -> Option<JournalSeal> {
        from_hex32(text.trim()).map(JournalSeal::new)
    }

    /// The MAC over `payload` on `subject` after `prev` (`None` never happens: an HMAC takes
    /// a key of any length).
    fn mac(
        &self,
        subject: &str,
        prev: &JournalLink,
        payload: &[u8],
    ) -> Option<hmac::Hmac<sha2::Sha256>> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(subject.as_bytes());
        mac.update(&[0]);
        mac.update(&prev.0);
        mac.update(payload);
        Some(mac)
    }

    /// The header value for `payload` on `subject` after `prev`.
    pub fn render(&self, subject: &str, prev: &JournalLink, payload: &[u8]) -> String {
        use hmac::Mac;
        let Some(mac) = self.mac(subject, prev, payload) else {
            return String::new();
        };
        to_hex(&mac.finalize().into_bytes())
    }

    /// Whether `value` (the header's value) seals `payload` on `subject` after `prev`;
    /// compared in constant time.
    pub fn check(&self, subject: &str, prev: &JournalLink, payload: &[u8], value: &str) -> bool {
        use hmac::Mac;
        let Some(tag) = from_hex32(value.trim()) else {
            return false;
        };
        self.mac(subject, prev, payload)
            .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
    }
}

/// The name of the header that carries the link of the entry before a journal entry on its
/// subject ([`JournalLink`]).
pub const JOURNAL_PREV_HEADER: &str = "Posfee-Journal-Prev";

/// A journal's hash chain, one per subject: every entry carries the link of the entry before
/// it on its subject ([`JOURNAL_PREV_HEADER`], 64 hex digits; all zeros for the first), and
/// an entry's own link is SHA-256 over `posfee/v1/journal-link`, one NUL, the subject, one
/// NUL, the previous link and the payload. An entry lost, altered or put back out of place
/// breaks the chain at the next entry of its subject; JetStream is not the only witness of
/// what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalLink(pub [u8; 32]);

impl JournalLink {
    /// The link before a subject's first entry.
    pub const START: JournalLink = JournalLink([0; 32]);

    /// The link of `payload` on `subject` after `prev`.
    pub fn next(&self, subject: &str, payload: &[u8]) -> JournalLink {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"posfee/v1/journal-link\0");
        h.update(subject.as_bytes());
        h.update([0]);
        h.update(self.0);
        h.update(payload);
        JournalLink(h.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<JournalLink> {
        from_hex32(text.trim()).map(JournalLink)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits as 32 bytes.
fn from_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A writer's signature over one message on a stream: the header [`SEAL_HEADER`] with value
/// `<authority name>:<signature as 128 lower-case hex digits>`, the signature (purpose `seal`)
/// over the subject's bytes, one NUL and the payload exactly as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub authority: KeyId,
    pub signature: Vec<u8>,
}

impl Seal {
    fn message(subject: &str, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(subject.len() + 1 + payload.len());
        m.extend_from_slice(subject.as_bytes());
        m.push(0);
        m.extend_from_slice(payload);
        m
    }

    /// The header value.
    pub fn render(&self) -> String {
        let mut out = format!("{}:", self.authority);
        for b in &self.signature {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    pub fn parse(value: &str) -> Result<Seal, SignError> {
        let (name, hex) = value
            .trim()
            .split_once(':')
            .ok_or(SignError::BadSignature)?;
        let authority = KeyId::parse(name).map_err(|_| SignError::BadSignature)?;
        if hex.len() != 128 || !hex.is_ascii() {
            return Err(SignError::BadSignature);
        }
        let signature = (0..64)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| SignError::BadSignature)?;
        Ok(Seal {
            authority,
            signature,
        })
    }

    /// Whether `authority` (already believed through the root) sealed `payload` on
    /// `subject`.
    pub fn check(
        &self,
        authority: &Authority,
        subject: &str,
        payload: &[u8],
    ) -> Result<(), SignError> {
        if authority.name != self.authority {
            return Err(SignError::UnknownKey(self.authority.clone()));
        }
        authority.verify_detached(
            Purpose::Seal,
            &Seal::message(subject, payload),
            &self.signature,
        )
    }
}

/// The encoded certificate, for files.
pub fn encode_certificate(certificate: &Signed) -> Vec<u8> {
    encode(certificate)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_journal_seal_holds_only_for_its_subject_place_payload_and_key() {
        let a = JournalSeal::new([1; 32]);
        let other = JournalSeal::from_hex(&JournalSeal::generate_hex()).unwrap();
        let start = JournalLink::START;
        let seal = a.render("posfee.journal.ledger.x", &start, b"entry");
        assert_eq!(seal.len(), 64);
        assert!(a.check("posfee.journal.ledger.x", &start, b"entry", &seal));
        assert!(!a.check("posfee.journal.ledger.y", &start, b"entry", &seal));
        assert!(!a.check("posfee.journal.ledger.x", &start, b"entrY", &seal));
        let later = start.next("posfee.journal.ledger.x", b"entry");
        assert!(!a.check("posfee.journal.ledger.x", &later, b"entry", &seal));
        assert!(!other.check("posfee.journal.ledger.x", &start, b"entry", &seal));
        assert!(!a.check("posfee.journal.ledger.x", &start, b"entry", "zz"));
    }

    #[test]
    fn a_journal_link_names_its_subject_place_and_payload() {
        let first = JournalLink::START.next("s", b"a");
        assert_ne!(first, JournalLink::START.next("t", b"a"));
        assert_ne!(first, JournalLink::START.next("s", b"b"));
        assert_ne!(first.next("s", b"a"), first);
        assert_eq!(JournalLink::from_hex(&first.to_hex()), Some(first));
        assert_eq!(JournalLink::from_hex("00"), None);
    }

    fn root() -> RootSigner {
        let kp = nkeys::KeyPair::new_operator();
        RootSigner::from_seed(&kp.seed().unwrap()).unwrap()
    }

    fn authority(root: &RootSigner, name: &str, may: &[&str]) -> Signer {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let cert = root
            .certify(
                &KeyId::parse(name).unwrap(),
                &key.verifying_key(),
                may,
                Utc::now(),
            )
            .unwrap();
        Signer::new(key, cert).unwrap()
    }

    fn record(purpose: Purpose, id: &str) -> PublicKeyRecord {
        PublicKeyRecord {
            key_id: KeyId::parse(id).unwrap(),
            purpose: purpose.as_str().into(),
            owner: "city-water".into(),
            public_key: vec![1; 32],
            published_at: Utc::now(),
        }
    }

    #[test]
    fn a_record_signed_by_a_certified_authority_is_believed() {
        let r = root();
        let fee = authority(&r, "fee-engine", &[may::BILL, may::SEAL]);
        let entry = fee.entry(&record(Purpose::Bill, "city-water-1"));
        let id = KeyId::parse("city-water-1").unwrap();
        let got = r.root().key_record(&entry, Purpose::Bill, &id).unwrap();
        assert_eq!(got.key_id, id);
        // Another root does not believe it.
        assert!(root()
            .root()
            .key_record(&entry, Purpose::Bill, &id)
            .is_err());
        // Asked as another purpose or key id, it is refused.
        assert!(r
            .root()
            .key_record(&entry, Purpose::Settlement, &id)
            .is_err());
        let other = KeyId::parse("city-water-2").unwrap();
        assert!(r.root().key_record(&entry, Purpose::Bill, &other).is_err());
    }

    #[test]
    fn an_authority_vouches_only_for_what_its_certificate_allows() {
        let r = root();
        let query = authority(&r, "query", &[may::SEAL]);
        let entry = query.entry(&record(Purpose::Bill, "city-water-1"));
        let id = KeyId::parse("city-water-1").unwrap();
        assert!(matches!(
            r.root().key_record(&entry, Purpose::Bill, &id),
            Err(SignError::NotAllowed { .. })
        ));
        let receipt = query.sign(Purpose::Receipt, &"paid");
        assert!(query
            .authority()
            .verify::<String>(Purpose::Receipt, &receipt)
            .is_err());
    }

    #[test]
    fn a_record_or_certificate_changed_after_signing_is_refused() {
        let r = root();
        let fee = authority(&r, "fee-engine", &[may::BILL]);
        let id = KeyId::parse("city-water-1").unwrap();
        let mut entry = fee.entry(&record(Purpose::Bill, "city-water-1"));
        let last = entry.record.body.len() - 1;
        entry.record.body[last] ^= 1;
        assert!(r.root().key_record(&entry, Purpose::Bill, &id).is_err());
        let mut entry = fee.entry(&record(Purpose::Bill, "city-water-1"));
        entry.authority.body[5] ^= 1;
        assert!(r.root().key_record(&entry, Purpose::Bill, &id).is_err());
    }

    #[test]
    fn a_seal_covers_subject_and_payload() {
        let r = root();
        let ledger = authority(&r, "ledger", &[may::SEAL, may::RECEIPT]);
        let seal = ledger.seal("posfee.events.payment.settled", b"body");
        let parsed = Seal::parse(&seal.render()).unwrap();
        assert_eq!(parsed, seal);
        let a = r.root().authority(ledger.certificate()).unwrap();
        parsed
            .check(&a, "posfee.events.payment.settled", b"body")
            .unwrap();
        assert!(parsed
            .check(&a, "posfee.events.payment.settled", b"bodY")
            .is_err());
        assert!(parsed
            .check(&a, "posfee.events.payment.voided", b"body")
            .is_err());
        assert!(Seal::parse("ledger:00").is_err());
    }

    #[test]
    fn a_root_is_an_operator_nkey() {
        let kp = nkeys::KeyPair::new_operator();
        assert!(TrustRoot::parse(&kp.public_key()).is_ok());
        assert!(TrustRoot::parse(&nkeys::KeyPair::new_user().public_key()).is_err());
        assert!(TrustRoot::parse("Onot-a-key").is_err());
    }
}
