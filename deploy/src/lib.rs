//! Deploying posfee: where a running system keeps everything (the data dir), the installed
//! files it runs with (nats.conf, the tenants' rules, nats-server), starting and reloading
//! nats-server, who may do what on the bus, the kiosks' and phones' keys, the streams and
//! buckets, and the services the launcher runs. The test harness deploys the same way.

pub use posfee_authz as authz;
pub mod cluster;
pub mod creds;
pub mod identities;
pub mod install;
pub mod layout;
pub mod natsd;
pub mod rules_dir;
pub mod services;
pub mod streams;
