//! A standalone rawx execution node: `rawx-receptor --config FILE [--check]`. The `rawx`
//! binary offers the same as `rawx receptor`.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "rawx-receptor",
    version,
    about = "Receptor-compatible execution node"
)]
struct Cli {
    #[command(flatten)]
    args: rawx_mesh::ReceptorArgs,
}

fn main() -> std::process::ExitCode {
    // Re-executed as a unit's supervisor: that and nothing else.
    if let Some(code) = rawx_mesh::unit_runner_main() {
        return code;
    }
    node_main();
    std::process::ExitCode::SUCCESS
}

#[tokio::main]
async fn node_main() {
    let cli = Cli::parse();
    init_logging(&cli.args);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
    });
    if let Err(e) = rawx_mesh::run(cli.args, rx).await {
        eprintln!("rawx-receptor: {e:#}");
        std::process::exit(1);
    }
}

/// `RUST_LOG` wins; otherwise the config's `log-level`, but never quieter than warnings, so
/// the start-up report of unimplemented sections is always seen.
fn init_logging(args: &rawx_mesh::ReceptorArgs) {
    let level = rawx_mesh::Config::load(&args.config)
        .ok()
        .and_then(|c| c.log_level)
        .map(|l| match l.as_str() {
            "debug" => "debug",
            "info" => "info",
            _ => "warn",
        })
        .unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
