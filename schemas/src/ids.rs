//! Identifier newtypes, built only through `parse`, so a value that exists is a valid one.
//!
//! Identifiers that become part of a subject (terminal ids, pairing tokens, service names)
//! must never carry a subject separator or wildcard: `.`, `*`, `>` or whitespace would let a
//! sender address subjects it was never meant to reach.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier we accept, in bytes. Subjects stay short and payloads bounded.
pub const MAX_ID_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} bytes")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} contains {found:?}, which is not allowed (letters, digits, '-' and '_' only)")]
    BadChar { kind: &'static str, found: char },
    #[error("{kind} is not valid: {reason}")]
    Invalid {
        kind: &'static str,
        reason: &'static str,
    },
}

impl IdError {
    pub fn kind(&self) -> &'static str {
        match self {
            IdError::Empty { kind }
            | IdError::TooLong { kind, .. }
            | IdError::BadChar { kind, .. }
            | IdError::Invalid { kind, .. } => kind,
        }
    }
}

/// A token that may stand as one element of a NATS subject: ASCII letters, digits, `-`, `_`.
pub fn check_subject_token(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong {
            kind,
            max: MAX_ID_BYTES,
        });
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(found) => Err(IdError::BadChar { kind, found }),
        None => Ok(()),
    }
}

