//! Who may see and change what. The rule of this first model: superusers do everything;
//! system auditors read everything; everyone else reads what belongs to an organization they
//! are a member or admin of, and changes what belongs to an organization they administer.
//! (AWX's per-object roles come later; they will refine, not replace, these answers.)

use crate::filter::{Cond, Filter, Step};
use crate::resources::{by_key, ORG_MEMBERS};
use crate::schema::{ColumnType, Kind, Resource, Scope};
use serde_json::Value;

/// The signed-in user, with the memberships permission answers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub is_superuser: bool,
    pub is_system_auditor: bool,
    /// Organizations the user is a member of (admins count as members too).
    pub member_of: Vec<i64>,
    pub admin_of: Vec<i64>,
    /// A token with `read` scope cannot write, whatever the user may do.
    pub read_only_token: bool,
}

impl Actor {
    fn sees_all(&self) -> bool {
        self.is_superuser || self.is_system_auditor
    }
    fn orgs(&self) -> Vec<Value> {
        self.member_of
            .iter()
            .chain(&self.admin_of)
            .map(|i| Value::from(*i))
            .collect()
    }
}

/// Steps from `res` across every foreign key of a scope path but the last, which names the
/// organization column.
fn org_path(res: &'static Resource, path: &[&'static str]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current = res;
    for col in &path[..path.len() - 1] {
        let Some(Kind::Fk(target)) = current.field(col).map(|f| f.kind) else {
            panic!("scope path {col} of {} is not a foreign key", current.key)
        };
        steps.push(Step::Fk {
            column: col,
            target,
        });
        current = by_key(target).expect("foreign key target exists");
    }
    steps
}

/// The condition that limits a list to what `actor` may read; `None` means everything.
pub fn read_filter(res: &'static Resource, actor: &Actor) -> Option<Filter> {
    if actor.sees_all() {
        return None;
    }
    let uid = Value::from(actor.user_id);
    let in_orgs = |path: Vec<Step>, column: &'static str| Filter::On {
        path,
        column,
        ctype: ColumnType::Int,
        cond: Cond::In(actor.orgs()),
    };
    Some(match res.scope {
        Scope::Global => return None,
        Scope::Organization => in_orgs(vec![], "id"),
        Scope::Via(path) => {
            let f = in_orgs(org_path(res, path), path[path.len() - 1]);
            // A credential without an organization is its owner's alone.
            if res.field("user").is_some() {
                Filter::Any(vec![f, Filter::eq("user", ColumnType::Int, uid)])
            } else {
                f
            }
        }
        Scope::User => Filter::Any(vec![
            Filter::eq("id", ColumnType::Int, uid),
            Filter::On {
                path: vec![Step::Link {
                    relation: &ORG_MEMBERS,
                    from_left: false,
                }],
                column: "id",
                ctype: ColumnType::Int,
                cond: Cond::In(actor.orgs()),
            },
        ]),
        Scope::Owner(col) => Filter::eq(col, ColumnType::Int, uid),
        Scope::Internal => Filter::Any(vec![]),
    })
}

/// Whether `actor` may create, change or delete an object of `res` that belongs to `org`
/// (`None`: no organization), or, for users and owned objects, is `owner`.
pub fn may_write(res: &Resource, actor: &Actor, org: Option<i64>, owner: Option<i64>) -> bool {
    if actor.read_only_token {
        return false;
    }
    if actor.is_superuser {
        return true;
    }
    match res.scope {
        Scope::Global | Scope::Internal => false,
        Scope::Organization => org.is_some_and(|o| actor.admin_of.contains(&o)),
        Scope::Via(_) => match org {
            Some(o) => actor.admin_of.contains(&o),
            None => res.field("user").is_some() && owner.is_none_or(|u| u == actor.user_id),
        },
        Scope::User | Scope::Owner(_) => owner == Some(actor.user_id),
    }
}

/// Creating organizations and users is for superusers (AWX also lets organization admins
/// create users; that comes with the role model).
pub fn may_create_top_level(res: &Resource, actor: &Actor) -> bool {
    match res.scope {
        Scope::Organization | Scope::User => actor.is_superuser && !actor.read_only_token,
        Scope::Owner(_) => !actor.read_only_token,
        _ => actor.is_superuser && !actor.read_only_token,
    }
}

/// The per-object roles AWX lists for a resource (OPTIONS `object_roles`, and what
/// `awx users grant --role …` offers). Granting them arrives with the role model; the names
/// are AWX's so clients that read them work today.
pub fn object_roles(key: &str) -> &'static [&'static str] {
    match key {
        "organizations" => &[
            "admin_role",
            "execute_role",
            "project_admin_role",
            "inventory_admin_role",
            "credential_admin_role",
            "workflow_admin_role",
            "notification_admin_role",
            "job_template_admin_role",
            "execution_environment_admin_role",
            "auditor_role",
            "member_role",
            "read_role",
            "approval_role",
        ],
        "teams" => &["admin_role", "member_role", "read_role"],
        "projects" => &["admin_role", "use_role", "update_role", "read_role"],
        "inventories" => &[
            "admin_role",
            "update_role",
            "adhoc_role",
            "use_role",
            "read_role",
        ],
        "credentials" | "instance_groups" => &["admin_role", "use_role", "read_role"],
        "job_templates" => &["admin_role", "execute_role", "read_role"],
        "workflow_job_templates" => &["admin_role", "execute_role", "read_role", "approval_role"],
        _ => &[],
    }
}
