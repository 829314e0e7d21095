//! Who may see and change what: AWX's role model (`awx/main/models/rbac.py`, the
//! `ImplicitRoleField`s of each model, `awx/main/access.py`). Every organization, team,
//! project, inventory, credential, job template, workflow and instance group has AWX's named
//! roles (`admin_role`, `execute_role`, `read_role`, …); each role inherits from the parents
//! its object's fields declare (`role_defs`), so an organization's admin holds every role of
//! everything in it. Users hold roles directly or through a team granted them. Superusers do
//! everything; system auditors read everything.
//!
//! The answers here are filters (one SQL statement with nested sub-selects over
//! `roles`/`role_ancestors`/`role_users`) and declarations; `rawx_domain::roles` stores the
//! roles and answers the single-object questions.

use crate::filter::{Cond, Filter, Step};
use crate::resources::by_key;
use crate::schema::{ColumnType, Kind, Resource, Scope};
use serde_json::Value;

/// The signed-in user, with the memberships permission answers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub is_superuser: bool,
    pub is_system_auditor: bool,
    /// Organizations whose member role the user holds (directly, through a team, or as an
    /// admin): AWX's `Organization.accessible_objects(user, 'member_role')`.
    pub member_of: Vec<i64>,
    /// Organizations whose admin role the user holds.
    pub admin_of: Vec<i64>,
    /// A token with `read` scope cannot write, whatever the user may do.
    pub read_only_token: bool,
}

impl Actor {
    /// System administrators and auditors: every object is readable.
    pub fn sees_all(&self) -> bool {
        self.is_superuser || self.is_system_auditor
    }
}

/// Where a role inherits from: another role of the same object, or a role of the object a
/// chain of foreign keys names (`organization.auditor_role`, `inventory.organization.…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    Own(&'static str),
    Via(&'static [&'static str], &'static str),
}

/// One role of a resource and its implicit parents, as AWX's `ImplicitRoleField`. The system
/// singletons AWX also lists as parents are left out: superusers and system auditors are
/// answered by their flags before any role is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleDef {
    pub field: &'static str,
    pub parents: &'static [Parent],
}

const fn role(field: &'static str, parents: &'static [Parent]) -> RoleDef {
    RoleDef { field, parents }
}

use Parent::{Own, Via};
const ORG: &[&str] = &["organization"];

static ORGANIZATION_ROLES: &[RoleDef] = &[
    role("admin_role", &[]),
    role("execute_role", &[Own("admin_role")]),
    role("project_admin_role", &[Own("admin_role")]),
    role("inventory_admin_role", &[Own("admin_role")]),
    role("credential_admin_role", &[Own("admin_role")]),
    role("workflow_admin_role", &[Own("admin_role")]),
    role("notification_admin_role", &[Own("admin_role")]),
    role("job_template_admin_role", &[Own("admin_role")]),
    role("execution_environment_admin_role", &[Own("admin_role")]),
    role("auditor_role", &[]),
    role("member_role", &[Own("admin_role")]),
    role(
        "read_role",
        &[
            Own("member_role"),
            Own("auditor_role"),
            Own("execute_role"),
            Own("project_admin_role"),
            Own("inventory_admin_role"),
            Own("workflow_admin_role"),
            Own("notification_admin_role"),
            Own("credential_admin_role"),
            Own("job_template_admin_role"),
            Own("approval_role"),
            Own("execution_environment_admin_role"),
        ],
    ),
    role("approval_role", &[Own("admin_role")]),
];

static TEAM_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "admin_role")]),
    role("member_role", &[Own("admin_role")]),
    role("read_role", &[Via(ORG, "auditor_role"), Own("member_role")]),
];

static PROJECT_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "project_admin_role")]),
    role("use_role", &[Own("admin_role")]),
    role("update_role", &[Own("admin_role")]),
    role(
        "read_role",
        &[
            Via(ORG, "auditor_role"),
            Own("use_role"),
            Own("update_role"),
        ],
    ),
];

