//! The services `posfee up` runs, each as its own process.

use posfee_schemas::subjects::{Role, ServiceName};

/// One service process. Its binary is named like its micro service and sits beside `posfee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceProc {
    pub name: ServiceName,
    pub role: Role,
}

impl ServiceProc {
    /// Folder under the data dir and log file name.
    pub fn dir(self) -> &'static str {
        self.role.as_str()
    }
}

/// In start order: the identity service first (no kiosk or phone connects without it), the ledger before paygate (which settles through it), the fee-engine before
/// the query service (which asks it for live amounts).
pub const SERVICES: &[ServiceProc] = &[
    ServiceProc {
        name: ServiceName::Identity,
        role: Role::Identity,
    },
    ServiceProc {
        name: ServiceName::Ledger,
        role: Role::Ledger,
    },
    ServiceProc {
        name: ServiceName::Paygate,
        role: Role::Paygate,
    },
    ServiceProc {
        name: ServiceName::FeeEngine,
        role: Role::FeeEngine,
    },
    ServiceProc {
        name: ServiceName::Query,
        role: Role::Query,
    },
];