/// A free-form business key (an account number such as `3-1-1202` or `BJ/0042`): any printable
/// character except subject separators, wildcards and whitespace.
fn check_business_key(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong {
            kind,
            max: MAX_ID_BYTES,
        });
    }
    match s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'))
    {
        Some(found) => Err(IdError::BadChar { kind, found }),
        None => Ok(()),
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const KIND: &'static str = $kind;

            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $check($kind, &s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A kiosk's identity, part of its pairing and receipt subjects.
    TerminalId, "terminal id", check_subject_token
);
string_id!(
    /// A phone's identity on the bus, part of its wallet and inbox subjects. It is the
    /// fingerprint of the phone's own nkey ([`DeviceId::of_nkey`]), so no phone can claim
    /// another's subjects without that phone's key.
    DeviceId, "device id", check_subject_token
);
string_id!(
    /// A tenant: the property company, utility or telecom that bills.
    TenantId, "tenant id", check_subject_token
);
string_id!(
    /// The payer's account at a tenant: a room, a meter, a phone number.
    AccountNo, "account number", check_business_key
);
string_id!(
    /// A fee kind a tenant bills: `property`, `water`, `electricity`, `parking` …
    FeeKind, "fee kind", check_subject_token
);
string_id!(
    /// Names a signing key, so keys can be rotated while older signatures still verify.
    KeyId, "key id", check_subject_token
);
string_id!(
    /// The opaque handle paygate gives a payer; it says nothing about who the payer is.
    PayerHandle, "payer handle", check_subject_token
);
string_id!(
    /// A caller-chosen key that makes a retried request take effect once.
    IdempotencyKey, "idempotency key", check_business_key
);

impl DeviceId {
    /// Base32 symbols of the public key the id keeps: 40 bits, short enough to type inside
    /// a wallet code. The key registry refuses a second key with the same fingerprint.
    pub const FINGERPRINT_SYMBOLS: usize = 8;

    /// The device id of a user nkey (`U…`, 56 base32 symbols): `ph` and eight symbols of
    /// the key. The first two symbols are skipped because they mostly encode the key type.
    pub fn of_nkey(public_key: &str) -> Result<DeviceId, IdError> {
        let invalid = |reason| IdError::Invalid {
            kind: Self::KIND,
            reason,
        };
        if public_key.len() != 56 || !public_key.starts_with('U') {
            return Err(invalid("not a user nkey (56 symbols starting with U)"));
        }
        let fingerprint = public_key
            .get(2..2 + Self::FINGERPRINT_SYMBOLS)
            .ok_or_else(|| invalid("not a user nkey"))?;
        if !fingerprint
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        {
            return Err(invalid("not a base32 nkey"));
        }
        DeviceId::parse(format!("ph{}", fingerprint.to_ascii_lowercase()))
    }
}

/// A user nkey's public half (`U` and 55 base32 symbols): who a kiosk, phone or clerk key is,
/// as a subject token (`posfee.identity.status.<nkey>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicNkey(String);

impl PublicNkey {
    pub const KIND: &'static str = "public nkey";

    pub fn parse(s: impl Into<String>) -> Result<PublicNkey, IdError> {
        let s: String = s.into();
        let ok = s.len() == 56
            && s.starts_with('U')
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c));
        if !ok {
            return Err(IdError::Invalid {
                kind: Self::KIND,
                reason: "not a user nkey (56 base32 symbols starting with U)",
            });
        }
        Ok(PublicNkey(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PublicNkey {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        PublicNkey::parse(s)
    }
}

impl From<PublicNkey> for String {
    fn from(k: PublicNkey) -> String {
        k.0
    }
}

impl std::fmt::Display for PublicNkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 128-bit pairing token from the OS CSPRNG, written as 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PairToken {
    text: String,
    value: u128,
}

impl Serialize for PairToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl PairToken {
    pub const KIND: &'static str = "pairing token";
    pub const HEX_LEN: usize = 32;

    /// A fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::of_value(u128::from_be_bytes(bytes))
    }

    /// The token with these 128 bits.
    pub fn of_value(value: u128) -> Self {
        Self {
            text: format!("{value:032x}"),
            value,
        }
    }

    /// The token's 128 bits.
    pub fn value(&self) -> u128 {
        self.value
    }

    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s: String = s.into();
        check_subject_token(Self::KIND, &s)?;
        if s.len() != Self::HEX_LEN {
            return Err(IdError::Invalid {
                kind: Self::KIND,
                reason: "must be 32 hex digits (128 bits)",
            });
        }
        if let Some(found) = s
            .chars()
            .find(|c| !(c.is_ascii_digit() || ('a'..='f').contains(c)))
        {
            return Err(IdError::BadChar {
                kind: Self::KIND,
                found,
            });
        }
        let value = u128::from_str_radix(&s, 16).map_err(|_| IdError::Invalid {
            kind: Self::KIND,
            reason: "must be 32 hex digits (128 bits)",
        })?;
        Ok(Self { text: s, value })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for PairToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PairToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

/// A calendar month, `YYYY-MM` (year 1000–9999, month 01–12): written as that string on
/// the wire and ordered as dates, so a malformed month cannot be represented.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Month(String);

impl Month {
    pub const KIND: &'static str = "month";

    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s: String = s.into();
        let bad = IdError::Invalid {
            kind: Self::KIND,
            reason: "must be YYYY-MM",
        };
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 7 || b[4] != b'-' || !digits(0..4) || !digits(5..7) || b[0] == b'0' {
            return Err(bad);
        }
        let month: u32 = s[5..7].parse().map_err(|_| bad.clone())?;
        if !(1..=12).contains(&month) {
            return Err(bad);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(uuid::Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, uuid::Error> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A payable bill issued by the fee-engine.
    BillId
);
uuid_id!(
    /// One payment attempt, chosen by the payer's phone, the key of authorize/capture/void.
    PaymentId
);
uuid_id!(
    /// An event's id; JetStream dedupes on it (`Nats-Msg-Id`).
    EventId
);
uuid_id!(
    /// A basket of bills a kiosk issues together to be paid in one confirmation
    /// ([`crate::basket`]): chosen by the kiosk, signed into each of its bills.
    BasketId
);

impl PaymentId {
    /// The payment of one bill of a basket paid by `basket` (the payment id the phone chose
    /// for the whole basket): a UUIDv5 named by the bill id in the basket payment's namespace.
    /// Every party computes the same id, so each bill of a basket settles, is receipted and
    /// refunded as a payment of its own.
    pub fn part(basket: PaymentId, bill: BillId) -> PaymentId {
        PaymentId(uuid::Uuid::new_v5(&basket.0, bill.0.as_bytes()))
    }
}

/// Namespace of derived event ids.
const EVENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a0c_90d1_2f4e_4b7a_8e61_d3c2_b1a0_0002);

impl EventId {
    /// The id of the event `kind` about `subject` (a payment id, a refund key …): the same
    /// fact always has the same id, so a re-sent event (after a crash) is stored once.
    pub fn derived(kind: &str, subject: &[u8]) -> EventId {
        let mut name = kind.as_bytes().to_vec();
        name.push(0);
        name.extend_from_slice(subject);
        EventId(uuid::Uuid::new_v5(&EVENT_NAMESPACE, &name))
    }

    /// The id of the event `kind` about `subject` written by a service, keyed with a secret
    /// of that service's authority (`trust::Signer::derived_key`): the same fact always has
    /// the same id whichever instance writes it, and nobody else can compute it, so nobody can
    /// publish something else under that id first and have the stream drop the real event as
    /// a duplicate. HMAC-SHA-256 of `kind`, one NUL and `subject`, its first 16 bytes as a
    /// UUID of version 8.
    pub fn keyed(key: &[u8; 32], kind: &str, subject: &[u8]) -> EventId {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
            // HMAC takes a key of any length; this cannot fail.
            return EventId::derived(kind, subject);
        };
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(subject);
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        EventId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_yyyy_mm_and_nothing_else_decodes() {
        assert_eq!(Month::parse("2026-09").unwrap().as_str(), "2026-09");
        for bad in [
            "2026-9",
            "2026-13",
            "2026-00",
            "26-09",
            "2026/09",
            "0999-01",
            "",
            "２０２６-09",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?} accepted");
        }
        // An account event with a bad month does not decode, so it cannot lose it quietly.
        let bad: Result<Month, _> = crate::decode(&crate::encode(&"2026-9"));
        assert!(bad.is_err());
        assert!(Month::parse("2026-10").unwrap() > Month::parse("2026-09").unwrap());
    }

    #[test]
    fn a_device_id_is_the_fingerprint_of_its_nkey() {
        let key = "UDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB";
        let id = DeviceId::of_nkey(key).unwrap();
        assert_eq!(id.as_str(), "phdhgg7aa5");
        for bad in [
            "SUAGIEYODKBBTUMOB666Z5KA4FCWAZV7HWSGRHOD7MK6UM5IZVWXJJNPT",
            "NDDHGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB",
            "UDDH",
            "UD.HGG7AA5RHJWUPKTBA2ZTFTRDNGYPD3BEU36KO3U47PP72RTNXB7OB",
        ] {
            assert!(DeviceId::of_nkey(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subject_tokens_refuse_separators_wildcards_and_whitespace() {
        for bad in ["a.b", "a*", ">", "a b", "a\tb", "", "é"] {
            assert!(TerminalId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TerminalId::parse("kiosk-01_A").is_ok());
        assert!(TerminalId::parse("x".repeat(MAX_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn account_numbers_allow_business_punctuation_but_not_subject_syntax() {
        assert!(AccountNo::parse("3-1-1202").is_ok());
        assert!(AccountNo::parse("BJ/0042#7").is_ok());
        for bad in ["3.1", "a*", "a>b", "a b", ""] {
            assert!(AccountNo::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn pair_tokens_are_128_bits_of_hex_and_differ() {
        let a = PairToken::generate();
        let b = PairToken::generate();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, b);
        assert_eq!(PairToken::parse(a.as_str()).unwrap(), a);
        assert!(PairToken::parse("00112233445566778899aabbccddeeg0").is_err());
        assert!(PairToken::parse("0011").is_err());
    }

    #[test]
    fn deserializing_checks_like_parse() {
        let bytes = rmp_serde::to_vec("bad.id").unwrap();
        assert!(rmp_serde::from_slice::<TerminalId>(&bytes).is_err());
    }
}
