//! The operator's work behind each `posfee` command: bringing the system up (the launcher),
//! status, the event view, importing accounts and readings, kiosks' and phones' keys, rule
//! files, reconciliation and sample data. Each module owns one command's logic and its
//! arguments; `posfee`'s `src/` only dispatches.

pub mod console;
pub mod day;
pub mod erase;
pub mod events;
pub mod gen;
pub mod hosts;
pub mod import;
pub mod keys;
pub mod metrics;
pub mod progress;
pub mod reconcile;
pub mod refdata;
pub mod refund;
pub mod report;
pub mod rules;
pub mod status;
pub mod up;
pub mod web;
