//! The services `posfee up` runs, each as its own process.

use posfee_schemas::subjects::{Role, ServiceName};

/// One service process. Its binary is named like its micro service and sits beside `posfee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceProc {
    pub name: ServiceName,
    pub role: Role,
    /// Whether several instances may serve side by side: everything they must agree on is
    /// in JetStream, and their own stores are views they rebuild from it: the identity
    /// service, the ledger and paygate (their journals), the fee-engine (its bills' events)
    /// and the query service. Every service is, today.
    pub replicable: bool,
}

impl ServiceProc {
    /// Folder under the data dir and log file name.
    pub fn dir(self) -> &'static str {
        self.role.as_str()
    }

    /// Folder and log name of instance `i` (1-based): the first keeps the plain name.
    pub fn instance_dir(self, i: usize) -> String {
        match i {
            0 | 1 => self.dir().to_string(),
            i => format!("{}-{i}", self.dir()),
        }
    }

    /// How many instances run when `posfee up --instances n` asks for `n`: services whose
    /// state is shared through JetStream run `n`; the others keep one (see README,
    /// "Running on more than one machine").
    pub fn instances(self, n: usize) -> usize {
        if self.replicable {
            n.max(1)
        } else {
            1
        }
    }
}

/// In start order: the identity service first (no kiosk or phone connects without it), the ledger before paygate (which settles through it), the fee-engine before
/// the query service (which asks it for live amounts).
pub const SERVICES: &[ServiceProc] = &[
    ServiceProc {
        name: ServiceName::Identity,
        replicable: true,
        role: Role::Identity,
    },
    ServiceProc {
        name: ServiceName::Ledger,
        replicable: true,
        role: Role::Ledger,
    },
    ServiceProc {
        name: ServiceName::Paygate,
        replicable: true,
        role: Role::Paygate,
    },
    ServiceProc {
        name: ServiceName::FeeEngine,
        replicable: true,
        role: Role::FeeEngine,
    },
    ServiceProc {
        name: ServiceName::Query,
        replicable: true,
        role: Role::Query,
    },
];
