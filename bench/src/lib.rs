//! Benchmarks that print numbers: whole pay flows against a real system (`posfee bench
//! flows`) and the query service under load (`posfee bench query`).

pub mod flows;
pub mod identities;
pub mod query;
pub mod system;
