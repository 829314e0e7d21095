//! Inventories that keep themselves current: inventory sources (AWX's `InventorySource`, a
//! kind of unified job template), the inventory updates they run (a kind of unified job:
//! `ansible-inventory --list` in the execution environment, then the import) and their events.
//! Fields, labels, defaults and choices follow AWX 24.6.1's `InventorySourceOptions`,
//! `InventorySource` and `InventoryUpdate` models and their serializers.

use super::jobs::{JobKind, JOB_STATUS, LAUNCH_TYPES};
use super::{fk, DESCRIPTION, NAME};
use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};

/// AWX's `InventorySourceOptions.SOURCE_CHOICES`.
pub const SOURCE_CHOICES: &[(&str, &str)] = &[
    ("file", "File, Directory or Script"),
    (
        "constructed",
        "Template additional groups and hostvars at runtime",
    ),
    ("scm", "Sourced from a Project"),
    ("ec2", "Amazon EC2"),
    ("gce", "Google Compute Engine"),
    ("azure_rm", "Microsoft Azure Resource Manager"),
    ("vmware", "VMware vCenter"),
    ("satellite6", "Red Hat Satellite 6"),
    ("openstack", "OpenStack"),
    ("rhv", "Red Hat Virtualization"),
    ("controller", "Red Hat Ansible Automation Platform"),
    ("insights", "Red Hat Insights"),
    ("terraform", "Terraform State"),
    ("openshift_virtualization", "OpenShift Virtualization"),
];

/// AWX's `CLOUD_PROVIDERS`: the sources that read a cloud through a collection's plugin.
pub const CLOUD_PROVIDERS: &[&str] = &[
    "azure_rm",
    "ec2",
    "gce",
    "vmware",
    "openstack",
    "rhv",
    "satellite6",
    "controller",
    "insights",
    "terraform",
    "openshift_virtualization",
];

/// `INVENTORY_UPDATE_VERBOSITY_CHOICES` (the Django command's levels).
pub const UPDATE_VERBOSITY: &[(i64, &str)] =
    &[(0, "0 (WARNING)"), (1, "1 (INFO)"), (2, "2 (DEBUG)")];

/// `INVENTORY_SOURCE_STATUS_CHOICES`.
pub const SOURCE_STATUS: &[(&str, &str)] = &[
    ("new", "New"),
    ("pending", "Pending"),
    ("waiting", "Waiting"),
    ("running", "Running"),
    ("successful", "Successful"),
    ("failed", "Failed"),
    ("error", "Error"),
    ("canceled", "Canceled"),
    ("never updated", "Never Updated"),
    ("none", "No External Source"),
];

/// The fields an inventory source and its updates share (`InventorySourceOptions`), in the
/// serializer's order; `credential` is AWX's deprecated single cloud credential, kept here as
/// a column (the `credentials` sub-list holds it and any others).
macro_rules! source_options {
    ([$($pre:expr),* $(,)?], [$($post:expr),* $(,)?]) => {
        &[
            $($pre,)*
            Field::new("source", "Source", Kind::Choice(SOURCE_CHOICES)).required(),
            Field::new("source_path", "Source path", Kind::Str { max: 1024 }).default(D::Str("")),
            Field::new("source_vars", "Source vars", Kind::Vars)
                .help("Inventory source variables in YAML or JSON format.")
                .default(D::Str("")),
            Field::new("scm_branch", "Scm branch", Kind::Str { max: 1024 })
                .help("Inventory source SCM branch. Project default used if blank. Only allowed if project allow_override field is set to true.")
                .default(D::Str("")),
            fk("credential", "Credential", "credentials")
                .help("Cloud credential to use for inventory updates.")
                .nullable(),
            Field::new("enabled_var", "Enabled var", Kind::Text)
                .help("Retrieve the enabled state from the given dict of host variables. The enabled variable may be specified as \"foo.bar\", in which case the lookup will traverse into nested dicts, equivalent to: from_dict.get(\"foo\", {}).get(\"bar\", default)")
                .default(D::Str("")),
            Field::new("enabled_value", "Enabled value", Kind::Text)
                .help("Only used when enabled_var is set. Value when the host is considered enabled. For example if enabled_var=\"status.power_state\"and enabled_value=\"powered_on\" with host variables:{   \"status\": {     \"power_state\": \"powered_on\",     \"created\": \"2020-08-04T18:13:04+00:00\",     \"healthy\": true    },    \"name\": \"foobar\",    \"ip_address\": \"192.168.2.1\"}The host would be marked enabled. If power_state where any value other than powered_on then the host would be disabled when imported. If the key is not found then the host will be enabled")
                .default(D::Str("")),
            Field::new("host_filter", "Host filter", Kind::Text)
                .help("This field is deprecated and will be removed in a future release. Regex where only matching hosts will be imported.")
                .default(D::Str("")),
            Field::new("overwrite", "Overwrite", Kind::Bool)
                .help("Overwrite local groups and hosts from remote inventory source.")
                .default(D::Bool(false)),
            Field::new("overwrite_vars", "Overwrite vars", Kind::Bool)
                .help("Overwrite local variables from remote inventory source.")
                .default(D::Bool(false)),
            Field::new("custom_virtualenv", "Custom virtualenv", Kind::Str { max: 100 })
                .help("Local absolute file path containing a custom Python virtualenv to use")
                .read_only()
                .nullable(),
            Field::new("timeout", "Timeout", Kind::Int { min: Some(-2147483648), max: Some(2147483647) })
                .help("The amount of time (in seconds) to run before the task is canceled.")
                .default(D::Int(0)),
            Field::new("verbosity", "Verbosity", Kind::IntChoice(UPDATE_VERBOSITY)).default(D::Int(1)),
            Field::new("limit", "Limit", Kind::Text)
                .help("Enter host, group or pattern match")
                .default(D::Str("")),
            $($post,)*
        ]
    };
}

