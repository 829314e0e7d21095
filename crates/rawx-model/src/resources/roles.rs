//! AWX's object roles (`main_rbac_roles`), stored as AWX stores them: one row per role of
//! each object (`content_type` is the object's resource key), who holds each directly
//! (`role_users`, AWX's `main_rbac_roles_members`), each role's parents (the implicit ones
//! its object's fields imply, and a team's member role for a role granted to that team), and
//! the closure of that graph (`role_ancestors`, AWX's `main_rbac_role_ancestors`), which turns
//! "may this user read this" into one indexed sub-select. `rbac.rs` says which roles each
//! resource has and who inherits what; `rawx_domain::roles` keeps these tables in step.

use super::fk;
use crate::schema::{Field, Kind, Relation, Resource, Scope, Sub, SubList};

pub static ROLES: Resource = Resource {
    key: "roles",
    type_name: "role",
    verbose: "Role",
    fields: &[
        Field::new("role_field", "", Kind::Str { max: 64 }).internal(),
        // The object's resource key (`job_templates`); empty for the system singletons.
        Field::new("content_type", "", Kind::Str { max: 64 }).internal(),
        Field::new(
            "object_id",
            "",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .internal()
        .nullable(),
        Field::new("singleton_name", "", Kind::Str { max: 64 })
            .internal()
            .nullable(),
    ],
    name_field: None,
    unique: &[&["content_type", "object_id", "role_field"]],
    scope: Scope::Global,
    subs: &[Sub {
        name: "users",
        list: SubList::Linked {
            relation: &ROLE_USERS,
            from_left: true,
        },
    }],
    order: "id",
    search_fields: &["role_field", "content_type"],
    named_url_parents: &[],
    read_only_api: true,
};

/// Users holding a role directly.
pub static ROLE_USERS: Relation = Relation {
    table: "role_users",
    left: ("roles", "role_id"),
    right: ("users", "user_id"),
};

/// `role` inherits from `parent`: whoever holds `parent` holds `role`. `implicit` rows come
/// from the object's fields (a template's organization); the others are grants to a team
/// (`parent` is the team's member role), which only a revoke removes.
pub static ROLE_PARENTS: Resource = Resource {
    key: "role_parents",
    type_name: "role_parent",
    verbose: "Role parent",
    fields: &[
        fk("role", "", "roles").internal().required(),
        fk("parent", "", "roles").internal().required(),
        Field::new("implicit", "", Kind::Bool).internal(),
    ],
    name_field: None,
    unique: &[&["role", "parent"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};

/// The closure of `role_parents`: a row `(descendent, ancestor)` for every role and every
/// role whose holders hold it, itself included.
pub static ROLE_ANCESTORS: Resource = Resource {
    key: "role_ancestors",
    type_name: "role_ancestor",
    verbose: "Role ancestor",
    fields: &[
        fk("descendent", "", "roles").internal().required(),
        fk("ancestor", "", "roles").internal().required(),
    ],
    name_field: None,
    unique: &[&["descendent", "ancestor"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};

/// DAB's `RoleDefinition` (AWX 24's `/api/v2/role_definitions/`): a named list of permissions
/// on a content type. `old_role` names the old role a managed or compat definition is (see
/// `dab.rs`); a custom definition has none.
pub static ROLE_DEFINITIONS: Resource = Resource {
    key: "role_definitions",
    type_name: "role_definition",
    verbose: "Role definition",
    fields: &[
        Field::new("name", "Name", Kind::Text).required(),
        Field::new("description", "Description", Kind::Text),
        Field::new("managed", "Managed", Kind::Bool),
        // `awx.jobtemplate`; null for the system-wide definitions.
        Field::new("content_type", "Content type", Kind::Str { max: 64 }).nullable(),
        // The permissions, a JSON list of `awx.view_jobtemplate`.
        Field::new("permissions", "Permissions", Kind::Text),
        Field::new("old_role", "", Kind::Str { max: 64 })
            .internal()
            .nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["name"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: true,
};

/// DAB's `RoleUserAssignment`: one row per direct grant of a role to a user, whichever view
/// made it (`rawx_domain::roles` writes both with `role_users`). `object_role` is the role
/// granted (the system auditor singleton for the System Auditor definition).
pub static ROLE_USER_ASSIGNMENTS: Resource = Resource {
    key: "role_user_assignments",
    type_name: "role_user_assignment",
    verbose: "Role user assignment",
    fields: &[
        fk("role_definition", "Role definition", "role_definitions").required(),
        fk("user", "User", "users").required(),
        fk("object_role", "", "roles").required(),
        // The object's resource key; null for system-wide assignments.
        Field::new("content_type", "Content type", Kind::Str { max: 64 }).nullable(),
        Field::new(
            "object_id",
            "Object id",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .nullable(),
    ],
    name_field: None,
    unique: &[&["user", "object_role"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};

/// DAB's `RoleTeamAssignment`: a grant to a team (the team's member role made a parent of
/// `object_role`).
pub static ROLE_TEAM_ASSIGNMENTS: Resource = Resource {
    key: "role_team_assignments",
    type_name: "role_team_assignment",
    verbose: "Role team assignment",
    fields: &[
        fk("role_definition", "Role definition", "role_definitions").required(),
        fk("team", "Team", "teams").required(),
        fk("object_role", "", "roles").required(),
        Field::new("content_type", "Content type", Kind::Str { max: 64 }).nullable(),
        Field::new(
            "object_id",
            "Object id",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .nullable(),
    ],
    name_field: None,
    unique: &[&["team", "object_role"]],
    scope: Scope::Internal,
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};
