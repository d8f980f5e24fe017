//! Benchmarks that print numbers: whole pay flows against a real system (`posfee bench
//! flows`), the query service under load (`posfee bench query`), a city's phones on the
//! identity service (`posfee bench identities`) and a new key's stamp (`posfee bench stamps`).

pub mod flows;
pub mod identities;
pub mod query;
pub mod stamps;
pub mod system;
