//! Execution environments: what jobs run in. AWX's are container images; rawx's is the Python
//! environment of the node's `ansible-runner` (a virtualenv rawx builds, or one the operator
//! installed), shown under AWX's default names with its path as the `image`. Those two are made
//! by rawx at start; others are made through the API as AWX's are (global, or an
//! organization's), and recorded on the jobs that resolve to them.

use super::{fk, DESCRIPTION, NAME};
use crate::schema::{Default as D, Field, Kind, Resource, Scope};

pub const PULL_CHOICES: &[(&str, &str)] = &[
    ("always", "Always pull container before running."),
    (
        "missing",
        "Only pull the image if not present before running.",
    ),
    ("never", "Never pull container before running."),
];

/// AWX's default job environment and its control-plane one (`managed`).
pub const DEFAULT_EE_NAMES: [(&str, bool); 2] = [
    ("AWX EE (latest)", false),
    ("Control Plane Execution Environment", true),
];

pub static EXECUTION_ENVIRONMENTS: Resource = Resource {
    key: "execution_environments",
    type_name: "execution_environment",
    verbose: "Execution Environment",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("organization", "Organization", "organizations")
            .help("The organization used to determine access to this execution environment.")
            .nullable(),
        Field::new("image", "Image location", Kind::Str { max: 1024 })
            .help("The full image location, including the container registry, image name, and version tag.")
            .required(),
        Field::new("managed", "Managed", Kind::Bool)
            .read_only()
            .default(D::Bool(false)),
        fk("credential", "Credential", "credentials").nullable(),
        Field::new("pull", "Pull", Kind::Choice(PULL_CHOICES))
            .help("Pull image before running?")
            .default(D::Str("")),
    ],
    name_field: Some("name"),
    unique: &[],
    // An organization's, readable with its read role; one of no organization is everyone's
    // (the API module says so: `ExecutionEnvironmentAccess.filtered_queryset`).
    scope: Scope::Via(&["organization"]),
    // AWX's `unified_job_templates/` (every kind of template naming it) is the API module's
    // route: its members are rows of a parent table.
    subs: &[super::ACTIVITY_SUB],
    order: "-created",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: false,
};
