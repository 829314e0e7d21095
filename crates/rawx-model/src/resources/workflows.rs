//! Workflows (AWX's `awx/main/models/workflow.py`): the nodes of a workflow template, the
//! workflow jobs a launch makes, and the nodes of each workflow job, with the three kinds of
//! edges between nodes (`success_nodes`, `failure_nodes`, `always_nodes`).

use super::jobs::{unified_job_fields, JobKind, JOB_STATUS, LAUNCH_TYPES};
use super::{fk, DESCRIPTION, NAME};
use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};

const INT: Kind = Kind::Int {
    min: None,
    max: None,
};
const fn ro(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field::new(name, label, kind).read_only()
}
const fn ro_text(name: &'static str, label: &'static str) -> Field {
    ro(name, label, Kind::Text).default(D::Str(""))
}
const fn ro_bool(name: &'static str, label: &'static str) -> Field {
    ro(name, label, Kind::Bool).default(D::Bool(false))
}
const fn opt_text(name: &'static str, label: &'static str) -> Field {
    Field::new(name, label, Kind::Text).nullable()
}

/// The job types a node may prompt for (AWX's `NEW_JOB_TYPE_CHOICES`).
const NODE_JOB_TYPES: &[(&str, &str)] = &[("run", "Run"), ("check", "Check")];

/// AWX's `LaunchConfig` fields a node saves: each `null` when the node does not set it (the
/// template's own value then applies).
macro_rules! launch_config_fields {
    ([$($pre:expr),* $(,)?], [$($post:expr),* $(,)?]) => {
        &[
            $($pre,)*
            Field::new("extra_data", "Extra data", Kind::Json).default(D::EmptyObject),
            fk("inventory", "Inventory", "inventories")
                .help("Inventory applied as a prompt, assuming job template prompts for inventory")
                .nullable(),
            opt_text("scm_branch", "Scm branch"),
            Field::new("job_type", "Job type", Kind::Choice(NODE_JOB_TYPES)).nullable(),
            opt_text("job_tags", "Job tags"),
            opt_text("skip_tags", "Skip tags"),
            opt_text("limit", "Limit"),
            Field::new("diff_mode", "Diff mode", Kind::Bool).nullable(),
            Field::new("verbosity", "Verbosity", Kind::IntChoice(super::VERBOSITY)).nullable(),
            fk("execution_environment", "Execution environment", "execution_environments")
                .help("The container image to be used for execution.")
                .nullable(),
            Field::new("forks", "Forks", Kind::Int { min: Some(0), max: None }).nullable(),
            Field::new("job_slice_count", "Job slice count", Kind::Int { min: Some(0), max: None })
                .nullable(),
            Field::new("timeout", "Timeout", INT).nullable(),
            Field::new("all_parents_must_converge", "All parents must converge", Kind::Bool)
                .help("If enabled then the node will only run if all of the parent nodes have met the criteria to reach this node")
                .default(D::Bool(false)),
            Field::new("identifier", "Identifier", Kind::Str { max: 512 })
                .help("An identifier for this node that is unique within its workflow. It is copied to workflow job nodes corresponding to this node."),
            $($post,)*
        ]
    };
}

pub static WORKFLOW_JOB_TEMPLATE_NODES: Resource = Resource {
    key: "workflow_job_template_nodes",
    type_name: "workflow_job_template_node",
    verbose: "Workflow Job Template Node",
    fields: launch_config_fields!(
        [
            fk(
                "workflow_job_template",
                "Workflow job template",
                "workflow_job_templates"
            )
            .required(),
            // Any kind of template (AWX's `UnifiedJobTemplate` foreign key): checked by the
            // nodes' module, as the kinds live in several tables.
            Field::new("unified_job_template", "Unified job template", INT).nullable(),
        ],
        [
            // Who may see it: its workflow's organization, kept by the module.
            fk("organization", "", "organizations")
                .internal()
                .nullable(),
        ]
    ),
    name_field: None,
    unique: &[&["identifier", "workflow_job_template"]],
    scope: Scope::Via(&["workflow_job_template", "organization"]),
    subs: &[
        Sub {
            name: "success_nodes",
            list: SubList::Linked {
                relation: &WFJT_NODE_SUCCESS,
                from_left: true,
            },
        },
        Sub {
            name: "failure_nodes",
            list: SubList::Linked {
                relation: &WFJT_NODE_FAILURE,
                from_left: true,
            },
        },
        Sub {
            name: "always_nodes",
            list: SubList::Linked {
                relation: &WFJT_NODE_ALWAYS,
                from_left: true,
            },
        },
        Sub {
            name: "credentials",
            list: SubList::Linked {
                relation: &WFJT_NODE_CREDENTIALS,
                from_left: true,
            },
        },
        Sub {
            name: "instance_groups",
            list: SubList::Linked {
                relation: &WFJT_NODE_INSTANCE_GROUPS,
                from_left: true,
            },
        },
    ],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: false,
};

