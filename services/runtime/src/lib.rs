//! The server side every posfee service shares, so each service crate holds only its own
//! operations: serving a NATS micro service with bounded concurrency and stable error codes,
//! writes that happen exactly once, the transactional outbox, views fed from the event
//! stream, background tasks, signing keys and logging. The store with group commit is
//! `posfee-store`, which the phone's own store uses too.
//! Talking on the bus (connecting, calling, verifying, the clock, shutdown) is
//! `posfee-client`, which kiosks and phones link without any of this.

pub mod args;
pub mod audit;
pub mod consumer;
pub mod directory;
pub mod feed;
pub mod journal;
pub mod keyfile;
pub mod limit;
pub mod metrics;
pub mod outbox;
pub mod page;
pub mod serve;
pub mod tasks;
pub mod telemetry;
pub mod trust;

pub use args::ServiceArgs;
pub use serve::{decode_request, reply_err, reply_ok, Endpoints, Handled, ServiceSpec};
pub use trust::Trust;
