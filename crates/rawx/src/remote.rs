//! How `rawx serve` finds a separate execution node (`rawx receptor`, or Receptor itself):
//! flags, or a Receptor config file read the way `receptorctl --config F --tls-client NAME`
//! reads it. Without either, jobs run on the in-process node.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Run jobs on a separate node through its control service: `unix:PATH` (or a path),
    /// `tcp://HOST:PORT` or `tls://HOST:PORT`, as receptorctl's `--socket`.
    #[arg(long, env = "RAWX_RECEPTOR_SOCKET", value_name = "ADDRESS")]
    receptor_socket: Option<String>,
    /// A Receptor config to take the socket (its control-service `filename`), the work-signing
    /// key and, with `--receptor-tls-client`, the TLS files from.
    #[arg(long, env = "RAWX_RECEPTOR_CONFIG", value_name = "FILE")]
    receptor_config: Option<PathBuf>,
    /// The `tls-client` entry of `--receptor-config` to connect with.
    #[arg(long, env = "RAWX_RECEPTOR_TLS_CLIENT", value_name = "NAME")]
    receptor_tls_client: Option<String>,
    /// CA certificates the node's TLS certificate is checked against.
    #[arg(long, env = "RAWX_RECEPTOR_ROOTCAS", value_name = "PEM")]
    receptor_rootcas: Option<PathBuf>,
    /// Client certificate for a node that requires one.
    #[arg(long, env = "RAWX_RECEPTOR_CERT", value_name = "PEM")]
    receptor_cert: Option<PathBuf>,
    #[arg(long, env = "RAWX_RECEPTOR_KEY", value_name = "PEM")]
    receptor_key: Option<PathBuf>,
    /// RSA private key that signs work for a node with `verifysignature` (Receptor's
    /// `work-signing`).
    #[arg(long, env = "RAWX_RECEPTOR_SIGNING_KEY", value_name = "PEM")]
    receptor_signing_key: Option<PathBuf>,
    /// Run jobs on this node of the mesh, through the node at `--receptor-socket` (Receptor's
    /// remote work: an execution node behind hops). Its capacity is checked there too.
    #[arg(long, env = "RAWX_RECEPTOR_WORK_NODE", value_name = "NODE_ID")]
    receptor_work_node: Option<String>,
}

impl RemoteArgs {
    /// The separate node, reached and identified; `None` when none is configured.
    pub async fn connect(&self) -> anyhow::Result<Option<rawx_mesh::RemoteNode>> {
        let config = match &self.receptor_config {
            Some(path) => Some(rawx_mesh::Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        let from_config_socket = config.as_ref().and_then(|c| {
            c.control_services
                .iter()
                .find_map(|cs| cs.filename.as_ref())
                .map(|p| p.display().to_string())
        });
        let Some(socket) = self.receptor_socket.clone().or(from_config_socket) else {
            if self.receptor_tls_client.is_some()
                || self.receptor_signing_key.is_some()
                || self.receptor_work_node.is_some()
            {
                anyhow::bail!("--receptor-* options need --receptor-socket (or a --receptor-config with a control-service filename)");
            }
            return Ok(None);
        };
        let address: rawx_mesh::Address = socket
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--receptor-socket: {e}"))?;
        let mut options = rawx_mesh::RemoteOptions {
            address: Some(address.clone()),
            root_cas: self.receptor_rootcas.clone(),
            cert: self.receptor_cert.clone(),
            key: self.receptor_key.clone(),
            work_node: self.receptor_work_node.clone(),
            ..Default::default()
        };
        if let Some(name) = &self.receptor_tls_client {
            let c = config
                .as_ref()
                .context("--receptor-tls-client names an entry of --receptor-config")?;
            let tls = c
                .tls_clients
                .iter()
                .find(|t| &t.name == name)
                .with_context(|| format!("{}: no tls-client named {name}", c.origin))?;
            options.root_cas = options.root_cas.or(tls.root_cas.clone());
            options.cert = options.cert.or(tls.cert.clone());
            options.key = options.key.or(tls.key.clone());
            options.insecure_skip_verify = tls.insecure_skip_verify;
        }
        let signing = match (
            &self.receptor_signing_key,
            config.as_ref().and_then(|c| c.work_signing.as_ref()),
        ) {
            (Some(path), _) => Some((path.clone(), Duration::from_secs(300))),
            (None, Some(ws)) => Some((
                ws.private_key.clone(),
                ws.token_expiration.unwrap_or(Duration::from_secs(300)),
            )),
            (None, None) => None,
        };
        if let Some((path, expiration)) = signing {
            options.signer = Some(
                rawx_mesh::signing::Signer::load(&path, expiration)
                    .map_err(|e| anyhow::anyhow!("work signing key: {e}"))?,
            );
        }
        let node = rawx_mesh::RemoteNode::connect(options)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot reach the execution node at {address}; is `rawx receptor` running there?"))?;
        tracing::info!(node = %rawx_mesh::WorkNode::node_id(&node), address = %address, "jobs run on a separate execution node");
        Ok(Some(node))
    }
}