const fn edge(table: &'static str, res: &'static str) -> Relation {
    Relation {
        table,
        left: (res, "from_node_id"),
        right: (res, "to_node_id"),
    }
}

pub static WFJT_NODE_SUCCESS: Relation = edge(
    "workflow_job_template_node_success_nodes",
    "workflow_job_template_nodes",
);
pub static WFJT_NODE_FAILURE: Relation = edge(
    "workflow_job_template_node_failure_nodes",
    "workflow_job_template_nodes",
);
pub static WFJT_NODE_ALWAYS: Relation = edge(
    "workflow_job_template_node_always_nodes",
    "workflow_job_template_nodes",
);
pub static WFJT_NODE_CREDENTIALS: Relation = Relation {
    table: "workflow_job_template_node_credentials",
    left: ("workflow_job_template_nodes", "node_id"),
    right: ("credentials", "credential_id"),
};

/// A node's instance groups (its launch configuration's `instance_groups`), copied to the
/// workflow job's node and given to the job it spawns.
pub static WFJT_NODE_INSTANCE_GROUPS: Relation = Relation {
    table: "workflow_job_template_node_instance_groups",
    left: ("workflow_job_template_nodes", "node_id"),
    right: ("instance_groups", "instancegroup_id"),
};

pub static WFJ_NODE_SUCCESS: Relation =
    edge("workflow_job_node_success_nodes", "workflow_job_nodes");
pub static WFJ_NODE_FAILURE: Relation =
    edge("workflow_job_node_failure_nodes", "workflow_job_nodes");
pub static WFJ_NODE_ALWAYS: Relation = edge("workflow_job_node_always_nodes", "workflow_job_nodes");
pub static WFJ_NODE_CREDENTIALS: Relation = Relation {
    table: "workflow_job_node_credentials",
    left: ("workflow_job_nodes", "node_id"),
    right: ("credentials", "credential_id"),
};

pub static WFJ_NODE_INSTANCE_GROUPS: Relation = Relation {
    table: "workflow_job_node_instance_groups",
    left: ("workflow_job_nodes", "node_id"),
    right: ("instance_groups", "instancegroup_id"),
};

/// The three kinds of edges, in AWX's order, for template nodes and job nodes.
pub static WFJT_EDGES: [(&str, &Relation); 3] = [
    ("success_nodes", &WFJT_NODE_SUCCESS),
    ("failure_nodes", &WFJT_NODE_FAILURE),
    ("always_nodes", &WFJT_NODE_ALWAYS),
];
pub static WFJ_EDGES: [(&str, &Relation); 3] = [
    ("success_nodes", &WFJ_NODE_SUCCESS),
    ("failure_nodes", &WFJ_NODE_FAILURE),
    ("always_nodes", &WFJ_NODE_ALWAYS),
];

