//! The operator's side of posfee: the launcher that brings the system up, the status view,
//! and the pieces the test harness shares with them (starting nats-server with the project's
//! nats.conf, generating role credentials).

pub mod authz;
pub mod cli;
pub mod cmd;
pub mod creds;
pub mod identities;
pub mod layout;
pub mod natsd;
pub mod progress;
pub mod refdata;
pub mod rules_dir;
pub mod services;
pub mod streams;
