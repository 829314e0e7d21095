//! The resources rawx serves, described once. Field names, labels, defaults and choices follow
//! AWX 24.6 so that AWX's clients, which build their flags from OPTIONS, work unchanged.

mod access;
mod activity_stream;
mod approvals;
mod ee;
mod instances;
mod inventory;
mod inventory_sources;
mod jobs;
mod notifications;
mod roles;
mod schedules;
mod templates;
mod workflows;

use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};

pub use access::*;
pub use activity_stream::*;
pub use approvals::*;
pub use ee::*;
pub use instances::*;
pub use inventory::*;
pub use inventory_sources::*;
pub use jobs::*;
pub use notifications::*;
pub use roles::*;
pub use schedules::*;
pub use templates::*;
pub use workflows::*;

pub(crate) const NAME: Field = Field::new("name", "Name", Kind::Str { max: 512 })
    .help("Name of this object.")
    .required();
pub(crate) const DESCRIPTION: Field = Field::new("description", "Description", Kind::Text)
    .help("Optional description of this object.")
    .default(D::Str(""));

pub(crate) const fn fk(name: &'static str, label: &'static str, target: &'static str) -> Field {
    Field::new(name, label, Kind::Fk(target))
}

/// Every public and internal resource, in the order `/api/v2/` lists them.
pub static ALL: &[&Resource] = &[
    &ORGANIZATIONS,
    &USERS,
    &TEAMS,
    &PROJECTS,
    &CREDENTIALS,
    &CREDENTIAL_TYPES,
    &CREDENTIAL_INPUT_SOURCES,
    &INVENTORIES,
    &HOSTS,
    &GROUPS,
    &JOB_TEMPLATES,
    &WORKFLOW_JOB_TEMPLATES,
    // Before jobs: a job's `schedule` refers to it.
    &SCHEDULES,
    &INSTANCE_GROUPS,
    &EXECUTION_ENVIRONMENTS,
    &INSTANCES,
    &RECEPTOR_ADDRESSES,
    &JOBS,
    &JOB_EVENTS,
    &JOB_HOST_SUMMARIES,
    &TOKENS,
    &SESSIONS,
    &SETTINGS,
    &AD_HOC_COMMANDS,
    &AD_HOC_COMMAND_EVENTS,
    &PROJECT_UPDATES,
    &PROJECT_UPDATE_EVENTS,
    &INVENTORY_SOURCES,
    &INVENTORY_UPDATES,
    &INVENTORY_UPDATE_EVENTS,
    &LABELS,
    &ROLES,
    &ROLE_PARENTS,
    &ROLE_ANCESTORS,
    &ROLE_DEFINITIONS,
    &ROLE_USER_ASSIGNMENTS,
    &ROLE_TEAM_ASSIGNMENTS,
    &WORKFLOW_JOB_TEMPLATE_NODES,
    &WORKFLOW_JOBS,
    &WORKFLOW_JOB_NODES,
    &WORKFLOW_APPROVAL_TEMPLATES,
    &WORKFLOW_APPROVALS,
    &ACTIVITY_STREAM,
    &NOTIFICATION_TEMPLATES,
    &NOTIFICATIONS,
];

/// The column of a parent table ([`PARENT_TABLES`]) naming the kind of each row: the child
/// resource's `type_name` (AWX's `polymorphic_ctype`).
pub const TYPE_COLUMN: &str = "polymorphic_type";

/// Tables that are no resource of their own in the API's sense but the parent of several
/// (AWX's multi-table inheritance). Created with the others; listed by their own endpoints.
pub static PARENT_TABLES: &[&Resource] = &[&UNIFIED_JOBS, &UNIFIED_JOB_TEMPLATES];

/// `(child, parent)`: the child's row shares its id with a parent row, which repeats the
/// child's columns of the same names ([`inherited_columns`]). The store inserts the parent row
/// first (its id is the child's), writes those columns to both in one transaction, and a
/// trigger deletes the parent row with the child (also when a cascade takes the child).
/// A new kind of job is one more line here and one [`JobKind`].
pub static PARENTS: &[(&Resource, &Resource)] = &[
    (&JOBS, &UNIFIED_JOBS),
    (&AD_HOC_COMMANDS, &UNIFIED_JOBS),
    (&PROJECT_UPDATES, &UNIFIED_JOBS),
    (&INVENTORY_UPDATES, &UNIFIED_JOBS),
    (&WORKFLOW_JOBS, &UNIFIED_JOBS),
    (&WORKFLOW_APPROVALS, &UNIFIED_JOBS),
    (&JOB_TEMPLATES, &UNIFIED_JOB_TEMPLATES),
    (&WORKFLOW_JOB_TEMPLATES, &UNIFIED_JOB_TEMPLATES),
    (&PROJECTS, &UNIFIED_JOB_TEMPLATES),
    (&INVENTORY_SOURCES, &UNIFIED_JOB_TEMPLATES),
    (&WORKFLOW_APPROVAL_TEMPLATES, &UNIFIED_JOB_TEMPLATES),
];