/// A run of a workflow template (AWX's `WorkflowJob`): no work unit of its own; the task
/// role's workflow engine spawns its nodes' jobs and decides its end.
pub static WORKFLOW_JOBS: Resource = Resource {
    key: "workflow_jobs",
    type_name: "workflow_job",
    verbose: "Workflow Job",
    fields: unified_job_fields!(
        [
            NAME,
            DESCRIPTION,
            ro("unified_job_template", "unified job template", INT).nullable(),
        ],
        [
            fk("workflow_job_template", "Workflow job template", "workflow_job_templates")
                .read_only()
                .nullable(),
            ro("extra_vars", "Extra vars", Kind::Text).default(D::Str("")),
            ro("allow_simultaneous", "Allow simultaneous", Kind::Bool).default(D::Bool(false)),
            fk("job_template", "Job template", "job_templates")
                .help("If automatically created for a sliced job run, the job template the workflow job was created from.")
                .read_only()
                .nullable(),
            ro("is_sliced_job", "Is sliced job", Kind::Bool).default(D::Bool(false)),
            fk("inventory", "Inventory", "inventories")
                .help("Inventory applied as a prompt, assuming job template prompts for inventory")
                .read_only()
                .nullable(),
            ro("limit", "Limit", Kind::Text).nullable(),
            ro("scm_branch", "Scm branch", Kind::Text).nullable(),
            ro("webhook_service", "Webhook service", Kind::Text).default(D::Str("")),
            ro("webhook_credential", "Webhook credential", INT).nullable(),
            ro("webhook_guid", "Webhook guid", Kind::Text).default(D::Str("")),
            ro("skip_tags", "Skip tags", Kind::Text).nullable(),
            ro("job_tags", "Job tags", Kind::Text).nullable(),
            fk("organization", "Organization", "organizations")
                .read_only()
                .nullable(),
            // The schedule that launched it (`launch_type: scheduled`).
            Field::new("schedule", "", INT).internal().nullable(),
        ]
    ),
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["organization"]),
    subs: &[
        Sub {
            name: "workflow_nodes",
            list: SubList::Children {
                resource: "workflow_job_nodes",
                fk: "workflow_job",
            },
        },
        super::ACTIVITY_SUB,
        Sub {
            name: "labels",
            list: SubList::Linked {
                relation: &super::WFJ_LABELS,
                from_left: true,
            },
        },
    ],
    order: "-id",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: true,
};

pub static WORKFLOW_JOB_NODES: Resource = Resource {
    key: "workflow_job_nodes",
    type_name: "workflow_job_node",
    verbose: "Workflow Job Node",
    fields: launch_config_fields!(
        [
            // Any kind of job (AWX's `UnifiedJob`), so `job__name=` spans to it (the
            // collection's `workflow_approval` finds an approval so).
            fk("job", "Job", "unified_jobs").read_only().nullable(),
            fk("workflow_job", "Workflow job", "workflow_jobs").read_only(),
            ro("unified_job_template", "Unified job template", INT).nullable(),
        ],
        [
            ro("do_not_run", "Do not run", Kind::Bool)
                .help("Indicates that a job will not be created when True. Workflow runtime semantics will mark this True if the node is in a path that will decidedly not be ran. A value of False means the node may not run.")
                .default(D::Bool(false)),
            fk("organization", "", "organizations")
                .internal()
                .nullable(),
            // What its parents' jobs passed down (`set_stats`), for its children (AWX's
            // `ancestor_artifacts`).
            Field::new("ancestor_artifacts", "", Kind::Json)
                .internal()
                .default(D::EmptyObject),
        ]
    ),
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["workflow_job", "organization"]),
    subs: &[
        Sub {
            name: "success_nodes",
            list: SubList::Linked {
                relation: &WFJ_NODE_SUCCESS,
                from_left: true,
            },
        },
        Sub {
            name: "failure_nodes",
            list: SubList::Linked {
                relation: &WFJ_NODE_FAILURE,
                from_left: true,
            },
        },
        Sub {
            name: "always_nodes",
            list: SubList::Linked {
                relation: &WFJ_NODE_ALWAYS,
                from_left: true,
            },
        },
        Sub {
            name: "credentials",
            list: SubList::Linked {
                relation: &WFJ_NODE_CREDENTIALS,
                from_left: true,
            },
        },
        Sub {
            name: "instance_groups",
            list: SubList::Linked {
                relation: &WFJ_NODE_INSTANCE_GROUPS,
                from_left: true,
            },
        },
    ],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};

/// Workflow jobs are a kind of unified job with no events of their own (AWX serves no
/// `stdout/` for them); the kind exists for status messages, cancel and `/unified_jobs/`.
/// It is not in [`super::JOB_KINDS`]: the task manager and dispatcher never run one, the
/// workflow engine does. Its "events" are its nodes, so nothing reads events of it.
pub static WORKFLOW_JOB_KIND: JobKind = JobKind {
    resource: &WORKFLOW_JOBS,
    events: &WORKFLOW_JOB_NODES,
    event_parent: "workflow_job",
    events_group: "workflow_events",
};
