//! Receptor's YAML config: a list of single-key maps (`- section: value`), loaded as Go receptor
//! loads it, so AWX's shipped `receptor.conf` works unchanged. This is the only parser of that
//! format in rawx.

mod options;
mod sections;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use options::parse_bool as parse_bool_text;
pub use options::parse_go_duration;
use yaml::Node;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read receptor config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("receptor config {origin}: malformed YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("receptor config {origin}, line {line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("receptor config {origin}: {message}")]
    Semantic { origin: String, message: String },
    #[error("receptor config {origin}: missing or unreadable files:\n{}", .files.join("\n"))]
    MissingFiles { origin: String, files: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the config came from, for messages.
    pub origin: String,
    pub node: NodeSection,
    pub log_level: Option<String>,
    pub local_only: bool,
    pub control_services: Vec<ControlService>,
    pub work_commands: Vec<WorkCommand>,
    pub work_kubernetes: Vec<WorkKubernetes>,
    pub work_signing: Option<WorkSigning>,
    pub work_verification: Option<WorkVerification>,
    pub tls_servers: Vec<TlsServer>,
    pub tls_clients: Vec<TlsClient>,
    pub backends: Vec<Backend>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeSection {
    pub id: String,
    pub datadir: PathBuf,
    /// Each rule maps `action`, `fromnode`, `tonode`, `fromservice`, `toservice` to a value.
    pub firewall_rules: Vec<BTreeMap<String, String>>,
    pub max_idle_connection_timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlService {
    pub service: String,
    pub filename: Option<PathBuf>,
    pub permissions: u32,
    pub tls: Option<String>,
    pub tcp_listen: Option<String>,
    pub tcp_tls: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkCommand {
    pub work_type: String,
    pub command: String,
    pub params: Option<String>,
    pub allow_runtime_params: bool,
    pub verify_signature: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkKubernetes {
    pub work_type: String,
    pub auth_method: Option<String>,
    pub verify_signature: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkSigning {
    pub private_key: PathBuf,
    pub token_expiration: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkVerification {
    pub public_key: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsServer {
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cas: Option<PathBuf>,
    pub require_client_cert: bool,
    /// Parsed; not checked yet (reported at start).
    pub pinned_client_certs: Vec<String>,
    pub skip_receptor_names_check: bool,
    pub min_tls13: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsClient {
    pub name: String,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub root_cas: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

/// A mesh listener or peer (`tcp-listener`, `ws-peer`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub kind: &'static str,
    /// `bindaddr:port` for a listener, the `address` for a peer, as written.
    pub endpoint: String,
    pub tls: Option<String>,
    /// `cost` (default 1.0, must be positive).
    pub cost: f64,
    /// `nodecost` (listeners): the cost for a link to a given peer.
    pub node_cost: BTreeMap<String, f64>,
    /// `allowedpeers`: when set, only these node IDs may connect over this backend.
    pub allowed_peers: Option<Vec<String>>,
    /// `redial` (peers; default true).
    pub redial: bool,
    /// `path` of a websocket listener (default `/`).
    pub path: Option<String>,
    /// `extraheader` of a websocket peer (`Name: value`).
    pub extra_header: Option<String>,
}

const SECTIONS: &[&str] = &[
    "node",
    "log-level",
    "local-only",
    "control-service",
    "work-command",
    "work-kubernetes",
    "work-signing",
    "work-verification",
    "tls-server",
    "tls-client",
    "tcp-listener",
    "tcp-peer",
    "ws-listener",
    "ws-peer",
    "udp-listener",
    "udp-peer",
];

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&src, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Config, ConfigError> {
        let root = yaml::parse(src).map_err(|message| ConfigError::Yaml {
            origin: origin.to_string(),
            message,
        })?;
        let items = match root {
            None => Vec::new(),
            Some(Node::Seq { items, .. }) => items,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    origin: origin.to_string(),
                    line: other.line(),
                    message: format!(
                        "expected a list of `- section: options` items, got {}",
                        other.kind()
                    ),
                })
            }
        };
        let mut cfg = Config {
            origin: origin.to_string(),
            node: NodeSection {
                id: String::new(),
                datadir: PathBuf::from("/tmp/receptor"),
                firewall_rules: Vec::new(),
                max_idle_connection_timeout: None,
            },
            log_level: None,
            local_only: false,
            control_services: Vec::new(),
            work_commands: Vec::new(),
            work_kubernetes: Vec::new(),
            work_signing: None,
            work_verification: None,
            tls_servers: Vec::new(),
            tls_clients: Vec::new(),
            backends: Vec::new(),
        };
        let mut seen_node = false;
        for item in &items {
            let (name, value, line) = match item {
                // Go also accepts a bare `- local-only` item.
                Node::Scalar { text, line, .. } => (
                    text.clone(),
                    Node::Scalar {
                        text: String::new(),
                        plain: true,
                        line: *line,
                    },
                    *line,
                ),
                Node::Map { entries, line } if entries.len() == 1 => match &entries[0].0 {
                    Node::Scalar { text, .. } => (text.clone(), entries[0].1.clone(), *line),
                    _ => return Err(invalid(origin, *line, "a section name must be a word")),
                },
                other => {
                    return Err(invalid(
                        origin,
                        other.line(),
                        "each item must be a map with exactly one section name",
                    ))
                }
            };
            let Some(section) = SECTIONS.iter().find(|s| **s == name) else {
                return Err(invalid(
                    origin,
                    line,
                    &format!(
                        "unknown section `{name}`; expected one of: {}",
                        SECTIONS.join(", ")
                    ),
                ));
            };
            let singleton_seen = match *section {
                "node" => std::mem::replace(&mut seen_node, true),
                "log-level" => cfg.log_level.is_some(),
                "work-signing" => cfg.work_signing.is_some(),
                "work-verification" => cfg.work_verification.is_some(),
                _ => false,
            };
            if singleton_seen {
                return Err(invalid(
                    origin,
                    line,
                    &format!("section `{section}` appears twice"),
                ));
            }
            cfg.parse_section(section, &value, origin)?;
        }
        if cfg.node.id.is_empty() {
            cfg.node.id = hostname();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |message: String| ConfigError::Semantic {
            origin: self.origin.clone(),
            message,
        };
        // The ID names the unit store's directory, so it must be one plain path component.
        let id = &self.node.id;
        if id.contains(['/', '\0'])
            || id == "."
            || id == ".."
            || id.chars().any(char::is_whitespace)
        {
            return Err(fail(format!(
                "node id `{id}` is not allowed: no slashes, spaces or dot names"
            )));
        }
        if self.node.id.eq_ignore_ascii_case("localhost") || self.node.id.is_empty() {
            return Err(fail(format!(
                "node id `{}` is not allowed: set `node: id:` to this node's name",
                self.node.id
            )));
        }
        let mut types: Vec<&str> = Vec::new();
        for t in self
            .work_commands
            .iter()
            .map(|w| w.work_type.as_str())
            .chain(self.work_kubernetes.iter().map(|k| k.work_type.as_str()))
        {
            if types.contains(&t) || t == "remote" {
                return Err(fail(format!(
                    "work type `{t}` is defined twice (or is the reserved `remote`)"
                )));
            }
            types.push(t);
        }
        let needs_verification = self.work_commands.iter().any(|w| w.verify_signature)
            || self.work_kubernetes.iter().any(|k| k.verify_signature);
        if needs_verification && self.work_verification.is_none() {
            return Err(fail(
                "`verifysignature: true` needs a `work-verification` section with the public key"
                    .into(),
            ));
        }
        let server_names: Vec<&str> = self.tls_servers.iter().map(|t| t.name.as_str()).collect();
        let client_names: Vec<&str> = self.tls_clients.iter().map(|t| t.name.as_str()).collect();
        for cs in &self.control_services {
            for name in cs.tls.iter().chain(cs.tcp_tls.iter()) {
                if !server_names.contains(&name.as_str()) {
                    return Err(fail(format!(
                        "control-service refers to tls-server `{name}`, which is not defined"
                    )));
                }
            }
        }
        for b in &self.backends {
            if let Some(name) = &b.tls {
                let known = if b.kind.ends_with("listener") {
                    &server_names
                } else {
                    &client_names
                };
                // Go lets a wss peer name `default`, meaning the system roots.
                if !known.contains(&name.as_str()) && name != "default" {
                    return Err(fail(format!(
                        "{} {} refers to TLS config `{name}`, which is not defined",
                        b.kind, b.endpoint
                    )));
                }
            }
        }
        let has_backend = self.local_only || !self.backends.is_empty();
        if !has_backend {
            return Err(fail("nothing to do: add `- local-only: null` for a standalone node, or a listener or peer".into()));
        }
        Ok(())
    }

    /// Every key, certificate and CA file the config names, with what names it.
    pub fn referenced_files(&self) -> Vec<(String, PathBuf)> {
        let mut files = Vec::new();
        if let Some(s) = &self.work_signing {
            files.push(("work-signing privatekey".into(), s.private_key.clone()));
        }
        if let Some(v) = &self.work_verification {
            files.push(("work-verification publickey".into(), v.public_key.clone()));
        }
        for t in &self.tls_servers {
            files.push((format!("tls-server {} cert", t.name), t.cert.clone()));
            files.push((format!("tls-server {} key", t.name), t.key.clone()));
            if let Some(ca) = &t.client_cas {
                files.push((format!("tls-server {} clientcas", t.name), ca.clone()));
            }
        }
        for t in &self.tls_clients {
            for (what, path) in [("cert", &t.cert), ("key", &t.key), ("rootcas", &t.root_cas)] {
                if let Some(p) = path {
                    files.push((format!("tls-client {} {what}", t.name), p.clone()));
                }
            }
        }
        files
    }

    /// Fails naming every referenced file that cannot be read.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let missing: Vec<String> = self
            .referenced_files()
            .into_iter()
            .filter_map(|(what, path)| match std::fs::File::open(&path) {
                Ok(_) => None,
                Err(e) => Some(format!("  {what}: {}: {e}", path.display())),
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::MissingFiles {
                origin: self.origin.clone(),
                files: missing,
            })
        }
    }

    /// What this rawx node parses but does not run yet; reported at start so nothing in the
    /// config is ignored silently.
    pub fn not_implemented(&self) -> Vec<String> {
        let mut out = Vec::new();

        for k in &self.work_kubernetes {
            out.push(format!(
                "work-kubernetes {}: submits are refused",
                k.work_type
            ));
        }
        for t in &self.tls_servers {
            if !t.pinned_client_certs.is_empty() {
                out.push(format!(
                    "tls-server {} pinnedclientcert: not checked",
                    t.name
                ));
            }
        }
        out
    }
}

fn invalid(origin: &str, line: usize, message: &str) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.to_string(),
        line,
        message: message.to_string(),
    }
}

/// Go receptor's default node ID.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