static INVENTORY_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "inventory_admin_role")]),
    role("update_role", &[Own("admin_role")]),
    role("adhoc_role", &[Own("admin_role")]),
    role("use_role", &[Own("adhoc_role")]),
    role(
        "read_role",
        &[
            Via(ORG, "auditor_role"),
            Own("update_role"),
            Own("use_role"),
            Own("admin_role"),
        ],
    ),
];

static JOB_TEMPLATE_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "job_template_admin_role")]),
    role(
        "execute_role",
        &[Own("admin_role"), Via(ORG, "execute_role")],
    ),
    role(
        "read_role",
        &[
            Via(ORG, "auditor_role"),
            // AWX: "partial support for old inheritance via inventory".
            Via(&["inventory", "organization"], "auditor_role"),
            Own("execute_role"),
            Own("admin_role"),
        ],
    ),
];

static WORKFLOW_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "workflow_admin_role")]),
    role(
        "execute_role",
        &[Own("admin_role"), Via(ORG, "execute_role")],
    ),
    role(
        "read_role",
        &[
            Via(ORG, "auditor_role"),
            Own("execute_role"),
            Own("admin_role"),
            Own("approval_role"),
        ],
    ),
    role(
        "approval_role",
        &[Via(ORG, "approval_role"), Own("admin_role")],
    ),
];

static CREDENTIAL_ROLES: &[RoleDef] = &[
    role("admin_role", &[Via(ORG, "credential_admin_role")]),
    role("use_role", &[Own("admin_role")]),
    role(
        "read_role",
        &[Via(ORG, "auditor_role"), Own("use_role"), Own("admin_role")],
    ),
];

static INSTANCE_GROUP_ROLES: &[RoleDef] = &[
    role("admin_role", &[]),
    role("use_role", &[Own("admin_role")]),
    role("read_role", &[Own("use_role"), Own("admin_role")]),
];

/// The roles each object of a resource has, in AWX's order (OPTIONS `object_roles`, what
/// `awx users grant --role …` offers, `summary_fields.object_roles`). Parents come before
/// the roles that name them as `Own`, so they can be made in this order… except the
/// organization's `read_role`/`approval_role` pair, which `rawx_domain::roles` orders itself.
pub fn role_defs(key: &str) -> &'static [RoleDef] {
    match key {
        "organizations" => ORGANIZATION_ROLES,
        "teams" => TEAM_ROLES,
        "projects" => PROJECT_ROLES,
        "inventories" => INVENTORY_ROLES,
        "job_templates" => JOB_TEMPLATE_ROLES,
        "workflow_job_templates" => WORKFLOW_ROLES,
        "credentials" => CREDENTIAL_ROLES,
        "instance_groups" => INSTANCE_GROUP_ROLES,
        _ => &[],
    }
}

/// The names of `role_defs`.
pub fn object_roles(key: &str) -> Vec<&'static str> {
    role_defs(key).iter().map(|d| d.field).collect()
}

pub fn has_roles(res: &Resource) -> bool {
    !role_defs(res.key).is_empty()
}

/// Whether AWX 24's role definitions may be assigned on an object of `res`: those with old
/// roles, and execution environments, which have none (AWX gives them DAB roles only: the
/// managed "ExecutionEnvironment Admin" and custom definitions on `awx.executionenvironment`).
pub fn takes_assignments(res: &Resource) -> bool {
    has_roles(res) || res.key == "execution_environments"
}

/// The system-wide roles AWX lists beside the object roles.
pub const SINGLETONS: &[&str] = &["system_administrator", "system_auditor"];

