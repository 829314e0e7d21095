//! Instances: the nodes of this installation, as AWX lists them — the controller (`control`,
//! or `hybrid` when it runs jobs itself) and each execution node it submits work to. Rows
//! are made by the task role when it starts (AWX's `provision_instance` / `register_peers`),
//! figures come from health checks; through the API only `capacity_adjustment`, `enabled` and
//! `managed_by_policy` change (admins, PATCH). One row per hostname, so heartbeats of several
//! task processes can later write their own rows and `last_seen`.
//!
//! Instance groups hold instances through `instance_group_instances`; who is in a group is
//! what AWX's policies say (`policy_members`), and templates, inventories and organizations
//! name the groups their jobs may use.

use crate::schema::{
    int, text, Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList,
};
use crate::Row;
use std::collections::BTreeMap;

pub const NODE_TYPES: &[(&str, &str)] = &[
    ("control", "Control plane node"),
    ("execution", "Execution plane node"),
    ("hybrid", "Controller and execution"),
    ("hop", "Message-passing node, no execution capability"),
];

pub const NODE_STATES: &[(&str, &str)] = &[
    ("provisioning", "Provisioning"),
    ("provision-fail", "Provisioning Failure"),
    ("installed", "Installed"),
    ("ready", "Ready"),
    ("unavailable", "Unavailable"),
    ("deprovisioning", "De-provisioning"),
    ("deprovision-fail", "De-provisioning Failure"),
];

const fn ro(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field::new(name, label, kind).read_only()
}

const fn count(name: &'static str, label: &'static str) -> Field {
    ro(
        name,
        label,
        Kind::Int {
            min: Some(0),
            max: None,
        },
    )
    .default(D::Int(0))
}

pub static INSTANCES: Resource = Resource {
    key: "instances",
    type_name: "instance",
    verbose: "Instance",
    fields: &[
        ro("hostname", "Hostname", Kind::Str { max: 250 }).required(),
        ro("uuid", "Uuid", Kind::Str { max: 40 }).default(D::Str("")),
        ro("ip_address", "Ip address", Kind::Str { max: 50 }).default(D::Str("")),
        ro("version", "Version", Kind::Str { max: 120 }).default(D::Str("")),
        ro("node_type", "Node type", Kind::Choice(NODE_TYPES))
            .help("Role that this node plays in the mesh.")
            .default(D::Str("execution")),
        ro("node_state", "Node state", Kind::Choice(NODE_STATES))
            .help("Indicates the current life cycle stage of this instance.")
            .default(D::Str("installed")),
        count("capacity", "Capacity"),
        count("consumed_capacity", "Consumed capacity"),
        ro("percent_capacity_remaining", "Percent capacity remaining", Kind::Float),
        count("jobs_running", "Jobs running")
            .help("Count of jobs in the running or waiting state that are targeted for this instance"),
        count("jobs_total", "Jobs total").help("Count of all jobs that target this instance"),
        // AWX's DecimalFields, which its API renders as strings.
        ro("cpu", "Cpu", Kind::Str { max: 8 }).default(D::Str("0.0")),
        count("memory", "Memory"),
        count("cpu_capacity", "Cpu capacity"),
        count("mem_capacity", "Mem capacity"),
        Field::new("capacity_adjustment", "Capacity adjustment", Kind::Str { max: 4 })
            .default(D::Str("1.00")),
        Field::new("enabled", "Enabled", Kind::Bool).default(D::Bool(true)),
        Field::new("managed_by_policy", "Managed by policy", Kind::Bool).default(D::Bool(true)),
        ro("managed", "Managed", Kind::Bool)
            .help("If True, this instance is managed by the control plane.")
            .default(D::Bool(true)),
        ro("last_seen", "Last seen", Kind::DateTime)
            .help("Last time instance ran its heartbeat task for main cluster nodes. Last known connection to receptor mesh for execution nodes.")
            .nullable(),
        ro("last_health_check", "Last health check", Kind::DateTime)
            .help("Last time a health check was ran on this instance to refresh cpu, memory, and capacity.")
            .nullable(),
        ro("health_check_started", "Health check started", Kind::DateTime)
            .help("The last time a health check was initiated on this instance.")
            .nullable(),
        ro("errors", "Errors", Kind::Text)
            .help("Any error details from the last health check.")
            .default(D::Str("")),
        ro("listener_port", "Listener port", Kind::Int { min: Some(0), max: Some(65535) })
            .help("Port that Receptor will listen for incoming connections on.")
            .nullable(),
    ],
    name_field: Some("hostname"),
    unique: &[&["hostname"]],
    scope: Scope::Global,
    subs: &[
        Sub {
            name: "instance_groups",
            list: SubList::Linked { relation: &INSTANCE_GROUP_MEMBERS, from_left: false },
        },
        Sub {
            name: "receptor_addresses",
            list: SubList::Children { resource: "receptor_addresses", fk: "instance" },
        },
        Sub { name: "peers", list: SubList::Linked { relation: &INSTANCE_PEERS, from_left: true } },
    ],
    order: "hostname",
    search_fields: &["hostname"],
    named_url_parents: &[],
    read_only_api: true,
};

