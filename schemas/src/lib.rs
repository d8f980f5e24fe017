//! The posfee wire contract.
//!
//! Every subject, every payload, every identifier newtype and every error code that crosses
//! the bus lives here, so that the services, the terminal, the phone and the operator CLI agree
//! by construction. Payloads are MessagePack maps with field names ([`codec::encode`]);
//! decoders ignore unknown fields and added fields carry `#[serde(default)]`, so a newer sender
//! does not break an older reader.

pub mod audit;
pub mod basket;
pub mod codec;
pub mod error;
pub mod events;
pub mod fee;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod pairing;
pub mod paygate;
pub mod query;
pub mod signed;
pub mod statement;
pub mod subjects;
pub mod terminal;
pub mod trust;

pub use codec::{decode, encode, DecodeError, MAX_PAYLOAD_BYTES};
pub use error::{ErrorCode, WireError};
pub use ids::*;
pub use money::{Currency, Fen, Money};
