//! `posfee keys`: issue, list and revoke the kiosks' and phones' bus credentials.
//!
//! Each change re-renders the server's users, has nats-server check the result, and reloads
//! the running server: a revoked kiosk or phone is disconnected at once, everyone else keeps
//! their connection.

use anyhow::Context;
use posfee_deploy::identities::{Issued, Registry};
use posfee_deploy::layout::DataDir;
use posfee_deploy::natsd;
use posfee_schemas::ids::{DeviceId, TenantId, TerminalId};
use posfee_schemas::subjects::Identity;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[arg(long, default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// The base server configuration (default: the repository's nats.conf).
    #[arg(long, env = "POSFEE_NATS_CONF", global = true)]
    pub nats_conf: Option<PathBuf>,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Issue a kiosk's key: it may then connect as that terminal and nothing else.
    Terminal {
        /// The terminal id: letters, digits, - and _ (e.g. kiosk-07).
        id: String,
        /// Write the seed here (to carry to the kiosk) instead of <data-dir>/creds/terminals/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue a new key for a terminal that has one; the old key stops working.
        #[arg(long)]
        replace: bool,
    },
    /// Issue a phone's key; its device id is printed and is the key's fingerprint.
    Device {
        /// Write the seed here instead of <data-dir>/creds/devices/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Issue a tenant's billing clerk's key: it may refund that tenant's payments, nothing else.
    Clerk {
        /// The tenant id, as its rule file names it (e.g. city-water).
        tenant: String,
        /// Write the seed here instead of <data-dir>/creds/clerks/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue a new key for a clerk that has one; the old key stops working.
        #[arg(long)]
        replace: bool,
    },
    /// Enrol a phone that made its own key: only the public key (U…) is given.
    Enrol {
        /// The phone's public nkey: 56 characters starting with U.
        public_key: String,
    },
    /// Take a kiosk, a phone or a clerk off the bus.
    #[command(subcommand)]
    Revoke(Revoke),
    /// The registered kiosks and phones.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Revoke {
    Terminal {
        /// The terminal id, as `keys list` shows it.
        id: String,
    },
    Device {
        /// The device id (ph and 8 symbols), as `keys list` shows it.
        id: String,
    },
    Clerk {
        /// The tenant id whose clerk is revoked.
        tenant: String,
    },
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    data.require_set_up()?;
    let registry = Registry::new(&data.creds());
    let _lock = match &args.command {
        KeysCommand::List { .. } => None,
        _ => Some(registry.lock()?),
    };
    match &args.command {
        KeysCommand::Terminal { id, out, replace } => {
            let id = TerminalId::parse(id.as_str()).context("terminal id")?;
            let issued = registry.add_terminal(&id, out.as_deref(), *replace)?;
            print_issued(&issued);
        }
        KeysCommand::Device { out } => {
            let issued = registry.add_device(out.as_deref())?;
            print_issued(&issued);
        }
        KeysCommand::Enrol { public_key } => {
            let id = registry.enrol_device(public_key.trim())?;
            println!("device {id} enrolled");
        }
        KeysCommand::Revoke(Revoke::Terminal { id }) => {
            let id = TerminalId::parse(id.as_str()).context("terminal id")?;
            registry.revoke_terminal(&id)?;
            println!("terminal {id} revoked");
        }
        KeysCommand::Clerk {
            tenant,
            out,
            replace,
        } => {
            let tenant = TenantId::parse(tenant.as_str()).context("tenant id")?;
            let issued = registry.add_clerk(&tenant, out.as_deref(), *replace)?;
            print_issued(&issued);
        }
        KeysCommand::Revoke(Revoke::Clerk { tenant }) => {
            let tenant = TenantId::parse(tenant.as_str()).context("tenant id")?;
            registry.revoke_clerk(&tenant)?;
            println!("the clerk of {tenant} revoked");
        }
        KeysCommand::Revoke(Revoke::Device { id }) => {
            let id = DeviceId::parse(id.as_str()).context("device id")?;
            registry.revoke_device(&id)?;
            println!("device {id} revoked");
        }
        KeysCommand::List { json } => {
            if !*json {
                println!("{:<9} {:<24} PUBLIC KEY", "KIND", "ID");
            }
            for (who, key) in registry.all()? {
                let (kind, id) = match &who {
                    Identity::Terminal(t) => ("terminal", t.to_string()),
                    Identity::Device(d) => ("device", d.to_string()),
                    Identity::Role(r) => ("role", r.to_string()),
                    Identity::Clerk(t) => ("clerk", t.to_string()),
                };
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"kind": kind, "id": id, "public_key": key})
                    );
                } else {
                    println!("{kind:<9} {id:<24} {key}");
                }
            }
            return Ok(());
        }
    }
    apply(&data, args.nats_conf.clone())
}

fn print_issued(issued: &Issued) {
    println!("{} issued", issued.who);
    println!("  public key  {}", issued.public_key);
    println!(
        "  seed        {} (keep it secret)",
        issued.seed_file.display()
    );
}

/// Re-renders the server's users, checks them, and reloads a running server.
fn apply(data: &DataDir, base: Option<PathBuf>) -> anyhow::Result<()> {
    let base = base.unwrap_or_else(natsd::default_conf);
    match natsd::apply_users(data, &base)? {
        Some(pid) => println!("nats-server {pid} reloaded its users"),
        None => println!(
            "no server running on {}; the next `posfee up` uses these users",
            data.root().display()
        ),
    }
    Ok(())
}
