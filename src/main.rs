//! `posfee`, the operator's command line (the commands are in `posfee::cli`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    posfee_runtime::telemetry::init("posfee");
    posfee::cli::run(posfee::cli::Cli::parse_shared()).await
}
