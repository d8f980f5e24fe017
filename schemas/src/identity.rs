//! Bus identities of kiosks, phones and clerks: phones enrolling their own keys, the operator
//! issuing and revoking keys.
//!
//! Every kiosk, phone and clerk connects with its own nkey. The identity service
//! (`services/identity`) answers the server's auth callout for each connection from its own
//! store of issued keys and gives the connection the permissions of that one identity; a key it
//! does not know may only ask to enrol as a phone (`posfee.identity.enrol.<device>`, where the
//! device id is the key's fingerprint, so only the key's holder can ask).

use crate::ids::{DeviceId, TenantId, TerminalId};
use crate::subjects::Identity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a phone signs with its nkey to prove it holds the key it enrols.
pub const ENROL_PROOF_TAG: &str = "posfee.enrol.v1:";

/// The exact bytes an enrolment proof signs: the tag, then the public key.
pub fn enrol_proof_message(nkey: &str) -> Vec<u8> {
    format!("{ENROL_PROOF_TAG}{nkey}").into_bytes()
}

/// What a new key's stamp hashes: this tag, the public key, `:` and the stamp in decimal.
pub const STAMP_TAG: &str = "posfee.stamp.v1:";
/// Leading zero bits (of the SHA-256 above) a key nobody enrolled yet needs to connect at all:
/// a little work per new key, so a crowd behind one address cannot make new keys for free
/// and nobody needs to count addresses (which would lock out every phone behind a carrier's
/// NAT or a TLS proxy).
pub const CONNECT_STAMP_BITS: u32 = 16;
/// The most leading zero bits enrolling ever asks for.
pub const MAX_STAMP_BITS: u32 = 28;
/// How a connection names its stamp: a token `stamp=<decimal>` in its CONNECT `name`.
pub const STAMP_NAME_PREFIX: &str = "stamp=";

/// The leading zero bits of `nkey`'s stamp `stamp`.
pub fn stamp_bits(nkey: &str, stamp: u64) -> u32 {
    bits_of(stamped(&prefix(nkey), stamp))
}

/// SHA-256 over `STAMP_TAG`, the key and `:`: the part every try of one key shares.
fn prefix(nkey: &str) -> sha2::Sha256 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(STAMP_TAG.as_bytes());
    h.update(nkey.as_bytes());
    h.update(b":");
    h
}

/// The digest of one try: the shared part and the stamp in decimal.
fn stamped(prefix: &sha2::Sha256, stamp: u64) -> [u8; 32] {
    use sha2::Digest;
    let mut h = prefix.clone();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = stamp;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    h.update(&digits[at..]);
    h.finalize().into()
}

fn bits_of(digest: [u8; 32]) -> u32 {
    let mut bits = 0;
    for byte in digest {
        bits += byte.leading_zeros();
        if byte != 0 {
            break;
        }
    }
    bits
}

/// The first stamp from `from` on that gives `nkey` at least `bits` leading zero bits: about
/// 2^bits hashes of work (the key's part hashed once).
pub fn find_stamp(nkey: &str, bits: u32, from: u64) -> u64 {
    let prefix = prefix(nkey);
    (from..)
        .find(|s| bits_of(stamped(&prefix, *s)) >= bits)
        .unwrap_or(from)
}

/// The bits a `STAMP_TOO_WEAK` refusal asks for (`… needs at least N …`).
pub fn stamp_needed(message: &str) -> Option<u32> {
    let rest = message.split("needs at least ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The stamp a connection name carries, if any.
pub fn stamp_in_name(name: &str) -> Option<u64> {
    name.split_whitespace()
        .find_map(|t| t.strip_prefix(STAMP_NAME_PREFIX))
        .and_then(|s| s.parse().ok())
}

/// A phone asks to enrol its own key. Sent on `posfee.identity.enrol.<device>` by a
/// connection made with that key (the device id must be the key's own); the proof shows the
/// sender holds `nkey`, the stamp that a little work was spent on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The phone's public nkey (56 symbols starting with `U`).
    pub nkey: String,
    /// The nkey's ed25519 signature over [`enrol_proof_message`].
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
    /// The key's stamp ([`stamp_bits`]); enrolling asks for at least [`CONNECT_STAMP_BITS`]
    /// and more while many keys enrol at once (the refusal says how many). Absent: the stamp
    /// the connection was made with.
    #[serde(default)]
    pub stamp: Option<u64>,
}

/// What the system takes a key for (`posfee.identity.status.<nkey>`): every connection the
/// identity service lets in may ask about its own key, and hears the answer on
/// `_INBOX.key.<nkey>.…`, whatever identity it thinks it is. How a refused key learns why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatus {
    pub nkey: String,
    pub state: KeyState,
    /// Whose key it is, when the system knows (a revoked key's holder too).
    #[serde(default)]
    pub holder: Option<Holder>,
    /// When it was issued or enrolled, or revoked.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// The stamp bits enrolling a new key needs just now.
    pub stamp_bits: u32,
    /// What to do, in one sentence.
    pub message: String,
}

/// A key's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Issued or enrolled, and in use.
    Active,
    /// Revoked: never again; its holder needs a new key.
    Revoked,
    /// Nobody issued or enrolled it: a phone may enrol it.
    Unenrolled,
    /// Its device id is another key's: the phone makes a new key.
    Conflict,
}

/// The enrolled phone: reconnect with the same key to get a phone's permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolReply {
    pub device_id: DeviceId,
    pub enrolled_at: DateTime<Utc>,
}

/// An identity that is not a service role: what the identity service keeps keys for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Holder {
    Terminal(TerminalId),
    Device(DeviceId),
    /// The billing clerk of one tenant.
    Clerk(TenantId),
}

impl Holder {
    /// The key under which a holder's current nkey is stored: `terminal/<id>` and so on.
    pub fn key(&self) -> String {
        match self {
            Holder::Terminal(t) => format!("terminal/{t}"),
            Holder::Device(d) => format!("device/{d}"),
            Holder::Clerk(t) => format!("clerk/{t}"),
        }
    }

    /// The name the server shows for the connection (and filters its connection list by).
    pub fn connection_name(&self) -> String {
        self.key()
    }
}

impl From<Holder> for Identity {
    fn from(h: Holder) -> Identity {
        match h {
            Holder::Terminal(t) => Identity::Terminal(t),
            Holder::Device(d) => Identity::Device(d),
            Holder::Clerk(t) => Identity::Clerk(t),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Identity::from(self.clone()).fmt(f)
    }
}

/// The operator issues a key (the kiosk's or clerk's seed stays with whoever made it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRequest {
    pub holder: Holder,
    /// The public nkey.
    pub nkey: String,
    /// Replace the holder's current key, which stops working at once.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub replace: bool,
}

/// One issued key as the identity service keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    pub holder: Holder,
    pub nkey: String,
    pub issued_at: DateTime<Utc>,
    /// Set once revoked; a revoked key never connects again.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueReply {
    pub key: IssuedKey,
    /// The key this one replaced, now revoked, and how many of its connections were cut.
    #[serde(default)]
    pub replaced: Option<RevokeReply>,
}

/// Revoke a holder's current key: it is refused from now on and its connections are cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRequest {
    pub holder: Holder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeReply {
    pub key: IssuedKey,
    /// Live connections of the key the servers closed.
    pub disconnected: u32,
}

/// List issued keys: kiosks and clerks in full, phones counted (a city has millions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {
    /// Also list phones, at most this many.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub devices: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub keys: Vec<IssuedKey>,
    pub devices_enrolled: u64,
    pub devices_revoked: u64,
}
