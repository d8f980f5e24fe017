//! `posfee bench stamps`: what a new key's stamp costs one core of this machine, to choose
//! `POSFEE_STAMP_BITS` and to know what the adaptive difficulty asks of a phone.

use posfee_schemas::identity::find_stamp;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchStampsArgs {
    /// Leading zero bits each stamp must have (16 is what connecting asks).
    #[arg(long, default_value_t = posfee_schemas::identity::CONNECT_STAMP_BITS)]
    pub bits: u32,
    /// New keys to stamp, one after another on one core.
    #[arg(long, default_value_t = 100)]
    pub keys: usize,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub bits: u32,
    pub keys: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// SHA-256 tries per stamp, on average (2^bits expected).
    pub mean_hashes: f64,
    pub hashes_per_sec: f64,
}

pub fn run(args: BenchStampsArgs, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(args.keys > 0, "--keys: at least 1");
    let mut took = Vec::with_capacity(args.keys);
    let mut hashes = 0u64;
    for _ in 0..args.keys {
        let key = posfee_client::enrol::new_key()?;
        let nkey = nkeys::KeyPair::from_seed(&key)?.public_key();
        let started = Instant::now();
        let stamp = find_stamp(&nkey, args.bits, 0);
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        hashes += stamp + 1;
    }
    let total_ms: f64 = took.iter().sum();
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    let r = Results {
        bits: args.bits,
        keys: args.keys,
        p50_ms: at(0.5),
        p90_ms: at(0.9),
        max_ms: at(1.0),
        mean_ms: total_ms / args.keys as f64,
        mean_hashes: hashes as f64 / args.keys as f64,
        hashes_per_sec: hashes as f64 / (total_ms / 1000.0),
    };
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&r)?);
    }
    Ok(())
}
