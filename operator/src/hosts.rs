//! Setting up a deployment on real hosts (README, "Running on more than one machine"): the
//! credentials and the server's accounts rendered once, and the streams created once, on
//! the cluster, with three copies each.

use anyhow::Context;
use posfee_client::bus;
use posfee_deploy::creds::RoleCreds;
use posfee_deploy::layout::DataDir;
use posfee_schemas::subjects::Role;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfigArgs {
    /// Where to write `creds/` (a seed per role, 0600) and `nats/auth.conf` and `nats/nats.conf`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write `creds/admin.nk` and let it in, to create the streams once; delete it after.
    #[arg(long)]
    pub with_admin: bool,
    /// nats.conf to copy beside auth.conf (default: the repository's).
    #[arg(long)]
    pub nats_conf: Option<PathBuf>,
}

/// Renders the credentials and the server's accounts into `--out`, keeping seeds already
/// there (so it can be run again to add or drop the admin key).
pub fn server_config(args: ServerConfigArgs) -> anyhow::Result<()> {
    let out = DataDir::new(&args.out);
    let creds = RoleCreds::for_hosts(&out.creds(), args.with_admin)?;
    if !args.with_admin {
        let admin = out.creds().join(format!("{}.nk", Role::Admin.as_str()));
        if admin.exists() {
            std::fs::remove_file(&admin)
                .with_context(|| format!("removing {}", admin.display()))?;
            println!("removed {} (no admin user any more)", admin.display());
        }
    }
    let base = args
        .nats_conf
        .unwrap_or_else(posfee_deploy::natsd::default_conf);
    let conf = posfee_deploy::natsd::write_config(&out, &base, &creds)?;
    println!("wrote {} and {}", out.auth_conf().display(), conf.display());
    println!(
        "wrote the role seeds in {} (copy each host only the ones it runs)",
        out.creds().display()
    );
    if args.with_admin {
        println!("the admin seed is {}: create the streams with `posfee gen streams`, then run this again without --with-admin", out.role_seed(Role::Admin).display());
    }
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct StreamsArgs {
    /// The cluster's URLs, comma-separated.
    #[arg(long, env = "POSFEE_NATS_URL")]
    pub nats_url: String,
    /// The admin seed `posfee gen server-config --with-admin` wrote.
    #[arg(long)]
    pub admin_seed: PathBuf,
    /// Copies of each stream and bucket (3 survive losing any one host).
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
}

/// Creates the events stream and the buckets on the cluster, or leaves them as they are.
pub async fn streams(args: StreamsArgs) -> anyhow::Result<()> {
    let seed = posfee_client::creds::read_seed(&args.admin_seed)?;
    let admin = bus::connect(
        &args.nats_url,
        Role::Admin,
        Some(seed),
        "posfee-gen-streams",
    )
    .await?;
    posfee_deploy::streams::ensure(&admin, args.replicas).await?;
    // The certificates beside the admin seed (`DIR/creds/authorities/`), into the key directory.
    let creds = args
        .admin_seed
        .parent()
        .unwrap_or(std::path::Path::new("."));
    posfee_deploy::streams::publish_authorities(&admin, creds).await?;
    println!(
        "the events stream and buckets are there, {} copies each",
        args.replicas
    );
    Ok(())
}