/// AWX's `role_names`.
pub fn role_name(field: &str) -> &'static str {
    match field {
        "system_administrator" => "System Administrator",
        "system_auditor" => "System Auditor",
        "adhoc_role" => "Ad Hoc",
        "admin_role" => "Admin",
        "project_admin_role" => "Project Admin",
        "inventory_admin_role" => "Inventory Admin",
        "credential_admin_role" => "Credential Admin",
        "job_template_admin_role" => "Job Template Admin",
        "execution_environment_admin_role" => "Execution Environment Admin",
        "workflow_admin_role" => "Workflow Admin",
        "notification_admin_role" => "Notification Admin",
        "auditor_role" => "Auditor",
        "execute_role" => "Execute",
        "member_role" => "Member",
        "read_role" => "Read",
        "update_role" => "Update",
        "use_role" => "Use",
        "approval_role" => "Approve",
        _ => "",
    }
}

/// AWX's `role_descriptions`, `%s` filled with the model's name in lower case ("job
/// template"); `model` is `None` for the singletons.
pub fn role_description(field: &str, model: Option<&str>) -> String {
    let d = match field {
        "system_administrator" => "Can manage all aspects of the system",
        "system_auditor" => "Can view all aspects of the system",
        "adhoc_role" => "May run ad hoc commands on the %s",
        "admin_role" => "Can manage all aspects of the %s",
        "project_admin_role" => "Can manage all projects of the %s",
        "inventory_admin_role" => "Can manage all inventories of the %s",
        "credential_admin_role" => "Can manage all credentials of the %s",
        "job_template_admin_role" => "Can manage all job templates of the %s",
        "execution_environment_admin_role" => "Can manage all execution environments of the %s",
        "workflow_admin_role" => "Can manage all workflows of the %s",
        "notification_admin_role" => "Can manage all notifications of the %s",
        "auditor_role" => "Can view all aspects of the %s",
        "execute_role" if model == Some("organization") => {
            "May run any executable resources in the organization"
        }
        "execute_role" => "May run the %s",
        "member_role" => "User is a member of the %s",
        "read_role" => "May view settings for the %s",
        "update_role" => "May update the %s",
        "use_role" => "Can use the %s in a job template",
        "approval_role" => "Can approve or deny a workflow approval node",
        _ => "",
    };
    match model {
        Some(m) => d.replace("%s", m),
        None => d.to_string(),
    }
}

/// AWX's model name of a resource in lower case, words apart ("job template").
pub fn model_name(res: &Resource) -> String {
    res.type_name.replace('_', " ")
}

// ---- filters ----

fn int_eq(column: &'static str, v: i64) -> Filter {
    Filter::eq(column, ColumnType::Int, Value::from(v))
}

fn text_eq(column: &'static str, v: &str) -> Filter {
    Filter::eq(column, ColumnType::Text, Value::from(v))
}

/// On `roles`: the roles `user` holds, directly or through any ancestor (a team's member
/// role, an organization's admin role): `role_ancestors` joined to `role_users`.
pub fn held_roles(user: i64) -> Filter {
    Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: "role_ancestors",
            column: "descendent",
            filter: Box::new(Filter::On {
                path: vec![],
                column: "ancestor",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: "role_users",
                    column: "role_id",
                    filter: Box::new(int_eq("user_id", user)),
                },
            }),
        },
    }
}

/// On `roles`: the roles named `fields` of `content_type` objects.
pub fn roles_named(content_type: &'static str, fields: &[&'static str]) -> Filter {
    Filter::All(vec![
        text_eq("content_type", content_type),
        Filter::On {
            path: vec![],
            column: "role_field",
            ctype: ColumnType::Text,
            cond: Cond::In(fields.iter().map(|f| Value::from(*f)).collect()),
        },
    ])
}

/// `column` (ids of `content_type` objects) names an object one of whose `fields` roles
/// `user` holds: AWX's `accessible_pk_qs(user, field)`.
pub fn holds(
    column: &'static str,
    content_type: &'static str,
    fields: &[&'static str],
    user: i64,
) -> Filter {
    Filter::On {
        path: vec![],
        column,
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: "roles",
            column: "object_id",
            filter: Box::new(roles_named(content_type, fields).and(held_roles(user))),
        },
    }
}

