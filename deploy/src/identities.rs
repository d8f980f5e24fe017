//! The operator's side of kiosks' and clerks' keys: a new key is made here, issued through the
//! identity service (`posfee.identity.issue`), and its seed kept where the kiosk or clerk can
//! be given it.
//!
//! ```text
//! <data-dir>/creds/terminals/<terminal-id>.nk   a kiosk's seed, unless `--out` put it elsewhere
//! <data-dir>/creds/clerks/<tenant-id>.nk        a tenant clerk's seed, likewise
//! ```
//!
//! Which keys are issued and which revoked is the identity service's record, not these files:
//! the server asks that service about every connection, so a revocation takes effect at once
//! and nothing is re-read. Phones make their own keys and enrol them themselves
//! (`posfee_client::enrol`).

use anyhow::Context;
use posfee_client::call::call;
use posfee_client::creds::write_seed;
use posfee_schemas::identity::{
    Holder, IssueReply, IssueRequest, ListReply, ListRequest, RevokeReply, RevokeRequest,
};
use posfee_schemas::subjects::{self, Identity, IdentityOp};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a key request may take (a revocation waits for every server's connection list).
pub const KEYS_TIMEOUT_MS: u64 = 10_000;

/// What was issued: who, their public key, where the seed was written, and the key it replaced.
#[derive(Debug, Clone)]
pub struct Issued {
    pub who: Identity,
    pub public_key: String,
    pub seed_file: PathBuf,
    pub reply: IssueReply,
}

/// Where `posfee keys` keeps the seeds it made, under a data dir's `creds/` folder.
#[derive(Debug, Clone)]
pub struct Registry {
    creds: PathBuf,
}

impl Registry {
    pub fn new(creds: &Path) -> Registry {
        Registry {
            creds: creds.to_path_buf(),
        }
    }

    /// The seed file an identity connects with, where `posfee up` and `posfee keys` keep it:
    /// `<creds>/<role>.nk`, or a kiosk's or clerk's unless `--out` sent it elsewhere.
    pub fn seed_file(&self, who: &Identity) -> PathBuf {
        match who {
            Identity::Role(r) => crate::layout::role_seed_file(&self.creds, *r),
            Identity::Terminal(t) => self.creds.join("terminals").join(format!("{t}.nk")),
            Identity::Device(d) => self.creds.join("devices").join(format!("{d}.nk")),
            Identity::Clerk(t) => self.creds.join("clerks").join(format!("{t}.nk")),
        }
    }

    /// A new key for a kiosk or a clerk, issued through the identity service on `operator`'s
    /// connection. Refused if the holder has one, unless `replace`: the old key then stops
    /// working at once, its live connections closed. The seed is written beside its final
    /// name first and moved there only once the key is issued.
    pub async fn issue(
        &self,
        operator: &async_nats::Client,
        holder: Holder,
        seed_out: Option<&Path>,
        replace: bool,
    ) -> anyhow::Result<Issued> {
        let who = Identity::from(holder.clone());
        let seed_file = seed_out
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.seed_file(&who));
        let kp = nkeys::KeyPair::new_user();
        let seed = kp
            .seed()
            .map_err(|e| anyhow::anyhow!("encoding seed: {e}"))?;
        let pending = pending_file(&seed_file);
        let _ = std::fs::remove_file(&pending);
        write_seed(&pending, &seed)?;
        let req = IssueRequest {
            holder,
            nkey: kp.public_key(),
            replace,
        };
        let reply: Result<IssueReply, _> = call(
            operator,
            subjects::identity(IdentityOp::Issue),
            &req,
            Some(Duration::from_millis(KEYS_TIMEOUT_MS)),
        )
        .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&pending);
                return Err(anyhow::anyhow!("issuing a key for {who}: {e}"));
            }
        };
        std::fs::rename(&pending, &seed_file)
            .with_context(|| format!("moving the seed to {}", seed_file.display()))?;
        Ok(Issued {
            who,
            public_key: kp.public_key(),
            seed_file,
            reply,
        })
    }
}

fn pending_file(seed_file: &Path) -> PathBuf {
    let mut p = seed_file.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// Revokes a holder's key: refused from now on, its live connections closed.
pub async fn revoke(operator: &async_nats::Client, holder: Holder) -> anyhow::Result<RevokeReply> {
    call(
        operator,
        subjects::identity(IdentityOp::Revoke),
        &RevokeRequest { holder },
        Some(Duration::from_millis(KEYS_TIMEOUT_MS)),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The issued keys: kiosks and clerks, and up to `devices` phones with the phones' counts.
pub async fn list(operator: &async_nats::Client, devices: u32) -> anyhow::Result<ListReply> {
    call(
        operator,
        subjects::identity(IdentityOp::List),
        &ListRequest { devices },
        Some(Duration::from_millis(KEYS_TIMEOUT_MS)),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}
