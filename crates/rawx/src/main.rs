//! The `rawx` binary: parses the command line, then wires the roles together — `serve` runs
//! every role of this node in one process under one supervisor; `receptor` runs a standalone
//! execution node; `manage` does one-off administration, like `awx-manage`.
//!
//! Only this crate uses `anyhow` and knows about processes, files and the environment; the
//! library crates take what they need as values.

mod manage;
mod remote;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rawx",
    version,
    about = "An automation controller for Ansible, compatible with AWX's API"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "RAWX_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every role (API and websockets, task manager and ingester, execution node) in one
    /// supervised process.
    Serve(serve::ServeArgs),
    /// Run only the web role (API, websockets); with others on one PostgreSQL and Redis.
    Web(serve::ServeArgs),
    /// Run only the task role (task manager, dispatcher, ingester, its execution node).
    Task(serve::ServeArgs),
    /// One-off administration (like awx-manage).
    Manage(manage::ManageArgs),
    /// Run a Receptor-compatible execution node from Receptor's YAML config.
    Receptor(rawx_mesh::ReceptorArgs),
}

/// Logs to stderr (text or JSON) filtered by `RAWX_LOG` (directives per crate, or per
/// component: `info,[component{component=task}]=debug`), plus the log shipper's layer, which
/// filters itself by the logging settings.
fn init_logging(format: &str, shipper: &rawx_logship::Shipper) {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAWX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        // AWX's analytics loggers (one line per job event) are for the log shipper, not stderr.
        .add_directive("awx.analytics=off".parse().expect("a valid directive"));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let stderr = if format == "json" {
        stderr.json().boxed()
    } else {
        stderr.boxed()
    };
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter))
        .with(shipper.layer())
        .init();
}

/// Installed or linked as `receptor`, the binary is the node, so a systemd unit or container
/// command written for Receptor (`receptor --config FILE`) keeps working unchanged.
fn argv() -> Vec<std::ffi::OsString> {
    let mut args: Vec<_> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_os_string());
    if invoked_as.as_deref() == Some(std::ffi::OsStr::new("receptor")) {
        args.insert(1, "receptor".into());
    }
    args
}

fn main() -> std::process::ExitCode {
    // Re-executed as a work unit's supervisor (`rawx_mesh`'s unit runner): that and nothing else.
    if let Some(code) = rawx_mesh::unit_runner_main() {
        return code;
    }
    let cli = Cli::parse_from(argv());
    // ansible-runner finds ansible-playbook (and the inventory script its python) on PATH:
    // put a configured runner's directory first, before any thread exists.
    if let Some(dir) = serve::ansible_runner().and_then(|p| p.parent().map(|d| d.to_path_buf())) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            std::env::set_var("PATH", joined);
        }
    }
    let shipper = rawx_logship::Shipper::new();
    init_logging(&cli.log_format, &shipper);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rawx: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args, shipper, serve::Roles::ALL).await,
            Command::Web(args) => serve::run(args, shipper, serve::Roles::WEB).await,
            Command::Task(args) => serve::run(args, shipper, serve::Roles::TASK).await,
            Command::Manage(args) => manage::run(args).await,
            Command::Receptor(args) => {
                let (tx, rx) = tokio::sync::watch::channel(false);
                // Containers stop with SIGTERM, terminals with SIGINT: both end the node.
                tokio::spawn(async move {
                    let term = async {
                        match tokio::signal::unix::signal(
                            tokio::signal::unix::SignalKind::terminate(),
                        ) {
                            Ok(mut s) => {
                                s.recv().await;
                            }
                            Err(_) => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term => {}
                    }
                    let _ = tx.send(true);
                });
                rawx_mesh::run(args, rx).await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rawx: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