/// Groups of instances jobs may run on. `controlplane` (control and hybrid nodes) and `default`
/// (execution and hybrid nodes) are made at first start with a 100% policy, as AWX's installer
/// makes them.
pub static INSTANCE_GROUPS: Resource = Resource {
    key: "instance_groups",
    type_name: "instance_group",
    verbose: "Instance Group",
    fields: &[
        super::NAME,
        Field::new("max_concurrent_jobs", "Max Concurrent Jobs", Kind::Int { min: Some(0), max: Some(2147483647) })
            .help("Maximum number of concurrent jobs to run on a group. When set to zero, no maximum is enforced.")
            .default(D::Int(0)),
        Field::new("max_forks", "Max Forks", Kind::Int { min: Some(0), max: Some(2147483647) })
            .help("Maximum number of forks to execute concurrently on a group. When set to zero, no maximum is enforced.")
            .default(D::Int(0)),
        Field::new("is_container_group", "Is container group", Kind::Bool)
            .default(D::Bool(false))
            .help("Indicates whether instances in this group are containerized.Containerized groups have a designated Openshift or Kubernetes cluster.")
            .read_only(),
        Field::new("policy_instance_percentage", "Policy Instance Percentage", Kind::Int { min: Some(0), max: Some(100) })
            .help("Minimum percentage of all instances that will be automatically assigned to this group when new instances come online.")
            .default(D::Int(0)),
        Field::new("policy_instance_minimum", "Policy Instance Minimum", Kind::Int { min: Some(0), max: Some(2147483647) })
            .help("Static minimum number of Instances that will be automatically assign to this group when new instances come online.")
            .default(D::Int(0)),
        // AWX's JSONField list; stored as JSON text, rendered as a list. It changes through
        // associate/disassociate and `rawx manage register-queue --hostnames`.
        Field::new("policy_instance_list", "Policy Instance List", Kind::Text)
            .help("List of exact-match Instances that will be assigned to this group")
            .read_only()
            .default(D::Str("[]")),
        Field::new("pod_spec_override", "Pod spec override", Kind::Text).default(D::Str("")),
    ],
    name_field: Some("name"),
    unique: &[&["name"]],
    scope: Scope::Global,
    subs: &[Sub {
        name: "instances",
        list: SubList::Linked { relation: &INSTANCE_GROUP_MEMBERS, from_left: true },
    }],
    order: "id",
    search_fields: &["name"],
    named_url_parents: &[],
    read_only_api: false,
};

/// Members of instance groups (AWX's `InstanceGroup.instances`).
pub static INSTANCE_GROUP_MEMBERS: Relation = Relation {
    table: "instance_group_instances",
    left: ("instance_groups", "instancegroup_id"),
    right: ("instances", "instance_id"),
};
/// The groups a template's, an inventory's or an organization's jobs prefer.
pub static JT_INSTANCE_GROUPS: Relation = Relation {
    table: "job_template_instance_groups",
    left: ("job_templates", "job_template_id"),
    right: ("instance_groups", "instancegroup_id"),
};
pub static INVENTORY_INSTANCE_GROUPS: Relation = Relation {
    table: "inventory_instance_groups",
    left: ("inventories", "inventory_id"),
    right: ("instance_groups", "instancegroup_id"),
};
pub static ORG_INSTANCE_GROUPS: Relation = Relation {
    table: "organization_instance_groups",
    left: ("organizations", "organization_id"),
    right: ("instance_groups", "instancegroup_id"),
};

/// AWX's group of control nodes; the only group control-only nodes belong to.
pub const CONTROL_PLANE: &str = "controlplane";
/// The group jobs use when nothing names one.
pub const DEFAULT_GROUP: &str = "default";

