//! One file per operator command.

pub mod bench_flows;
pub mod bench_query;
pub mod events;
pub mod gen;
pub mod import;
pub mod keys;
pub mod reconcile;
pub mod rules;
pub mod status;
pub mod up;