/// On `users`: the direct holders of the `field` roles of `content_type` objects whose ids
/// `objects` (a filter on `roles.object_id`'s objects) selects.
fn direct_holders(content_type: &'static str, field: &'static str, objects: Filter) -> Filter {
    Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: "role_users",
            column: "user_id",
            filter: Box::new(Filter::On {
                path: vec![],
                column: "role_id",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: "roles",
                    column: "id",
                    filter: Box::new(roles_named(content_type, &[field]).and(objects)),
                },
            }),
        },
    }
}

/// On `users`: the direct holders of the `field` role of one object.
pub fn holders_of(content_type: &'static str, field: &'static str, object: i64) -> Filter {
    direct_holders(content_type, field, int_eq("object_id", object))
}

/// On `content_type`'s table: the objects whose `field` role `user` holds directly.
pub fn directly_held(content_type: &'static str, field: &'static str, user: i64) -> Filter {
    Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: "roles",
            column: "object_id",
            filter: Box::new(roles_named(content_type, &[field]).and(Filter::On {
                path: vec![],
                column: "id",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: "role_users",
                    column: "role_id",
                    filter: Box::new(int_eq("user_id", user)),
                },
            })),
        },
    }
}

/// `column` of `res` names an object of `target` that the filter `inner` (on `target`)
/// selects.
fn fk_in(column: &'static str, target: &'static str, inner: Filter) -> Filter {
    Filter::On {
        path: vec![],
        column,
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: target,
            column: "id",
            filter: Box::new(inner),
        },
    }
}