/// A group's `policy_instance_list`: the hostnames stored as a JSON list.
pub fn policy_list(group: &Row) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text(group, "policy_instance_list")).unwrap_or_default()
}

/// Whether an instance of `node_type` may be put in `group` by hand (associate,
/// `register-queue --hostnames`): AWX's rule — hop nodes never, control-only nodes only by the
/// installer. `Err` carries AWX's message.
pub fn may_join(hostname: &str, node_type: &str) -> Result<(), String> {
    match node_type {
        "control" => Err(format!(
            "Cannot change instance group membership of control-only node: {hostname}."
        )),
        "hop" => Err(format!(
            "Cannot change instance group membership of hop node : {hostname}."
        )),
        _ => Ok(()),
    }
}

/// Which instances each group holds (group id → instance ids, ascending), computed as AWX's
/// `apply_cluster_membership_policies` does: first each group's `policy_instance_list`, then
/// `policy_instance_minimum`, then `policy_instance_percentage`, smaller groups first and
/// instances in the fewest groups first; only instances `managed_by_policy` are placed by
/// the two counts; hop nodes never join; `controlplane` takes no execution node and the
/// other groups no control node.
pub fn policy_members(instances: &[Row], groups: &[Row]) -> BTreeMap<i64, Vec<i64>> {
    let mut all: Vec<&Row> = instances
        .iter()
        .filter(|i| text(i, "node_type") != "hop")
        .collect();
    all.sort_by_key(|i| int(i, "id"));
    struct Group<'a> {
        row: &'a Row,
        members: Vec<i64>,
    }
    let mut actual: Vec<Group> = groups
        .iter()
        .map(|g| {
            let mut members = Vec::new();
            for host in policy_list(g) {
                if let Some(id) = all
                    .iter()
                    .find(|i| text(i, "hostname") == host)
                    .and_then(|i| int(i, "id"))
                {
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            Group { row: g, members }
        })
        .collect();
    // (instance, its node type, how many groups the counts placed it in so far)
    let mut pool: Vec<(i64, &str, usize)> = all
        .iter()
        .filter(|i| i.get("managed_by_policy") != Some(&serde_json::Value::Bool(false)))
        .filter_map(|i| Some((int(i, "id")?, text(i, "node_type"), 0)))
        .collect();
    let excluded = |g: &Row| {
        if text(g, "name") == CONTROL_PLANE {
            "execution"
        } else {
            "control"
        }
    };
    for by_percentage in [false, true] {
        let mut order: Vec<usize> = (0..actual.len()).collect();
        order.sort_by_key(|&k| actual[k].members.len());
        for k in order {
            let g = &mut actual[k];
            let exclude = excluded(g.row);
            let candidates = pool.iter().filter(|p| p.1 != exclude).count();
            if by_percentage && candidates == 0 {
                continue;
            }
            let minimum = int(g.row, "policy_instance_minimum").unwrap_or(0).max(0) as usize;
            let percentage = int(g.row, "policy_instance_percentage").unwrap_or(0) as f64;
            let mut by_load: Vec<usize> = (0..pool.len()).collect();
            by_load.sort_by_key(|&p| pool[p].2);
            for p in by_load {
                let (id, node_type, _) = pool[p];
                if node_type == exclude {
                    continue;
                }
                let enough = if by_percentage {
                    100.0 * g.members.len() as f64 / candidates as f64 >= percentage
                } else {
                    g.members.len() >= minimum
                };
                if !by_percentage && enough {
                    break;
                }
                if g.members.contains(&id) {
                    continue;
                }
                if by_percentage && enough {
                    break;
                }
                g.members.push(id);
                pool[p].2 += 1;
            }
        }
    }
    actual
        .into_iter()
        .filter_map(|g| {
            let mut m = g.members;
            m.sort_unstable();
            Some((int(g.row, "id")?, m))
        })
        .collect()
}

pub const RECEPTOR_PROTOCOLS: &[(&str, &str)] = &[("tcp", "TCP"), ("ws", "WS"), ("wss", "WSS")];

/// The addresses a node's Receptor listens on (AWX's `ReceptorAddress`). AWX's admins write
/// them; rawx learns them from the mesh (each rawx node advertises its listeners with its
/// control service), so the API only reads them.
pub static RECEPTOR_ADDRESSES: Resource = Resource {
    key: "receptor_addresses",
    type_name: "receptor_address",
    verbose: "Receptor Address",
    fields: &[
        ro("address", "Address", Kind::Str { max: 255 })
            .help("Routable address for this instance.")
            .required(),
        ro(
            "port",
            "Port",
            Kind::Int {
                min: Some(0),
                max: Some(65535),
            },
        )
        .help("Port for the address.")
        .default(D::Int(27199)),
        ro("websocket_path", "Websocket path", Kind::Str { max: 255 })
            .help("Websocket path.")
            .default(D::Str("")),
        ro("protocol", "Protocol", Kind::Choice(RECEPTOR_PROTOCOLS))
            .help("Protocol to use for the Receptor listener, 'tcp', 'wss', or 'ws'.")
            .default(D::Str("tcp")),
        ro("is_internal", "Is internal", Kind::Bool)
            .help("If True, only routable within the Kubernetes cluster.")
            .default(D::Bool(false)),
        ro("canonical", "Canonical", Kind::Bool)
            .help("If True, this address is the canonical address for the instance.")
            .default(D::Bool(false)),
        ro(
            "peers_from_control_nodes",
            "Peers from control nodes",
            Kind::Bool,
        )
        .help("If True, control plane cluster nodes should automatically peer to it.")
        .default(D::Bool(false)),
        ro("instance", "Instance", Kind::Fk("instances")).required(),
    ],
    name_field: None,
    unique: &[&["address", "port", "protocol"]],
    scope: Scope::Global,
    subs: &[],
    order: "id",
    search_fields: &["address"],
    named_url_parents: &[],
    read_only_api: true,
};

/// Who dials whom on the mesh (AWX's `InstanceLink`: source instance → target address).
pub static INSTANCE_PEERS: Relation = Relation {
    table: "instance_peers",
    left: ("instances", "instance_id"),
    right: ("receptor_addresses", "receptoraddress_id"),
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> Row {
        v.as_object().cloned().unwrap()
    }
    fn instance(id: i64, host: &str, node_type: &str) -> Row {
        row(json!({"id": id, "hostname": host, "node_type": node_type, "managed_by_policy": true}))
    }
    fn group(id: i64, name: &str, pct: i64, min: i64, list: &[&str]) -> Row {
        row(
            json!({"id": id, "name": name, "policy_instance_percentage": pct,
                   "policy_instance_minimum": min,
                   "policy_instance_list": serde_json::to_string(list).unwrap()}),
        )
    }

    #[test]
    fn the_installer_groups_split_nodes_by_type() {
        let nodes = [
            instance(1, "ctl", "control"),
            instance(2, "hyb", "hybrid"),
            instance(3, "ex1", "execution"),
            instance(4, "hop", "hop"),
        ];
        let groups = [
            group(1, CONTROL_PLANE, 100, 0, &[]),
            group(2, DEFAULT_GROUP, 100, 0, &[]),
        ];
        let m = policy_members(&nodes, &groups);
        assert_eq!(m[&1], vec![1, 2]);
        assert_eq!(m[&2], vec![2, 3]);
    }

    #[test]
    fn counts_place_the_least_used_instances_and_lists_come_first() {
        let nodes: Vec<Row> = (1..=4)
            .map(|i| instance(i, &format!("e{i}"), "execution"))
            .collect();
        // 4 candidates: 50% is 2 instances; a minimum of 1 takes one more, from those in
        // the fewest groups; a list names its own.
        let groups = [
            group(1, "half", 50, 0, &[]),
            group(2, "one", 0, 1, &[]),
            group(3, "named", 0, 0, &["e4", "nope"]),
        ];
        let m = policy_members(&nodes, &groups);
        assert_eq!(m[&1].len(), 2, "{m:?}");
        assert_eq!(m[&2].len(), 1, "{m:?}");
        assert!(!m[&1].contains(&m[&2][0]), "{m:?}");
        assert_eq!(m[&3], vec![4]);
    }

    #[test]
    fn instances_not_managed_by_policy_join_only_by_name() {
        let mut n = instance(1, "e1", "execution");
        n.insert("managed_by_policy".into(), json!(false));
        let m = policy_members(&[n.clone()], &[group(1, "all", 100, 5, &[])]);
        assert!(m[&1].is_empty());
        let m = policy_members(&[n], &[group(1, "all", 0, 0, &["e1"])]);
        assert_eq!(m[&1], vec![1]);
    }

    #[test]
    fn hop_and_control_nodes_are_refused_by_hand() {
        assert!(may_join("h", "hop").unwrap_err().contains("hop node"));
        assert!(may_join("c", "control").is_err());
        assert!(may_join("e", "execution").is_ok());
    }
}
