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

/// A phone asks to enrol its own key. Sent on `posfee.identity.enrol.<device>` by a
/// connection made with that key (or, for a phone enrolling several keys, with another
/// enrolled one); the proof shows the sender holds `nkey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The phone's public nkey (56 symbols starting with `U`).
    pub nkey: String,
    /// The nkey's ed25519 signature over [`enrol_proof_message`].
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
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
    #[serde(default)]
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
    #[serde(default)]
    pub devices: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub keys: Vec<IssuedKey>,
    pub devices_enrolled: u64,
    pub devices_revoked: u64,
}