pub static INVENTORY_SOURCES: Resource = Resource {
    key: "inventory_sources",
    type_name: "inventory_source",
    verbose: "Inventory Source",
    fields: source_options!(
        [NAME, DESCRIPTION],
        [
            Field::new("last_job_run", "Last job run", Kind::DateTime)
                .read_only()
                .nullable(),
            Field::new("last_job_failed", "Last job failed", Kind::Bool)
                .read_only()
                .default(D::Bool(false)),
            Field::new("next_job_run", "Next job run", Kind::DateTime)
                .read_only()
                .nullable(),
            Field::new("status", "Status", Kind::Choice(SOURCE_STATUS))
                .read_only()
                .default(D::Str("never updated")),
            fk(
                "execution_environment",
                "Execution environment",
                "execution_environments"
            )
            .help("The container image to be used for execution.")
            .nullable(),
            fk("inventory", "Inventory", "inventories").required(),
            Field::new("update_on_launch", "Update on launch", Kind::Bool).default(D::Bool(false)),
            Field::new(
                "update_cache_timeout",
                "Update cache timeout",
                Kind::Int {
                    min: Some(0),
                    max: Some(2147483647)
                }
            )
            .default(D::Int(0)),
            fk("source_project", "Source project", "projects")
                .help("Project containing inventory file used as source.")
                .nullable(),
            Field::new("last_update_failed", "Last update failed", Kind::Bool)
                .read_only()
                .default(D::Bool(false)),
            Field::new("last_updated", "Last updated", Kind::DateTime)
                .read_only()
                .nullable(),
            // The inventory's organization, copied when the source is made (AWX's `save`):
            // the unified job templates' read rule goes by it.
            fk("organization", "", "organizations")
                .internal()
                .nullable(),
        ]
    ),
    name_field: Some("name"),
    // AWX's `SOFT_UNIQUE_TOGETHER`: a name once per inventory.
    unique: &[&["name", "inventory"]],
    scope: Scope::Via(&["inventory", "organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "notification_templates_started",
            list: SubList::Linked {
                relation: &super::INVSRC_NT_STARTED,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_success",
            list: SubList::Linked {
                relation: &super::INVSRC_NT_SUCCESS,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_error",
            list: SubList::Linked {
                relation: &super::INVSRC_NT_ERROR,
                from_left: true,
            },
        },
        Sub {
            name: "credentials",
            list: SubList::Linked {
                relation: &INVENTORY_SOURCE_CREDENTIALS,
                from_left: true,
            },
        },
        Sub {
            name: "schedules",
            list: SubList::Children {
                resource: "schedules",
                fk: "unified_job_template",
            },
        },
        Sub {
            name: "inventory_updates",
            list: SubList::Children {
                resource: "inventory_updates",
                fk: "inventory_source",
            },
        },
        Sub {
            name: "hosts",
            list: SubList::Linked {
                relation: &INVENTORY_SOURCE_HOSTS,
                from_left: true,
            },
        },
        Sub {
            name: "groups",
            list: SubList::Linked {
                relation: &INVENTORY_SOURCE_GROUPS,
                from_left: true,
            },
        },
    ],
    // AWX's `InventorySource.Meta.ordering`.
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["inventory"],
    read_only_api: false,
};

/// The hosts and groups an inventory source brought in (AWX's `InventorySource.hosts` and
/// `.groups`): what its `overwrite` may remove, and `/hosts/N/inventory_sources/`.
pub static INVENTORY_SOURCE_HOSTS: Relation = Relation {
    table: "inventory_source_hosts",
    left: ("inventory_sources", "inventory_source_id"),
    right: ("hosts", "host_id"),
};
pub static INVENTORY_SOURCE_GROUPS: Relation = Relation {
    table: "inventory_source_groups",
    left: ("inventory_sources", "inventory_source_id"),
    right: ("groups", "group_id"),
};
pub static INVENTORY_SOURCE_CREDENTIALS: Relation = Relation {
    table: "inventory_source_credentials",
    left: ("inventory_sources", "inventory_source_id"),
    right: ("credentials", "credential_id"),
};
/// A constructed inventory's input inventories (AWX's `input_inventories`).
pub static INVENTORY_INPUT_INVENTORIES: Relation = Relation {
    table: "inventory_input_inventories",
    left: ("inventories", "constructed_inventory_id"),
    right: ("inventories", "input_inventory_id"),
};
pub static INVENTORY_UPDATE_CREDENTIALS: Relation = Relation {
    table: "inventory_update_credentials",
    left: ("inventory_updates", "inventory_update_id"),
    right: ("credentials", "credential_id"),
};

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
const fn ro_int(name: &'static str, label: &'static str) -> Field {
    ro(name, label, INT).default(D::Int(0))
}

/// One run of an inventory source. Its option fields are copied from the source when it is
/// made (AWX's `_get_unified_job_field_names`), so a later edit of the source does not change
/// what an update did.
pub static INVENTORY_UPDATES: Resource = Resource {
    key: "inventory_updates",
    type_name: "inventory_update",
    verbose: "Inventory Update",
    fields: super::jobs::unified_job_fields!(
        [NAME, DESCRIPTION, ro("unified_job_template", "unified job template", INT).nullable()],
        [
            ro("source", "Source", Kind::Choice(SOURCE_CHOICES)).default(D::Str("file")),
            ro_text("source_path", "Source path"),
            ro_text("source_vars", "Source vars"),
            ro_text("scm_branch", "Scm branch"),
            fk("credential", "Credential", "credentials").read_only().nullable(),
            ro_text("enabled_var", "Enabled var"),
            ro_text("enabled_value", "Enabled value"),
            ro_text("host_filter", "Host filter"),
            ro_bool("overwrite", "Overwrite"),
            ro_bool("overwrite_vars", "Overwrite vars"),
            ro("custom_virtualenv", "Custom virtualenv", Kind::Text).nullable(),
            ro_int("timeout", "Timeout"),
            ro("verbosity", "Verbosity", Kind::IntChoice(UPDATE_VERBOSITY)).default(D::Int(1)),
            ro_text("limit", "Limit"),
            fk("inventory", "Inventory", "inventories").read_only().nullable(),
            fk("inventory_source", "Inventory source", "inventory_sources").read_only(),
            ro_bool("license_error", "License error"),
            ro_bool("org_host_limit_error", "Org host limit error"),
            ro("source_project_update", "Source project update", INT)
                .help("Inventory files from this Project Update were used for the inventory update.")
                .nullable(),
            ro("instance_group", "Instance group", INT).nullable(),
            ro_text("scm_revision", "SCM Revision")
                .help("The SCM Revision from the Project used for this inventory update.  Only applicable to inventories source from scm"),
            // The inventory's organization: who may see the update.
            fk("organization", "", "organizations").internal().nullable(),
            // The schedule that launched it (`launch_type: scheduled`).
            ro("schedule", "", INT).internal().nullable(),
        ]
    ),
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["inventory", "organization"]),
    subs: &[
        Sub {
            name: "events",
            list: SubList::Children { resource: "inventory_update_events", fk: "inventory_update" },
        },
        Sub {
            name: "credentials",
            list: SubList::Linked { relation: &INVENTORY_UPDATE_CREDENTIALS, from_left: true },
        },
    ],
    order: "-id",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: true,
};

pub static INVENTORY_UPDATE_EVENTS: Resource = Resource {
    key: "inventory_update_events",
    type_name: "inventory_update_event",
    verbose: "Inventory Update Event",
    fields: &[
        ro_text("event", "Event"),
        ro_int("counter", "Counter"),
        ro_text("event_display", "Event display"),
        ro("event_data", "Event data", Kind::Json).default(D::EmptyObject),
        ro_bool("failed", "Failed"),
        ro_bool("changed", "Changed"),
        ro_text("uuid", "Uuid"),
        ro_text("stdout", "Stdout"),
        ro_int("start_line", "Start line"),
        ro_int("end_line", "End line"),
        ro_int("verbosity", "Verbosity"),
        fk("inventory_update", "Inventory update", "inventory_updates").read_only(),
    ],
    name_field: None,
    unique: &[&["inventory_update", "counter"]],
    scope: Scope::Via(&["inventory_update", "inventory", "organization"]),
    subs: &[],
    order: "counter",
    search_fields: &["stdout"],
    named_url_parents: &[],
    read_only_api: true,
};

pub static INVENTORY_UPDATE_KIND: JobKind = JobKind {
    resource: &INVENTORY_UPDATES,
    events: &INVENTORY_UPDATE_EVENTS,
    event_parent: "inventory_update",
    events_group: "inventory_update_events",
};
