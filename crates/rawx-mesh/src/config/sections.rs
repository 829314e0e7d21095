//! One `- section: value` item into its typed part of [`Config`]: the options each section
//! takes, their types and defaults, as Go receptor defines them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::options::{parse_go_duration, Options};
use super::yaml::Node;
use super::{
    Backend, Config, ConfigError, ControlService, TlsClient, TlsServer, WorkCommand,
    WorkKubernetes, WorkSigning, WorkVerification,
};

impl Config {
    pub(super) fn parse_section(
        &mut self,
        section: &'static str,
        value: &Node,
        origin: &str,
    ) -> Result<(), ConfigError> {
        match section {
            "node" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &["id", "datadir", "firewallrules", "maxidleconnectiontimeout"],
                    None,
                )?;
                if let Some(id) = o.string("id")? {
                    self.node.id = id;
                }
                if let Some(dir) = o.string("datadir")? {
                    self.node.datadir = PathBuf::from(dir);
                }
                self.node.firewall_rules = o.map_list("firewallrules")?;
                for rule in &self.node.firewall_rules {
                    match rule.get("action").map(|a| a.to_ascii_lowercase()) {
                        Some(a) if ["accept", "reject", "drop"].contains(&a.as_str()) => {}
                        _ => return Err(o.error(
                            value.line(),
                            "option `firewallrules`: each rule needs `action: accept|reject|drop`",
                        )),
                    }
                    if let Some(k) = rule.keys().find(|k| {
                        !["action", "fromnode", "tonode", "fromservice", "toservice"]
                            .contains(&k.as_str())
                    }) {
                        return Err(o.error(value.line(), &format!("option `firewallrules`: unknown rule key `{k}`; expected action, fromnode, tonode, fromservice, toservice")));
                    }
                }
                self.node.max_idle_connection_timeout = o.string("maxidleconnectiontimeout")?;
                o.finish()
            }
            "log-level" => {
                let mut o = Options::new(origin, section, value, &["level"], Some("level"))?;
                let level = o
                    .string("level")?
                    .unwrap_or_else(|| "error".into())
                    .to_ascii_lowercase();
                if !["error", "warning", "info", "debug"].contains(&level.as_str()) {
                    return Err(o.error(
                        value.line(),
                        &format!(
                            "option `level`: expected error, warning, info or debug, got `{level}`"
                        ),
                    ));
                }
                self.log_level = Some(level);
                o.finish()
            }
            "local-only" => {
                Options::new(origin, section, value, &[], None)?.finish()?;
                self.local_only = true;
                Ok(())
            }
            "control-service" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &[
                        "service",
                        "filename",
                        "permissions",
                        "tls",
                        "tcplisten",
                        "tcptls",
                    ],
                    None,
                )?;
                let permissions = match o.int("permissions")? {
                    None => 0o600,
                    Some(p) if (0..=0o7777).contains(&p) => p as u32,
                    Some(p) => {
                        return Err(o.error(
                            value.line(),
                            &format!("option `permissions`: {p:o} is not a file mode"),
                        ))
                    }
                };
                self.control_services.push(ControlService {
                    service: o.string("service")?.unwrap_or_else(|| "control".into()),
                    filename: o.string("filename")?.map(PathBuf::from),
                    permissions,
                    tls: o.string("tls")?,
                    tcp_listen: o.string("tcplisten")?,
                    tcp_tls: o.string("tcptls")?,
                });
                o.finish()
            }
            "work-command" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &[
                        "worktype",
                        "command",
                        "params",
                        "allowruntimeparams",
                        "verifysignature",
                    ],
                    None,
                )?;
                self.work_commands.push(WorkCommand {
                    work_type: o.required_string("worktype")?,
                    command: o.required_string("command")?,
                    params: o.string("params")?,
                    allow_runtime_params: o.boolean("allowruntimeparams", false)?,
                    verify_signature: o.boolean("verifysignature", false)?,
                });
                o.finish()
            }
            "work-kubernetes" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &[
                        "worktype",
                        "namespace",
                        "image",
                        "command",
                        "params",
                        "authmethod",
                        "kubeconfig",
                        "pod",
                        "allowruntimeauth",
                        "allowruntimecommand",
                        "allowruntimeparams",
                        "allowruntimepod",
                        "deletepodonrestart",
                        "streammethod",
                        "verifysignature",
                    ],
                    None,
                )?;
                let work_type = o.required_string("worktype")?;
                let auth_method = o.string("authmethod")?;
                if let Some(m) = &auth_method {
                    if !["incluster", "kubeconfig", "runtime"]
                        .contains(&m.to_ascii_lowercase().as_str())
                    {
                        return Err(o.error(value.line(), &format!("option `authmethod`: expected incluster, kubeconfig or runtime, got `{m}`")));
                    }
                }
                for key in [
                    "namespace",
                    "image",
                    "command",
                    "params",
                    "kubeconfig",
                    "pod",
                    "streammethod",
                ] {
                    o.string(key)?;
                }
                for key in [
                    "allowruntimeauth",
                    "allowruntimecommand",
                    "allowruntimeparams",
                    "allowruntimepod",
                    "deletepodonrestart",
                ] {
                    o.boolean(key, false)?;
                }
                let verify_signature = o.boolean("verifysignature", false)?;
                self.work_kubernetes.push(WorkKubernetes {
                    work_type,
                    auth_method,
                    verify_signature,
                });
                o.finish()
            }
            "work-signing" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &["privatekey", "tokenexpiration"],
                    Some("privatekey"),
                )?;
                let private_key = PathBuf::from(o.required_string("privatekey")?);
                let token_expiration = match o.string("tokenexpiration")? {
                    None => None,
                    Some(t) => Some(parse_go_duration(&t).ok_or_else(|| {
                        o.error(value.line(), &format!("option `tokenexpiration`: expected a duration such as 1m or 1h30m, got `{t}`"))
                    })?),
                };
                self.work_signing = Some(WorkSigning {
                    private_key,
                    token_expiration,
                });
                o.finish()
            }
            "work-verification" => {
                let mut o =
                    Options::new(origin, section, value, &["publickey"], Some("publickey"))?;
                self.work_verification = Some(WorkVerification {
                    public_key: PathBuf::from(o.required_string("publickey")?),
                });
                o.finish()
            }
            "tls-server" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &[
                        "name",
                        "cert",
                        "key",
                        "requireclientcert",
                        "clientcas",
                        "pinnedclientcert",
                        "skipreceptornamescheck",
                        "mintls13",
                    ],
                    None,
                )?;
                self.tls_servers.push(TlsServer {
                    name: o.required_string("name")?,
                    cert: PathBuf::from(o.required_string("cert")?),
                    key: PathBuf::from(o.required_string("key")?),
                    client_cas: o.string("clientcas")?.map(PathBuf::from),
                    require_client_cert: o.boolean("requireclientcert", false)?,
                    pinned_client_certs: o.string_list("pinnedclientcert")?,
                    skip_receptor_names_check: o.boolean("skipreceptornamescheck", false)?,
                    min_tls13: o.boolean("mintls13", false)?,
                });
                o.finish()
            }
            "tls-client" => {
                let mut o = Options::new(
                    origin,
                    section,
                    value,
                    &[
                        "name",
                        "cert",
                        "key",
                        "rootcas",
                        "insecureskipverify",
                        "pinnedservercert",
                        "skipreceptornamescheck",
                        "mintls13",
                    ],
                    None,
                )?;
                let client = TlsClient {
                    name: o.required_string("name")?,
                    cert: o.string("cert")?.map(PathBuf::from),
                    key: o.string("key")?.map(PathBuf::from),
                    root_cas: o.string("rootcas")?.map(PathBuf::from),
                    insecure_skip_verify: o.boolean("insecureskipverify", false)?,
                };
                if client.cert.is_some() != client.key.is_some() {
                    return Err(o.error(
                        value.line(),
                        "options `cert` and `key` go together: set both or neither",
                    ));
                }
                o.string_list("pinnedservercert")?;
                o.boolean("skipreceptornamescheck", false)?;
                o.boolean("mintls13", false)?;
                self.tls_clients.push(client);
                o.finish()
            }
            "tcp-listener" | "ws-listener" | "udp-listener" => {
                let allowed: &'static [&'static str] = match section {
                    "ws-listener" => &[
                        "port",
                        "bindaddr",
                        "tls",
                        "cost",
                        "nodecost",
                        "allowedpeers",
                        "path",
                    ],
                    "udp-listener" => &["port", "bindaddr", "cost", "nodecost", "allowedpeers"],
                    _ => &[
                        "port",
                        "bindaddr",
                        "tls",
                        "cost",
                        "nodecost",
                        "allowedpeers",
                    ],
                };
                let mut o = Options::new(origin, section, value, allowed, Some("port"))?;
                let port = match o.int("port")? {
                    Some(p) if (0..=65535).contains(&p) => p,
                    _ => return Err(o.error(value.line(), "option `port` is required (0-65535)")),
                };
                let bind = o.string("bindaddr")?.unwrap_or_else(|| "0.0.0.0".into());
                let tls = if allowed.contains(&"tls") {
                    o.string("tls")?
                } else {
                    None
                };
                let cost = o.float("cost")?.unwrap_or(1.0);
                let node_cost = o.float_map("nodecost")?;
                let allowed_peers = o.string_list("allowedpeers")?;
                let path = if allowed.contains(&"path") {
                    o.string("path")?
                } else {
                    None
                };
                check_costs(&o, value.line(), cost, &node_cost)?;
                o.finish()?;
                self.backends.push(Backend {
                    kind: section,
                    endpoint: format!("{bind}:{port}"),
                    tls,
                    cost,
                    node_cost,
                    allowed_peers: (!allowed_peers.is_empty()).then_some(allowed_peers),
                    redial: false,
                    path,
                    extra_header: None,
                });
                Ok(())
            }
            _ => {
                // tcp-peer, ws-peer, udp-peer
                let allowed: &'static [&'static str] = match section {
                    "ws-peer" => &[
                        "address",
                        "redial",
                        "tls",
                        "cost",
                        "allowedpeers",
                        "extraheader",
                    ],
                    "udp-peer" => &["address", "redial", "cost", "allowedpeers"],
                    _ => &["address", "redial", "tls", "cost", "allowedpeers"],
                };
                let mut o = Options::new(origin, section, value, allowed, Some("address"))?;
                let endpoint = o.required_string("address")?;
                let redial = o.boolean("redial", true)?;
                let tls = if allowed.contains(&"tls") {
                    o.string("tls")?
                } else {
                    None
                };
                let cost = o.float("cost")?.unwrap_or(1.0);
                let allowed_peers = o.string_list("allowedpeers")?;
                let extra_header = if allowed.contains(&"extraheader") {
                    o.string("extraheader")?
                } else {
                    None
                };
                check_costs(&o, value.line(), cost, &BTreeMap::new())?;
                o.finish()?;
                self.backends.push(Backend {
                    kind: section,
                    endpoint,
                    tls,
                    cost,
                    node_cost: BTreeMap::new(),
                    allowed_peers: (!allowed_peers.is_empty()).then_some(allowed_peers),
                    redial,
                    path: None,
                    extra_header,
                });
                Ok(())
            }
        }
    }
}

/// Go's `Prepare`: every cost must be positive.
fn check_costs(
    o: &Options<'_>,
    line: usize,
    cost: f64,
    node_cost: &BTreeMap<String, f64>,
) -> Result<(), ConfigError> {
    if cost <= 0.0 {
        return Err(o.error(line, "connection cost must be positive"));
    }
    if let Some((node, _)) = node_cost.iter().find(|(_, c)| **c <= 0.0) {
        return Err(o.error(
            line,
            &format!("connection cost must be positive for {node}"),
        ));
    }
    Ok(())
}
