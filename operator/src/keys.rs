//! `posfee keys`: issue kiosks' and clerks' keys, revoke any key, list them.
//!
//! The identity service of the running system keeps the record (`posfee.identity.*`); the
//! server asks it about every kiosk, phone and clerk that connects, so an issued key works and
//! a revoked one stops at once (its live connections closed), with no server reload. Phones
//! enrol their own keys.

use anyhow::Context;
use chrono::SecondsFormat;
use posfee_deploy::identities::{self, Issued, Registry};
use posfee_deploy::layout::DataDir;
use posfee_schemas::identity::{Holder, IssuedKey};
use posfee_schemas::ids::{DeviceId, TenantId, TerminalId};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[arg(long, default_value = "./data", global = true)]
    pub data_dir: PathBuf,
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
        /// Issue a new key for a terminal that has one; the old key stops working at once.
        #[arg(long)]
        replace: bool,
    },
    /// Issue a tenant's billing clerk's key: it may refund that tenant's payments, nothing else.
    Clerk {
        /// The tenant id, as its rule file names it (e.g. city-water).
        tenant: String,
        /// Write the seed here instead of <data-dir>/creds/clerks/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue a new key for a clerk that has one; the old key stops working at once.
        #[arg(long)]
        replace: bool,
    },
    /// Take a kiosk, a phone or a clerk off the bus: refused from now on, connections closed.
    #[command(subcommand)]
    Revoke(Revoke),
    /// Put a new master key first for payers' data keys (creds/authorities/paygate.master):
    /// paygate wraps every data key again under it within seconds, without stopping, and logs
    /// when the old ones may be removed from the file.
    RotatePayerMaster,
    /// The issued kiosks' and clerks' keys, and how many phones are enrolled.
    List {
        /// Also list up to this many phones.
        #[arg(long, default_value_t = 0)]
        devices: u32,
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
        /// The device id (ph and 8 symbols), as the phone shows it.
        id: String,
    },
    Clerk {
        /// The tenant id whose clerk is revoked.
        tenant: String,
    },
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    data.require_set_up()?;
    if let KeysCommand::RotatePayerMaster = args.command {
        let file =
            posfee_client::creds::master_keys_file(&posfee_deploy::layout::authority_seed_file(
                &data.creds(),
                posfee_schemas::subjects::Role::Paygate,
            ));
        let id = posfee_client::creds::rotate_master_keys(&file)?;
        println!(
            "master key {id} is first in {}: paygate wraps every payer's data key under it within {} s; remove the older lines once its log says they are no longer needed",
            file.display(),
            posfee_client::creds::MASTER_RELOAD_SECS
        );
        return Ok(());
    }
    let operator = crate::up::connect_operator(&data).await?;
    let registry = Registry::new(&data.creds());
    match args.command {
        KeysCommand::Terminal { id, out, replace } => {
            let id = TerminalId::parse(id.as_str()).context("terminal id")?;
            let issued = registry
                .issue(&operator, Holder::Terminal(id), out.as_deref(), replace)
                .await?;
            print_issued(&issued);
            // The kiosk believes the ledger's receipts through the system's root: it goes
            // with the seed (its config's root_key, or --root-key).
            let root = data.trust_root()?;
            println!("  root key    {root} (the kiosk's root_key: it prints only receipts signed under it)");
        }
        KeysCommand::Clerk {
            tenant,
            out,
            replace,
        } => {
            let tenant = TenantId::parse(tenant.as_str()).context("tenant id")?;
            let issued = registry
                .issue(&operator, Holder::Clerk(tenant), out.as_deref(), replace)
                .await?;
            print_issued(&issued);
        }
        // Rotated above: it needs the master keys file, not the bus.
        KeysCommand::RotatePayerMaster => {}
        KeysCommand::Revoke(r) => {
            let holder = match r {
                Revoke::Terminal { id } => {
                    Holder::Terminal(TerminalId::parse(id.as_str()).context("terminal id")?)
                }
                Revoke::Device { id } => {
                    Holder::Device(DeviceId::parse(id.as_str()).context("device id")?)
                }
                Revoke::Clerk { tenant } => {
                    Holder::Clerk(TenantId::parse(tenant.as_str()).context("tenant id")?)
                }
            };
            let r = identities::revoke(&operator, holder).await?;
            println!(
                "{} revoked; {} live connection(s) closed",
                r.key.holder, r.disconnected
            );
        }
        KeysCommand::List { devices, json } => {
            let list = identities::list(&operator, devices).await?;
            if json {
                for k in &list.keys {
                    println!("{}", key_json(k));
                }
                println!(
                    "{}",
                    serde_json::json!({"devices_enrolled": list.devices_enrolled, "devices_revoked": list.devices_revoked})
                );
            } else {
                // Times in the operator's zone (+08:00), to the minute; the full key and
                // exact times are in --json.
                println!(
                    "{:<9} {:<24} {:<8} {:<16} {:<16} PUBLIC KEY",
                    "KIND", "ID", "STATE", "ISSUED (+08:00)", "REVOKED"
                );
                for k in &list.keys {
                    let (kind, id) = kind_and_id(&k.holder);
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    let revoked = k.revoked_at.map(minute).unwrap_or_default();
                    let key: String = k.nkey.chars().take(12).collect();
                    println!(
                        "{kind:<9} {id:<24} {state:<8} {:<16} {revoked:<16} {key}…",
                        minute(k.issued_at)
                    );
                }
                println!(
                    "phones: {} enrolled, {} revoked",
                    list.devices_enrolled, list.devices_revoked
                );
            }
        }
    }
    Ok(())
}

fn kind_and_id(h: &Holder) -> (&'static str, String) {
    match h {
        Holder::Terminal(t) => ("terminal", t.to_string()),
        Holder::Device(d) => ("device", d.to_string()),
        Holder::Clerk(t) => ("clerk", t.to_string()),
    }
}

/// A time as the operator's table shows it: `2026-12-06 17:20`, in +08:00.
fn minute(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&posfee_client::screen::LOCAL_TZ)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn key_json(k: &IssuedKey) -> serde_json::Value {
    let (kind, id) = kind_and_id(&k.holder);
    serde_json::json!({
        "kind": kind,
        "id": id,
        "public_key": k.nkey,
        // As every other time in posfee's JSON: RFC 3339 in UTC, with `Z`.
        "issued_at": k.issued_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "revoked_at": k.revoked_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    })
}

fn print_issued(issued: &Issued) {
    println!("{} issued", issued.who);
    println!("  public key  {}", issued.public_key);
    println!(
        "  seed        {} (keep it secret)",
        issued.seed_file.display()
    );
    if let Some(old) = &issued.reply.replaced {
        println!(
            "  replaced    {} (revoked; {} live connection(s) closed)",
            old.key.nkey, old.disconnected
        );
    }
}
