//! `posfee rules check FILE…` and `posfee rules quote --rules PATH --input FILE`: for tenants
//! writing rule files, no system running.

use anyhow::{bail, Context};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RulesCommand {
    /// Check rule files (or folders of them); every mistake with its file, line and reason.
    Check {
        /// Rule files (`.toml`) or folders of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Price an input file (account, readings, arrears, date) against rule files, offline.
    Quote {
        /// A rule file or a folder of them.
        #[arg(long, required = true)]
        rules: Vec<PathBuf>,
        /// The input file (TOML; see services/fee-engine/rules/preview/ for examples).
        #[arg(long)]
        input: PathBuf,
        /// Print the quote as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Prints each file's verdict and every mistake in it, one per line as `file:line:col: reason`.
fn check(files: &[PathBuf]) -> anyhow::Result<()> {
    let (mut files_bad, mut mistakes) = (0, 0);
    for check in posfee_tariff::check_paths(files) {
        match check.result {
            Ok(t) => println!(
                "ok    {} (tenant {}, {} rules)",
                check.file,
                t.id,
                t.rules.len()
            ),
            Err(errors) => {
                files_bad += 1;
                mistakes += errors.len();
                for e in errors {
                    println!("error {e}");
                }
            }
        }
    }
    if files_bad > 0 {
        bail!("{files_bad} rule file(s) refused ({mistakes} mistake(s) above); fix them and run `posfee rules check` again");
    }
    Ok(())
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<()> {
    match cmd {
        RulesCommand::Check { files } => check(&files),
        RulesCommand::Quote { rules, input, json } => {
            let set = posfee_tariff::RuleSet::load_paths(&rules).map_err(|errors| {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                anyhow::anyhow!("rule files refused:\n  {}", list.join("\n  "))
            })?;
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let quote = posfee_tariff::preview(&set, &input.display().to_string(), &text)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&quote)?);
            } else {
                print!("{}", posfee_tariff::render_quote(&quote));
            }
            Ok(())
        }
    }
}
