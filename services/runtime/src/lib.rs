//! The small runtime every posfee process shares, so each service crate holds only its own
//! operations: connecting to the bus as a role, serving a NATS micro service with bounded
//! concurrency and stable error codes, calling other services with typed errors, shutting
//! down on a signal, an injectable clock and the sled store.

pub mod args;
pub mod bus;
pub mod call;
pub mod clock;
pub mod creds;
pub mod ending;
pub mod feed;
pub mod keydir;
pub mod keyfile;
pub mod once;
pub mod outbox;
pub mod reply;
pub mod screen;
pub mod serve;
pub mod shutdown;
pub mod store;
pub mod tasks;
pub mod telemetry;

pub use args::ServiceArgs;
pub use call::{call, CallError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use serve::{decode_request, reply_err, reply_ok, Endpoints, Handled, ServiceSpec};
pub use shutdown::Shutdown;
