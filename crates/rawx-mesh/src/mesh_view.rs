//! [`MeshView`]: what a controller reads of the mesh through the node it talks to — Receptor's
//! `status` reply (`NodeID`, `Connections`, `RoutingTable`, `KnownConnectionCosts`,
//! `Advertisements`), typed. The controller judges from it whether the node its jobs run on is
//! reachable (and through which neighbour), and shows the mesh's nodes and links as AWX's
//! `/api/v2/instances/` peers and `/api/v2/mesh_visualizer/` do. Go writes a nil map or slice
//! as `null`, so every collection accepts `null` as empty.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One link of the node the status came from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ViewConnection {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "Cost", default)]
    pub cost: f64,
}

/// One service advertisement, as `status` lists them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ViewAd {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "Service", default)]
    pub service: String,
    /// RFC 3339: when that node last sent it (Receptor re-sends every 60 s).
    #[serde(rename = "Time", default)]
    pub time: String,
    #[serde(rename = "Tags", default, deserialize_with = "nullable")]
    pub tags: BTreeMap<String, String>,
    #[serde(rename = "WorkCommands", default, deserialize_with = "nullable")]
    pub work_commands: Vec<serde_json::Value>,
}

/// Receptor's `status` reply, the parts about the mesh.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MeshView {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(rename = "Connections", default, deserialize_with = "nullable")]
    pub connections: Vec<ViewConnection>,
    /// Destination → next hop.
    #[serde(rename = "RoutingTable", default, deserialize_with = "nullable")]
    pub routing_table: BTreeMap<String, String>,
    /// Node → its neighbours and their costs, as each node's routing updates said.
    #[serde(
        rename = "KnownConnectionCosts",
        default,
        deserialize_with = "nullable"
    )]
    pub known_connection_costs: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(rename = "Advertisements", default, deserialize_with = "nullable")]
    pub advertisements: Vec<ViewAd>,
}

impl MeshView {
    pub fn from_status(status: &serde_json::Value) -> Result<MeshView, String> {
        serde_json::from_value(status.clone())
            .map_err(|e| format!("unexpected status reply from the node: {e}"))
    }

    /// Whether `node` can be reached from the node the status came from now.
    pub fn reachable(&self, node: &str) -> bool {
        node == self.node_id || self.routing_table.contains_key(node)
    }

    /// The neighbour traffic to `node` goes through now (`node` itself when adjacent).
    pub fn next_hop(&self, node: &str) -> Option<&str> {
        self.routing_table.get(node).map(String::as_str)
    }

    /// Every node the status names: itself, its routes, the nodes of known links, and the
    /// nodes that advertise services.
    pub fn nodes(&self) -> BTreeSet<&str> {
        let mut all = BTreeSet::from([self.node_id.as_str()]);
        all.extend(self.routing_table.keys().map(String::as_str));
        for (n, peers) in &self.known_connection_costs {
            all.insert(n);
            all.extend(peers.keys().map(String::as_str));
        }
        all.extend(self.advertisements.iter().map(|a| a.node_id.as_str()));
        all.retain(|n| !n.is_empty());
        all
    }

    /// The links the mesh knows, each once as (a, b) with a < b.
    pub fn links(&self) -> BTreeSet<(&str, &str)> {
        let mut out = BTreeSet::new();
        for (n, peers) in &self.known_connection_costs {
            for p in peers.keys() {
                let (a, b) = if n < p { (n, p) } else { (p, n) };
                out.insert((a.as_str(), b.as_str()));
            }
        }
        out
    }

    /// Whether `node` advertises work commands (an execution node) in the ads seen.
    pub fn runs_work(&self, node: &str) -> bool {
        self.advertisements
            .iter()
            .any(|a| a.node_id == node && !a.work_commands.is_empty())
    }
}

/// One listener a node advertises (`protocol://address:port[/path]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewListener {
    /// `tcp`, `ws` or `wss`, as AWX's `ReceptorAddress.protocol`.
    pub protocol: String,
    pub address: String,
    pub port: u16,
    pub path: String,
}

