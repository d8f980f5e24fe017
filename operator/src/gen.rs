//! `posfee gen samples`: sample accounts and a year of readings, for demos and benchmarks.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// How many accounts (spread over the four example tenants).
    #[arg(long, default_value_t = 300)]
    pub accounts: usize,
    /// Same seed, same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for accounts.csv and readings.csv.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut accounts =
        std::io::BufWriter::new(std::fs::File::create(args.out.join("accounts.csv"))?);
    let mut readings =
        std::io::BufWriter::new(std::fs::File::create(args.out.join("readings.csv"))?);
    let (a, r) =
        crate::refdata::generate::write(args.accounts, args.seed, &mut accounts, &mut readings)?;
    println!(
        "wrote {a} accounts and {r} readings to {}",
        args.out.display()
    );
    Ok(())
}
