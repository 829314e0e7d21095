//! Instances: the nodes of this installation, as AWX lists them — the controller (`control`,
//! or `hybrid` when it runs jobs itself) and each execution node it submits work to. Rows
//! are made by the task role when it starts (AWX's `provision_instance` / `register_peers`),
//! figures come from health checks; through the API only `capacity_adjustment`, `enabled` and
//! `managed_by_policy` change (admins, PATCH). One row per hostname, so heartbeats of several
//! task processes can later write their own rows and `last_seen`.

use crate::schema::{Default as D, Field, Kind, Resource, Scope};

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
    subs: &[],
    order: "hostname",
    search_fields: &["hostname"],
    named_url_parents: &[],
    read_only_api: true,
};
