//! `posfee`, the operator's command line: the command tree and its dispatch. Each command's
//! work lives in a library: `posfee-operator` (up, status, events, import, keys, rules,
//! reconcile, samples), `posfee-deploy` (the data dir, nats-server, who may do what, kiosks'
//! and phones' keys) and `posfee-bench`.

pub mod cli;
