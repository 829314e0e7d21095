//! `rawx receptor`: the command-line entry of a standalone node.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::{parse_go_duration, Config};
use crate::node::Node;
use crate::work::WorkOptions;

/// Runs a Receptor-compatible execution node from Receptor's YAML config.
#[derive(Debug, Clone, clap::Args)]
pub struct ReceptorArgs {
    /// Receptor's YAML config (AWX's `receptor.conf` loads as is).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Validate the config and the files it names, print what would start, and exit.
    #[arg(long)]
    pub check: bool,
    /// Delete finished work units nobody released after this long (Go duration; 0 never).
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = parse_duration_arg)]
    pub reap_after: Duration,
    /// On cancel, how long to wait after SIGINT before SIGKILLing the unit's processes.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    pub cancel_grace: Duration,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).ok_or_else(|| format!("`{s}` is not a duration such as 90s, 10m or 168h"))
}

impl ReceptorArgs {
    pub fn work_options(&self) -> WorkOptions {
        WorkOptions {
            reap_after: (!self.reap_after.is_zero()).then_some(self.reap_after),
            cancel_grace: self.cancel_grace,
            unit_runner: None,
        }
        .with_own_runner()
    }
}

/// Runs the node until `shutdown` turns true. With `--check`, validates and prints the plan
/// instead. Running units are left running at shutdown: a restarted node adopts them.
pub async fn run(args: ReceptorArgs, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    config.check_files()?;
    for cs in &config.control_services {
        crate::control::tls_acceptor(cs, &config)?;
    }
    crate::node::load_keys(&config)?;
    // Checked before anything starts, so `--check` reports a bad firewall rule too.
    let mesh_options = crate::mesh::options(&config, Vec::new())?;
    if args.check {
        println!("{} is valid.", args.config.display());
        for line in plan(&config) {
            println!("{line}");
        }
        let missing = config.not_implemented();
        if !missing.is_empty() {
            println!("Parsed but not implemented by rawx yet:");
            for line in missing {
                println!("  {line}");
            }
        }
        return Ok(());
    }
    for line in plan(&config) {
        tracing::info!("{}", line.trim());
    }
    for line in config.not_implemented() {
        tracing::warn!("not implemented yet: {line}");
    }
    let node =
        Node::start(&config, args.work_options()).context("cannot open the work unit store")?;
    let mut mesh_options = mesh_options;
    mesh_options.work_commands = node.work_commands();
    let mesh = crate::mesh::start(&config, mesh_options).await?;
    node.attach_mesh(mesh.clone());
    let mesh_stopped = mesh.stopped();
    let mut servers = tokio::task::JoinSet::new();
    for cs in &config.control_services {
        for listener in crate::control::bind(cs, &config).await? {
            tracing::info!(node = %node.id(), "control service {} listening on {}", cs.service, listener.describe());
            servers.spawn(crate::control::serve(
                node.clone(),
                listener,
                shutdown.clone(),
            ));
        }
    }
    for cs in &config.control_services {
        let require_node_id = cs
            .tls
            .as_ref()
            .and_then(|name| config.tls_servers.iter().find(|t| &t.name == name))
            .is_some_and(|t| t.require_client_cert);
        let tls = match &cs.tls {
            None => None,
            Some(name) => {
                // Config validation guarantees the name exists.
                let ts = config
                    .tls_servers
                    .iter()
                    .find(|t| &t.name == name)
                    .context("control-service tls")?;
                Some((*crate::tls::server_config(ts)?).clone())
            }
        };
        let listener = mesh
            .listen_stream(&cs.service, tls)
            .map_err(|e| anyhow::anyhow!("control service {} on the mesh: {e}", cs.service))?;
        servers.spawn(crate::control::serve_mesh(
            node.clone(),
            listener,
            require_node_id,
            shutdown.clone(),
        ));
    }
    if servers.is_empty() {
        tracing::warn!("no control service listens: only in-process callers can submit work");
    }
    while !*shutdown.borrow_and_update() {
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() { break },
            // The mesh stops on its own when it finds another node with our ID.
            _ = mesh_stopped.cancelled() => break,
        }
    }
    if mesh_stopped.is_cancelled() && !*shutdown.borrow() {
        servers.abort_all();
        anyhow::bail!(
            "another node with ID {} is on the mesh; stopping",
            node.id()
        );
    }
    mesh.shutdown();
    while servers.join_next().await.is_some() {}
    tracing::info!(node = %node.id(), "node stopped; running work units keep running");
    Ok(())
}

/// What the node starts, one line each.
pub fn plan(config: &Config) -> Vec<String> {
    let mut out = vec![
        format!("Node ID: {}", config.node.id),
        format!(
            "Work unit dir: {}",
            config.node.datadir.join(&config.node.id).display()
        ),
    ];
    if let Some(level) = &config.log_level {
        out.push(format!("Log level: {level}"));
    }
    for cs in &config.control_services {
        if let Some(f) = &cs.filename {
            out.push(format!(
                "Control service {}: unix socket {} (mode {:04o})",
                cs.service,
                f.display(),
                cs.permissions
            ));
        }
        match (&cs.tcp_listen, &cs.tcp_tls) {
            (Some(addr), None) => out.push(format!(
                "Control service {}: plain TCP on {addr} (no TLS)",
                cs.service
            )),
            (Some(addr), Some(tls)) => out.push(format!(
                "Control service {}: TLS on {addr} (tls-server {tls})",
                cs.service
            )),
            _ => {}
        }
    }
    for (i, rule) in config.node.firewall_rules.iter().enumerate() {
        let fields: Vec<String> = rule.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!(
            "Node firewallrules {i}: {} (on every message this node handles)",
            fields.join(" ")
        ));
    }
    for b in &config.backends {
        let mut line = format!("Mesh {} {} (cost {})", b.kind, b.endpoint, b.cost);
        if let Some(tls) = &b.tls {
            line.push_str(&format!(", TLS `{tls}`"));
        }
        if !b.node_cost.is_empty() {
            line.push_str(&format!(", nodecost {:?}", b.node_cost));
        }
        if let Some(peers) = &b.allowed_peers {
            line.push_str(&format!(", only from {}", peers.join(", ")));
        }
        out.push(line);
    }
    for wc in &config.work_commands {
        out.push(format!(
            "Work type {}: runs `{}{}`{}{}",
            wc.work_type,
            wc.command,
            wc.params
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default(),
            if wc.allow_runtime_params {
                ", runtime params allowed"
            } else {
                ""
            },
            if wc.verify_signature {
                ", signature required off the Unix socket"
            } else {
                ""
            },
        ));
    }
    for (what, path) in config.referenced_files() {
        out.push(format!("File {what}: {} (readable)", path.display()));
    }
    out
}