/// The condition that limits a list to what `actor` may read (AWX's `filtered_queryset`);
/// `None` means everything.
pub fn read_filter(res: &'static Resource, actor: &Actor) -> Option<Filter> {
    if actor.sees_all() {
        return None;
    }
    let uid = actor.user_id;
    let read = |column: &'static str, ct: &'static str| holds(column, ct, &["read_role"], uid);
    // A parent table (`/unified_jobs/`, `/unified_job_templates/`): each kind by its own rule
    // (AWX's `UnifiedJobAccess`/`UnifiedJobTemplateAccess.filtered_queryset`), never by the
    // organization alone, which would show an organization's members every template and job.
    if crate::resources::PARENT_TABLES
        .iter()
        .any(|p| p.key == res.key)
    {
        let kinds = crate::resources::children_of(res)
            .map(|kind| Filter::On {
                path: vec![],
                column: "id",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: kind.key,
                    column: "id",
                    filter: Box::new(read_filter(kind, actor).unwrap_or(Filter::All(vec![]))),
                },
            })
            .collect();
        return Some(Filter::Any(kinds));
    }
    Some(match res.key {
        // Organization admins and auditors see every job of their organization; everyone
        // else the jobs of templates they may read (`JobAccess.filtered_queryset`).
        "jobs" => Filter::Any(vec![
            read("job_template", "job_templates"),
            holds(
                "organization",
                "organizations",
                &["admin_role", "auditor_role"],
                uid,
            ),
        ]),
        // `WorkflowJobAccess.filtered_queryset`: the readers of its template (a sliced job's
        // is its job template); a bulk job (no template) its organization's admins.
        "workflow_jobs" => Filter::Any(vec![
            read("workflow_job_template", "workflow_job_templates"),
            read("job_template", "job_templates"),
            Filter::All(vec![
                Filter::On {
                    path: vec![],
                    column: "workflow_job_template",
                    ctype: ColumnType::Int,
                    cond: Cond::IsNull(true),
                },
                Filter::On {
                    path: vec![],
                    column: "job_template",
                    ctype: ColumnType::Int,
                    cond: Cond::IsNull(true),
                },
                holds("organization", "organizations", &["admin_role"], uid),
            ]),
        ]),
        // `WorkflowJobNodeAccess`: the nodes of workflow jobs the user may read.
        "workflow_job_nodes" => fk_in(
            "workflow_job",
            "workflow_jobs",
            read_filter(by_key("workflow_jobs")?, actor)?,
        ),
        // `AdHocCommandAccess`: read access to the inventory.
        "ad_hoc_commands" => read("inventory", "inventories"),
        // `ProjectUpdateAccess`: read access to the project.
        "project_updates" => read("project", "projects"),
        "project_update_events" => fk_in(
            "project_update",
            "project_updates",
            read_filter(by_key("project_updates")?, actor)?,
        ),
        // Events and summaries: those of the jobs the user may read.
        "job_events" | "job_host_summaries" => {
            fk_in("job", "jobs", read_filter(by_key("jobs")?, actor)?)
        }
        "ad_hoc_command_events" => fk_in(
            "ad_hoc_command",
            "ad_hoc_commands",
            read_filter(by_key("ad_hoc_commands")?, actor)?,
        ),
        // `ExecutionEnvironmentAccess`: those of organizations the user may read, and the
        // global ones (no organization).
        "execution_environments" => Filter::Any(vec![
            holds("organization", "organizations", &["read_role"], uid),
            Filter::On {
                path: vec![],
                column: "organization",
                ctype: ColumnType::Int,
                cond: Cond::IsNull(true),
            },
        ]),
        // `TeamAccess`: members of the organization see its teams.
        "teams" => Filter::Any(vec![
            holds("organization", "organizations", &["member_role"], uid),
            read("id", "teams"),
        ]),
        // Instance groups are global objects with roles: readable with their read role.
        _ if has_roles(res) && res.scope == Scope::Global => read("id", res.key),
        _ => match res.scope {
            Scope::Global => return None,
            Scope::Internal => Filter::Any(vec![]),
            Scope::Owner(col) => int_eq(col, uid),
            // `UserAccess`: themselves, superusers, and the members of organizations they
            // may read; organization admins see every user (ORG_ADMINS_CAN_SEE_ALL_USERS).
            Scope::User if !actor.admin_of.is_empty() => return None,
            Scope::User => Filter::Any(vec![
                int_eq("id", uid),
                Filter::eq("is_superuser", ColumnType::Bool, Value::Bool(true)),
                direct_holders(
                    "organizations",
                    "member_role",
                    holds("object_id", "organizations", &["read_role"], uid),
                ),
            ]),
            _ if has_roles(res) => {
                let f = read("id", res.key);
                // A credential without an organization is its owner's.
                if res.field("user").is_some() {
                    Filter::Any(vec![f, int_eq("user", uid)])
                } else {
                    f
                }
            }
            Scope::Organization => read("id", res.key),
            // Hosts, groups, labels, schedules: readable with the first object up their
            // chain of foreign keys that has roles.
            Scope::Via(path) => via_read(res, path, uid)?,
        },
    })
}

/// A filter reaching, across `path`'s foreign keys, the first object with roles and asking
/// for its read role.
fn via_read(res: &'static Resource, path: &[&'static str], uid: i64) -> Option<Filter> {
    let mut steps = Vec::new();
    let mut current = res;
    for col in path {
        let Some(Kind::Fk(target)) = current.field(col).map(|f| f.kind) else {
            panic!("scope path {col} of {} is not a foreign key", current.key)
        };
        let tres = by_key(target).expect("foreign key target exists");
        if has_roles(tres) {
            let mut f = holds(col, tres.key, &["read_role"], uid);
            if let Filter::On { path: p, .. } = &mut f {
                *p = steps;
            }
            return Some(f);
        }
        steps.push(Step::Fk {
            column: col,
            target,
        });
        current = tres;
    }
    Some(Filter::Any(vec![]))
}

/// What a write to an object of a resource asks: a role on the object itself, or on the
/// object one of its foreign keys names. `None`: superusers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Own(&'static str),
    Fk(&'static str, &'static str),
}