impl MeshView {
    /// Of the link between `a` and `b`, which end dialed: `Some((source, target))` when the
    /// ads say (one end dials an address the other listens on), else the end that listens
    /// when only one does.
    pub fn direction<'a>(&self, a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
        if self.dials(a, b) {
            return Some((a, b));
        }
        if self.dials(b, a) {
            return Some((b, a));
        }
        match (self.listeners(a).is_empty(), self.listeners(b).is_empty()) {
            (true, false) => Some((a, b)),
            (false, true) => Some((b, a)),
            _ => None,
        }
    }

    /// Whether `from` advertises dialing an address `to` listens on (same port, and the same
    /// host or a host naming `to`).
    fn dials(&self, from: &str, to: &str) -> bool {
        let targets = self.listeners(to);
        self.advertisements
            .iter()
            .filter(|ad| ad.node_id == from)
            .filter_map(|ad| ad.tags.get(crate::mesh::PEERS_TAG))
            .flat_map(|t| t.split_whitespace())
            .filter_map(|p| {
                let rest = p.split_once("://").map_or(p, |(_, r)| r);
                let hostport = rest.split('/').next()?;
                let (host, port) = hostport.rsplit_once(':')?;
                Some((
                    host.trim_matches(['[', ']']).to_string(),
                    port.parse::<u16>().ok()?,
                ))
            })
            .any(|(host, port)| {
                targets
                    .iter()
                    .any(|l| l.port == port && (l.address == host || l.address == to || host == to))
            })
    }

    /// The listeners `node` advertises (the `listeners` tag of rawx nodes' ads; Receptor's own
    /// nodes advertise none).
    pub fn listeners(&self, node: &str) -> Vec<ViewListener> {
        let mut out = Vec::new();
        for ad in self.advertisements.iter().filter(|a| a.node_id == node) {
            let Some(tag) = ad.tags.get(crate::mesh::LISTENERS_TAG) else {
                continue;
            };
            for l in tag.split_whitespace() {
                let Some((protocol, rest)) = l.split_once("://") else {
                    continue;
                };
                let (hostport, path) = match rest.split_once('/') {
                    Some((h, p)) => (h, p.to_string()),
                    None => (rest, String::new()),
                };
                let Some((address, port)) = hostport.rsplit_once(':') else {
                    continue;
                };
                let Ok(port) = port.parse() else { continue };
                let l = ViewListener {
                    protocol: protocol.to_string(),
                    address: address.to_string(),
                    port,
                    path,
                };
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_receptors_status_with_nulls() {
        let v = serde_json::json!({
            "NodeID": "ctl",
            "Connections": [{"NodeID": "hop", "Cost": 1.0}],
            "RoutingTable": {"hop": "hop", "exec": "hop"},
            "KnownConnectionCosts": {"ctl": {"hop": 1.0}, "hop": {"ctl": 1, "exec": 1}, "exec": {"hop": 1}},
            "Advertisements": [
                {"NodeID": "exec", "Service": "control", "Time": "2026-01-01T00:00:00Z", "ConnType": 1,
                 "Tags": {"type": "Control Service"}, "WorkCommands": [{"WorkType": "ansible-runner", "Secure": false}]},
                {"NodeID": "hop", "Service": "control", "Time": "2026-01-01T00:00:00Z", "ConnType": 1,
                 "Tags": {"type": "Control Service", "listeners": "tcp://10.0.0.5:27199 wss://hop:443/mesh", "peers": "tcp://ctl.example:27199"}, "WorkCommands": null},
                {"NodeID": "ctl", "Service": "control", "Time": "2026-01-01T00:00:00Z", "ConnType": 1,
                 "Tags": {"type": "Control Service", "listeners": "tcp://ctl.example:27199"}, "WorkCommands": null}
            ],
            "SystemCPUCount": 2
        });
        let m = MeshView::from_status(&v).unwrap();
        assert!(m.reachable("exec") && m.reachable("ctl") && !m.reachable("gone"));
        assert_eq!(m.next_hop("exec"), Some("hop"));
        assert_eq!(
            m.nodes().into_iter().collect::<Vec<_>>(),
            ["ctl", "exec", "hop"]
        );
        assert_eq!(
            m.links().into_iter().collect::<Vec<_>>(),
            [("ctl", "hop"), ("exec", "hop")]
        );
        assert!(m.runs_work("exec") && !m.runs_work("hop"));
        assert!(m.listeners("exec").is_empty());
        let hop = m.listeners("hop");
        assert_eq!(hop.len(), 2, "{hop:?}");
        assert_eq!(
            (
                hop[0].protocol.as_str(),
                hop[0].address.as_str(),
                hop[0].port
            ),
            ("tcp", "10.0.0.5", 27199)
        );
        assert_eq!(
            (hop[1].protocol.as_str(), hop[1].path.as_str()),
            ("wss", "mesh")
        );
        // hop dials ctl's listener; exec listens on nothing, so it dialed hop.
        assert_eq!(m.direction("ctl", "hop"), Some(("hop", "ctl")));
        assert_eq!(m.direction("hop", "exec"), Some(("exec", "hop")));
        let empty = MeshView::from_status(
            &serde_json::json!({"NodeID": "a", "RoutingTable": null, "KnownConnectionCosts": null}),
        )
        .unwrap();
        assert!(empty.routing_table.is_empty() && empty.nodes().len() == 1);
    }
}
