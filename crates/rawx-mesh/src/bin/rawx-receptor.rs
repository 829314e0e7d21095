//! A standalone rawx execution node: `rawx-receptor --config FILE [--check]`. The `rawx`
//! binary offers the same as `rawx receptor`.

use clap::Parser;

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

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
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
