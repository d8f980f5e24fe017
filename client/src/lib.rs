//! What every posfee process needs to talk on the bus, services, kiosks and phones alike:
//! connecting as an identity with its own inbox prefix, typed calls with error kinds callers
//! can match, answering a raw request, verifying signatures against the key directory, how a
//! request ended for a person or a script, what kiosk and phone draw alike, an injectable
//! clock and shutdown on a signal. Nothing here stores anything.

pub mod bus;
pub mod call;
pub mod cli;
pub mod clock;
pub mod creds;
pub mod ending;
pub mod enrol;
pub mod keydir;
pub mod peer;
pub mod reply;
pub mod screen;
pub mod sealed;
pub mod shutdown;
pub mod trace;
pub mod words;

pub use call::{call, call_fresh, call_resending, CallError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use shutdown::Shutdown;
