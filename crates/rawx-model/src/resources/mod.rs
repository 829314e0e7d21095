//! The resources rawx serves, described once. Field names, labels, defaults and choices follow
//! AWX 24.6 so that AWX's clients, which build their flags from OPTIONS, work unchanged.

mod access;
mod ee;
mod instances;
mod inventory;
mod jobs;
mod schedules;
mod templates;

use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};

pub use access::*;
pub use ee::*;
pub use instances::*;
pub use inventory::*;
pub use jobs::*;
pub use schedules::*;
pub use templates::*;

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
    &LABELS,
];

pub fn by_key(key: &str) -> Option<&'static Resource> {
    ALL.iter().copied().find(|r| r.key == key)
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
        Sub {
            name: "users",
            list: SubList::Linked {
                relation: &ORG_MEMBERS,
                from_left: true,
            },
        },
        Sub {
            name: "admins",
            list: SubList::Linked {
                relation: &ORG_ADMINS,
                from_left: true,
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