/// The kinds whose parent is `parent`, in [`PARENTS`] order.
pub fn children_of(parent: &Resource) -> impl Iterator<Item = &'static Resource> + '_ {
    PARENTS
        .iter()
        .filter(move |(_, p)| p.key == parent.key)
        .map(|(c, _)| *c)
}

/// The parent table of `res`, if it has one.
pub fn parent_of(res: &Resource) -> Option<&'static Resource> {
    PARENTS
        .iter()
        .find(|(c, _)| c.key == res.key)
        .map(|(_, p)| *p)
}

/// The stored columns `child` shares with `parent` (base columns included), which the parent
/// row repeats: every parent column but the type.
pub fn inherited_columns(
    parent: &'static Resource,
    child: &'static Resource,
) -> impl Iterator<Item = &'static str> {
    parent
        .columns()
        .map(|(c, _)| c)
        .filter(move |c| *c != TYPE_COLUMN && child.column_type(c).is_some())
}

/// A resource, or a parent table (which a foreign key may name: a schedule's template), by
/// its key.
pub fn by_key(key: &str) -> Option<&'static Resource> {
    ALL.iter()
        .chain(PARENT_TABLES)
        .copied()
        .find(|r| r.key == key)
}

/// Is `res` a parent table ([`PARENT_TABLES`]): listed by its own endpoints, no detail of its
/// own?
pub fn is_parent_table(res: &Resource) -> bool {
    PARENT_TABLES.iter().any(|p| p.key == res.key)
}

/// A resource or a parent table by key: what a foreign key may name (a workflow node's
/// `job` is any kind of job, a row of [`UNIFIED_JOBS`]).
pub fn table_by_key(key: &str) -> Option<&'static Resource> {
    by_key(key).or_else(|| PARENT_TABLES.iter().copied().find(|r| r.key == key))
}

pub static RELATIONS: &[&Relation] = &[
    &ORG_MEMBERS,
    &ORG_ADMINS,
    &TEAM_MEMBERS,
    &GROUP_HOSTS,
    &GROUP_CHILDREN,
    &JT_CREDENTIALS,
    &JOB_CREDENTIALS,
    &INSTANCE_GROUP_MEMBERS,
    &INSTANCE_PEERS,
    &JT_INSTANCE_GROUPS,
    &INVENTORY_INSTANCE_GROUPS,
    &ORG_INSTANCE_GROUPS,
    &ORG_GALAXY_CREDENTIALS,
    &JT_LABELS,
    &JOB_LABELS,
    &WFJT_LABELS,
    &WFJ_LABELS,
    &ROLE_USERS,
    &INVENTORY_SOURCE_HOSTS,
    &INVENTORY_SOURCE_GROUPS,
    &INVENTORY_SOURCE_CREDENTIALS,
    &INVENTORY_UPDATE_CREDENTIALS,
    &INVENTORY_INPUT_INVENTORIES,
    &JT_NT_STARTED,
    &JT_NT_SUCCESS,
    &JT_NT_ERROR,
    &PROJECT_NT_STARTED,
    &PROJECT_NT_SUCCESS,
    &PROJECT_NT_ERROR,
    &INVSRC_NT_STARTED,
    &INVSRC_NT_SUCCESS,
    &INVSRC_NT_ERROR,
    &ORG_NT_STARTED,
    &ORG_NT_SUCCESS,
    &ORG_NT_ERROR,
    &ORG_NT_APPROVALS,
    &WFJT_NT_STARTED,
    &WFJT_NT_SUCCESS,
    &WFJT_NT_ERROR,
    &WFJT_NT_APPROVALS,
    &SCHEDULE_CREDENTIALS,
    &SCHEDULE_LABELS,
    &SCHEDULE_INSTANCE_GROUPS,
    &WFJT_NODE_INSTANCE_GROUPS,
    &WFJ_NODE_INSTANCE_GROUPS,
    &WFJT_NODE_SUCCESS,
    &WFJT_NODE_FAILURE,
    &WFJT_NODE_ALWAYS,
    &WFJT_NODE_CREDENTIALS,
    &WFJ_NODE_SUCCESS,
    &WFJ_NODE_FAILURE,
    &WFJ_NODE_ALWAYS,
    &WFJ_NODE_CREDENTIALS,
];