/// `can_change`/`can_delete` (AWX's `access.py`): the object's admin role; for objects
/// without roles of their own, the admin role of what their first foreign key with roles
/// names (a host's inventory, a label's organization, a schedule's template, a job's
/// organization).
pub fn change_needs(res: &'static Resource) -> Option<Need> {
    // `NotificationTemplateAccess.can_change`: its organization's notification admins.
    if res.key == "notification_templates" {
        return Some(Need::Fk("organization", "notification_admin_role"));
    }
    // `ExecutionEnvironmentAccess.can_change`: its organization's execution environment
    // admins; a global one (no organization) superusers only.
    if res.key == "execution_environments" {
        return Some(Need::Fk("organization", "execution_environment_admin_role"));
    }
    if has_roles(res) {
        return Some(Need::Own("admin_role"));
    }
    let Scope::Via(path) = res.scope else {
        return None;
    };
    let col = path[0];
    let Some(Kind::Fk(target)) = res.field(col).map(|f| f.kind) else {
        return None;
    };
    has_roles(by_key(target)?).then_some(Need::Fk(col, "admin_role"))
}

/// `can_add`: what each foreign key of a new object must allow (all of them; a null key is
/// skipped). AWX's `check_related` calls, per access class.
pub fn add_needs(res: &'static Resource) -> &'static [(&'static str, &'static str)] {
    match res.key {
        "projects" => &[("organization", "project_admin_role")],
        "inventories" => &[("organization", "inventory_admin_role")],
        "credentials" => &[("organization", "credential_admin_role")],
        // `CredentialInputSourceAccess`: admin of the target, use of the source.
        "credential_input_sources" => &[
            ("target_credential", "admin_role"),
            ("source_credential", "use_role"),
        ],
        "workflow_job_templates" => &[("organization", "workflow_admin_role")],
        "teams" => &[("organization", "admin_role")],
        "job_templates" => &[("project", "use_role"), ("inventory", "use_role")],
        "hosts" | "groups" => &[("inventory", "admin_role")],
        "labels" => &[("organization", "member_role")],
        "notification_templates" => &[("organization", "notification_admin_role")],
        // `ExecutionEnvironmentAccess.can_add`: the organization is mandatory but for
        // superusers (a null key asks for superusers, below in `may_add`).
        "execution_environments" => &[("organization", "execution_environment_admin_role")],
        "ad_hoc_commands" => &[("inventory", "adhoc_role"), ("credential", "use_role")],
        // `InventorySourceAccess.can_add`, and the serializer's check of the credential.
        "inventory_sources" => &[
            ("inventory", "admin_role"),
            ("source_project", "use_role"),
            ("credential", "use_role"),
        ],
        _ => &[],
    }
}

/// Creating organizations and instance groups is for superusers; users for superusers and
/// organization admins (`UserAccess.can_add`); tokens for anyone (their own).
pub fn may_create_top_level(res: &Resource, actor: &Actor) -> bool {
    if actor.read_only_token {
        return false;
    }
    match res.scope {
        Scope::Owner(_) => true,
        Scope::User => actor.is_superuser || !actor.admin_of.is_empty(),
        _ => actor.is_superuser,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_parent_is_a_role_of_the_same_object() {
        for res in crate::resources::ALL {
            let defs = role_defs(res.key);
            for d in defs {
                for p in d.parents {
                    match p {
                        Own(f) => assert!(
                            defs.iter().any(|x| x.field == *f),
                            "{}.{} names {f}",
                            res.key,
                            d.field
                        ),
                        Via(path, f) => {
                            let mut cur: &Resource = res;
                            for col in *path {
                                let Some(Kind::Fk(t)) = cur.field(col).map(|f| f.kind) else {
                                    panic!("{}.{}: {col} is no foreign key", res.key, d.field)
                                };
                                cur = by_key(t).unwrap();
                            }
                            assert!(object_roles(cur.key).contains(f), "{}: {f}", cur.key);
                        }
                    }
                }
                assert!(!role_name(d.field).is_empty(), "{}", d.field);
            }
        }
    }
}
