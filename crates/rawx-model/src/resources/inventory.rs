//! Where: inventories, their hosts and groups.

use super::{
    fk, DESCRIPTION, GROUP_CHILDREN, GROUP_HOSTS, INVENTORY_INPUT_INVENTORIES,
    INVENTORY_INSTANCE_GROUPS, INVENTORY_SOURCE_GROUPS, INVENTORY_SOURCE_HOSTS, NAME,
};
use crate::schema::{Default as D, Field, Kind, Resource, Scope, Sub, SubList};

const VARIABLES: Field = Field::new("variables", "Variables", Kind::Vars)
    .help("Variables in JSON or YAML format.")
    .default(D::Str(""));

const fn ro_bool(name: &'static str, label: &'static str) -> Field {
    Field::new(name, label, Kind::Bool)
        .read_only()
        .default(D::Bool(false))
}
const fn ro_int(name: &'static str, label: &'static str) -> Field {
    Field::new(
        name,
        label,
        Kind::Int {
            min: Some(0),
            max: None,
        },
    )
    .read_only()
    .default(D::Int(0))
}

pub static INVENTORIES: Resource = Resource {
    key: "inventories",
    type_name: "inventory",
    verbose: "Inventory",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("organization", "Organization", "organizations")
            .help("Organization containing this inventory.")
            .required(),
        Field::new(
            "kind",
            "Kind",
            Kind::Choice(&[
                ("", "Hosts have a direct link to this inventory."),
                ("smart", "Hosts for inventory generated using the host_filter property."),
                ("constructed", "Parse list of source inventories with the constructed inventory plugin."),
            ]),
        )
        .help("Kind of inventory being represented.")
        .default(D::Str("")),
        Field::new("host_filter", "Host filter", Kind::Text)
            .help("Filter that will be applied to the hosts of this inventory.")
            .nullable(),
        VARIABLES.help("Inventory variables in JSON or YAML format."),
        ro_bool("has_active_failures", "Has active failures")
            .help("This field is deprecated and will be removed in a future release. Flag indicating whether any hosts in this inventory have failed."),
        ro_int("total_hosts", "Total hosts"),
        ro_int("hosts_with_active_failures", "Hosts with active failures"),
        ro_int("total_groups", "Total groups"),
        ro_bool("has_inventory_sources", "Has inventory sources"),
        ro_int("total_inventory_sources", "Total inventory sources"),
        ro_int("inventory_sources_with_failures", "Inventory sources with failures"),
        ro_bool("pending_deletion", "Pending deletion")
            .help("Flag indicating the inventory is being deleted."),
        Field::new("prevent_instance_group_fallback", "Prevent instance group fallback", Kind::Bool)
            .help("If enabled, the inventory will prevent adding any organization instance groups to the list of preferred instances groups to run associated job templates on.")
            .default(D::Bool(false)),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub { name: "hosts", list: SubList::Children { resource: "hosts", fk: "inventory" } },
        Sub { name: "groups", list: SubList::Children { resource: "groups", fk: "inventory" } },
        Sub {
            name: "job_templates",
            list: SubList::Children { resource: "job_templates", fk: "inventory" },
        },
        Sub {
            name: "ad_hoc_commands",
            list: SubList::Children { resource: "ad_hoc_commands", fk: "inventory" },
        },
        Sub {
            name: "instance_groups",
            list: SubList::Linked { relation: &INVENTORY_INSTANCE_GROUPS, from_left: true },
        },
        Sub {
            name: "inventory_sources",
            list: SubList::Children { resource: "inventory_sources", fk: "inventory" },
        },
        Sub {
            name: "input_inventories",
            list: SubList::Linked { relation: &INVENTORY_INPUT_INVENTORIES, from_left: true },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

pub static HOSTS: Resource = Resource {
    key: "hosts",
    type_name: "host",
    verbose: "Host",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("inventory", "Inventory", "inventories").required(),
        Field::new("enabled", "Enabled", Kind::Bool)
            .help("Is this host online and available for running jobs?")
            .default(D::Bool(true)),
        Field::new("instance_id", "Instance id", Kind::Str { max: 1024 })
            .help("The value used by the remote inventory source to uniquely identify the host")
            .default(D::Str("")),
        VARIABLES.help("Host variables in JSON or YAML format."),
        ro_bool("has_active_failures", "Has active failures"),
        ro_bool("has_inventory_sources", "Has inventory sources"),
        Field::new(
            "last_job",
            "Last job",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .read_only()
        .nullable(),
        Field::new(
            "last_job_host_summary",
            "Last job host summary",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .read_only()
        .nullable(),
        Field::new(
            "ansible_facts_modified",
            "Ansible facts modified",
            Kind::DateTime,
        )
        .help("The date and time ansible_facts was last modified.")
        .read_only()
        .nullable(),
        // Shown only at `/hosts/N/ansible_facts/` (AWX's serializer leaves it out); written by
        // the jobs that keep a fact cache, read by smart inventories' filters.
        Field::new("ansible_facts", "Ansible facts", Kind::Json)
            .internal()
            .default(D::EmptyObject),
    ],
    name_field: Some("name"),
    unique: &[&["name", "inventory"]],
    scope: Scope::Via(&["inventory", "organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "groups",
            list: SubList::Linked {
                relation: &GROUP_HOSTS,
                from_left: false,
            },
        },
        Sub {
            name: "job_events",
            list: SubList::Children {
                resource: "job_events",
                fk: "host",
            },
        },
        Sub {
            name: "job_host_summaries",
            list: SubList::Children {
                resource: "job_host_summaries",
                fk: "host",
            },
        },
        Sub {
            name: "inventory_sources",
            list: SubList::Linked {
                relation: &INVENTORY_SOURCE_HOSTS,
                from_left: false,
            },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["inventory"],
    read_only_api: false,
};

pub static GROUPS: Resource = Resource {
    key: "groups",
    type_name: "group",
    verbose: "Group",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("inventory", "Inventory", "inventories").required(),
        VARIABLES.help("Group variables in JSON or YAML format."),
    ],
    name_field: Some("name"),
    unique: &[&["name", "inventory"]],
    scope: Scope::Via(&["inventory", "organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "hosts",
            list: SubList::Linked {
                relation: &GROUP_HOSTS,
                from_left: true,
            },
        },
        Sub {
            name: "children",
            list: SubList::Linked {
                relation: &GROUP_CHILDREN,
                from_left: true,
            },
        },
        Sub {
            name: "inventory_sources",
            list: SubList::Linked {
                relation: &INVENTORY_SOURCE_GROUPS,
                from_left: false,
            },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["inventory"],
    read_only_api: false,
};