/// Tags of an organization, put on templates and copied to the jobs they launch (AWX's
/// `Label`: no description, name unique within the organization).
pub static LABELS: Resource = Resource {
    key: "labels",
    type_name: "label",
    verbose: "Label",
    fields: &[
        NAME,
        fk("organization", "Organization", "organizations")
            .help("Organization this label belongs to.")
            .required(),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[],
    order: "name",
    search_fields: &["name"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

pub static JT_LABELS: Relation = Relation {
    table: "job_template_labels",
    left: ("job_templates", "job_template_id"),
    right: ("labels", "label_id"),
};

pub static WFJT_LABELS: Relation = Relation {
    table: "workflow_job_template_labels",
    left: ("workflow_job_templates", "workflow_job_template_id"),
    right: ("labels", "label_id"),
};

pub static WFJ_LABELS: Relation = Relation {
    table: "workflow_job_labels",
    left: ("workflow_jobs", "workflow_job_id"),
    right: ("labels", "label_id"),
};

pub static JOB_LABELS: Relation = Relation {
    table: "job_labels",
    left: ("jobs", "job_id"),
    right: ("labels", "label_id"),
};

/// The Galaxy servers an organization's project updates install content from (AWX keeps
/// their order; rawx lists them by id, see ARCHITECTURE.md).
pub static ORG_GALAXY_CREDENTIALS: Relation = Relation {
    table: "organization_galaxy_credentials",
    left: ("organizations", "organization_id"),
    right: ("credentials", "credential_id"),
};

// Organization and team membership before roles (issue 19): `rawx_domain::roles::backfill`
// moves what these tables hold into member and admin role grants, then empties them.
pub static ORG_MEMBERS: Relation = Relation {
    table: "organization_members",
    left: ("organizations", "organization_id"),
    right: ("users", "user_id"),
};
pub static ORG_ADMINS: Relation = Relation {
    table: "organization_admins",
    left: ("organizations", "organization_id"),
    right: ("users", "user_id"),
};
pub static TEAM_MEMBERS: Relation = Relation {
    table: "team_members",
    left: ("teams", "team_id"),
    right: ("users", "user_id"),
};
pub static GROUP_HOSTS: Relation = Relation {
    table: "group_hosts",
    left: ("groups", "group_id"),
    right: ("hosts", "host_id"),
};
pub static GROUP_CHILDREN: Relation = Relation {
    table: "group_children",
    left: ("groups", "parent_id"),
    right: ("groups", "child_id"),
};
pub static JT_CREDENTIALS: Relation = Relation {
    table: "job_template_credentials",
    left: ("job_templates", "job_template_id"),
    right: ("credentials", "credential_id"),
};

pub static JOB_CREDENTIALS: Relation = Relation {
    table: "job_credentials",
    left: ("jobs", "job_id"),
    right: ("credentials", "credential_id"),
};

pub static ORGANIZATIONS: Resource = Resource {
    key: "organizations",
    type_name: "organization",
    verbose: "Organization",
    fields: &[
        NAME,
        DESCRIPTION,
        Field::new(
            "max_hosts",
            "Max hosts",
            Kind::Int {
                min: Some(0),
                max: Some(2147483647),
            },
        )
        .help("Maximum number of hosts allowed to be managed by this organization.")
        .default(D::Int(0)),
        fk(
            "default_environment",
            "Default Execution Environment",
            "execution_environments",
        )
        .help("The default execution environment for jobs run by this organization.")
        .nullable(),
        Field::new(
            "custom_virtualenv",
            "Custom virtualenv",
            Kind::Str { max: 100 },
        )
        .help("Local absolute file path containing a custom Python virtualenv to use")
        .read_only()
        .nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["name"]],
    scope: Scope::Organization,
    subs: &[
        ACTIVITY_SUB,
        Sub {
            name: "notification_templates_started",
            list: SubList::Linked {
                relation: &ORG_NT_STARTED,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_success",
            list: SubList::Linked {
                relation: &ORG_NT_SUCCESS,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_error",
            list: SubList::Linked {
                relation: &ORG_NT_ERROR,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_approvals",
            list: SubList::Linked {
                relation: &ORG_NT_APPROVALS,
                from_left: true,
            },
        },
        Sub {
            name: "users",
            list: SubList::Role {
                content_type: "organizations",
                role_field: "member_role",
                on_object: true,
            },
        },
        Sub {
            name: "admins",
            list: SubList::Role {
                content_type: "organizations",
                role_field: "admin_role",
                on_object: true,
            },
        },
        Sub {
            name: "teams",
            list: SubList::Children {
                resource: "teams",
                fk: "organization",
            },
        },
        Sub {
            name: "inventories",
            list: SubList::Children {
                resource: "inventories",
                fk: "organization",
            },
        },
        Sub {
            name: "projects",
            list: SubList::Children {
                resource: "projects",
                fk: "organization",
            },
        },
        Sub {
            name: "credentials",
            list: SubList::Children {
                resource: "credentials",
                fk: "organization",
            },
        },
        Sub {
            name: "job_templates",
            list: SubList::Children {
                resource: "job_templates",
                fk: "organization",
            },
        },
        Sub {
            name: "execution_environments",
            list: SubList::Children {
                resource: "execution_environments",
                fk: "organization",
            },
        },
        Sub {
            name: "instance_groups",
            list: SubList::Linked {
                relation: &ORG_INSTANCE_GROUPS,
                from_left: true,
            },
        },
        Sub {
            name: "galaxy_credentials",
            list: SubList::Linked {
                relation: &ORG_GALAXY_CREDENTIALS,
                from_left: true,
            },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: false,
};

pub static SETTINGS: Resource = Resource {
    key: "settings",
    type_name: "setting",
    verbose: "Setting",
    fields: &[
        Field::new("key", "Key", Kind::Str { max: 255 }).required(),
        Field::new("value", "Value", Kind::Json).nullable(),
    ],
    name_field: Some("key"),
    unique: &[&["key"]],
    scope: Scope::Internal,
    subs: &[],
    order: "key",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: false,
};
