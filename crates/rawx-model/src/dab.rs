//! AWX 24's second view of the same grants: django-ansible-base RBAC (the `dab_rbac` app AWX
//! 24.6.1 pins, its `permission_registry`, `validators.py`, and AWX's
//! `migrations/_dab_rbac.py` and `models/rbac.py`). A role definition is a list of
//! permissions (`awx.execute_jobtemplate`) on a content type (`awx.jobtemplate`); AWX's
//! managed definitions mirror the old roles ("JobTemplate Execute" is a template's
//! `execute_role`), and an old role with no managed twin gets a "… Compat" definition.
//!
//! rawx answers every permission question with the old role model (`rbac.rs`), so a
//! definition is mapped onto it: a managed or compat definition *is* an old role (granting it
//! grants that role); a custom definition's role on an object is made a parent of every old
//! role of the object (and, on an organization, of the objects in it) whose whole permission
//! set the definition lists (`covers`). A custom definition never gives more than it lists;
//! where the old model has no role as fine as the list (`change` without `delete`), it gives
//! less.

use crate::rbac::{role_defs, Parent};
use crate::resources::by_key;
use crate::schema::Kind;
use std::collections::BTreeSet;

/// A model DAB tracks permissions for (`permission_registry.register` in AWX's
/// `models/__init__.py`), with the actions of its `Meta.permissions` and
/// `default_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DabModel {
    /// `_meta.model_name`: `jobtemplate`.
    pub model: &'static str,
    /// The class name: `JobTemplate`.
    pub class: &'static str,
    /// `shared` for the models the resource registry shares (organization, team), else `awx`.
    pub prefix: &'static str,
    /// The rawx resource key, `None` for models rawx does not have.
    pub key: Option<&'static str>,
    pub verbose: &'static str,
    pub verbose_plural: &'static str,
    /// Custom permissions first, then the default ones, as `codenames_for_cls` lists them.
    pub actions: &'static [&'static str],
    /// `parent_field_name` is `organization` (every model but the organization itself and
    /// instance groups).
    pub in_org: bool,
}

// A positional constructor keeps the catalog below one readable row per model.
#[allow(clippy::too_many_arguments)]
const fn m(
    model: &'static str,
    class: &'static str,
    prefix: &'static str,
    key: Option<&'static str>,
    verbose: &'static str,
    verbose_plural: &'static str,
    actions: &'static [&'static str],
    in_org: bool,
) -> DabModel {
    DabModel {
        model,
        class,
        prefix,
        key,
        verbose,
        verbose_plural,
        actions,
        in_org,
    }
}

/// AWX's registration order (`permission_registry.register(Project, Team, …)`).
pub static MODELS: &[DabModel] = &[
    m(
        "project",
        "Project",
        "awx",
        Some("projects"),
        "project",
        "projects",
        &["update", "use", "add", "change", "delete", "view"],
        true,
    ),
    m(
        "team",
        "Team",
        "shared",
        Some("teams"),
        "team",
        "teams",
        &["member", "add", "change", "delete", "view"],
        true,
    ),
    m(
        "workflowjobtemplate",
        "WorkflowJobTemplate",
        "awx",
        Some("workflow_job_templates"),
        "workflow job template",
        "workflow job templates",
        &["execute", "approve", "add", "change", "delete", "view"],
        true,
    ),
    m(
        "jobtemplate",
        "JobTemplate",
        "awx",
        Some("job_templates"),
        "job template",
        "job templates",
        &["execute", "change", "delete", "view"],
        true,
    ),
    m(
        "inventory",
        "Inventory",
        "awx",
        Some("inventories"),
        "inventory",
        "inventories",
        &["use", "adhoc", "update", "add", "change", "delete", "view"],
        true,
    ),
    m(
        "organization",
        "Organization",
        "shared",
        Some("organizations"),
        "organization",
        "organizations",
        &["member", "audit", "change", "delete", "view"],
        false,
    ),
    m(
        "credential",
        "Credential",
        "awx",
        Some("credentials"),
        "credential",
        "credentials",
        &["use", "add", "change", "delete", "view"],
        true,
    ),
    m(
        "notificationtemplate",
        "NotificationTemplate",
        "awx",
        None,
        "notification template",
        "notification templates",
        &["add", "change", "delete", "view"],
        true,
    ),
    m(
        "executionenvironment",
        "ExecutionEnvironment",
        "awx",
        Some("execution_environments"),
        "execution environment",
        "execution environments",
        &["add", "change", "delete"],
        true,
    ),
    m(
        "instancegroup",
        "InstanceGroup",
        "awx",
        Some("instance_groups"),
        "instance group",
        "instance groups",
        &["use", "change", "delete", "view"],
        false,
    ),
];

impl DabModel {
    /// `awx.jobtemplate`.
    pub fn content_type(&self) -> String {
        format!("{}.{}", self.prefix, self.model)
    }
    /// The codenames: `execute_jobtemplate`, …
    pub fn codenames(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|a| format!("{a}_{}", self.model))
            .collect()
    }
    /// `awx.execute_jobtemplate`, …
    pub fn permissions(&self) -> Vec<String> {
        self.codenames()
            .into_iter()
            .map(|c| format!("{}.{c}", self.prefix))
            .collect()
    }
    /// Its child models (`permission_registry.get_child_models`): the organization's.
    pub fn children(&self) -> Vec<&'static DabModel> {
        if self.model == "organization" {
            MODELS.iter().filter(|m| m.in_org).collect()
        } else {
            vec![]
        }
    }
}

pub fn model_named(model: &str) -> Option<&'static DabModel> {
    MODELS.iter().find(|m| m.model == model)
}

pub fn model_of_key(key: &str) -> Option<&'static DabModel> {
    MODELS.iter().find(|m| m.key == Some(key))
}

/// A content type as a client names it: DAB looks at the part after the last dot only
/// (`ContentTypeField.get_dynamic_object`).
pub fn parse_content_type(s: &str) -> Option<&'static DabModel> {
    model_named(s.rsplit('.').next().unwrap_or(s))
}

/// The model a codename (`execute_jobtemplate`) belongs to.
pub fn model_of_codename(codename: &str) -> Option<&'static DabModel> {
    let (_, model) = codename.split_once('_')?;
    model_named(model).filter(|m| m.codenames().iter().any(|c| c == codename))
}

/// A permission as a client names it (`awx.view_jobtemplate`, or without the prefix): its
/// canonical `prefix.codename`, or `None` when no model has it.
pub fn parse_permission(s: &str) -> Option<String> {
    let codename = s.rsplit('.').next().unwrap_or(s);
    let m = model_of_codename(codename)?;
    Some(format!("{}.{codename}", m.prefix))
}

fn codename(perm: &str) -> &str {
    perm.rsplit('.').next().unwrap_or(perm)
}

/// `permissions_allowed_for_role`: a model's own permissions but `add`, and every permission
/// of its child models; `None` (system-wide) is not enabled in AWX 24.6.1.
pub fn allowed_for(model: &DabModel) -> Vec<String> {
    let mut out: Vec<String> = model
        .permissions()
        .into_iter()
        .filter(|p| !codename(p).starts_with("add_"))
        .collect();
    for c in model.children() {
        out.extend(c.permissions());
    }
    out
}

/// Every permission, sorted (`PermissionField`'s choices).
pub fn all_permissions() -> Vec<String> {
    let mut v: Vec<String> = MODELS.iter().flat_map(|m| m.permissions()).collect();
    v.sort();
    v
}

/// An error DAB's serializer gives: on a field, or not (`non_field_errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: Option<&'static str>,
    pub msg: String,
}

fn invalid(field: Option<&'static str>, msg: impl Into<String>) -> Invalid {
    Invalid {
        field,
        msg: msg.into(),
    }
}

/// `validate_permissions_for_model` for a custom definition, with AWX 24.6.1's settings
/// (custom roles allowed, custom team roles not, system-wide roles not).
pub fn validate_custom(perms: &[String], content_type: Option<&DabModel>) -> Result<(), Invalid> {
    let Some(model) = content_type else {
        return Err(invalid(
            Some("content_type"),
            "System-wide roles are not enabled",
        ));
    };
    if model.model == "team" {
        return Err(invalid(None, "Creating custom roles for teams is disabled"));
    }
    if perms
        .iter()
        .any(|p| model_of_codename(codename(p)).is_some_and(|m| m.model == "team"))
    {
        return Err(invalid(
            None,
            "Creating custom roles that include team permissions is disabled",
        ));
    }
    validate_for_model(perms, model)
}

/// The checks every definition passes, managed or not: each permission is valid for the
/// model, and a model given any permission but `add` is also given `view`.
pub fn validate_for_model(perms: &[String], model: &DabModel) -> Result<(), Invalid> {
    let allowed = allowed_for(model);
    let bad: Vec<String> = perms
        .iter()
        .filter(|p| !allowed.contains(p))
        .map(|p| format!("\"{}\"", codename(p)))
        .collect();
    if !bad.is_empty() {
        return Err(invalid(
            Some("permissions"),
            format!(
                "Permissions {} are not valid for {} roles",
                bad.join(", "),
                model.model
            ),
        ));
    }
    let mut groups = vec![model];
    groups.extend(model.children());
    for g in groups {
        if !g.actions.contains(&"view") {
            continue;
        }
        let mine: Vec<&str> = perms
            .iter()
            .map(|p| codename(p))
            .filter(|c| g.codenames().iter().any(|x| x == c) && !c.starts_with("add_"))
            .collect();
        if !mine.is_empty() && !mine.iter().any(|c| c.contains("view")) {
            return Err(invalid(
                Some("permissions"),
                format!(
                    "Permissions for model {} needs to include view, got: {}",
                    model.verbose,
                    mine.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// One of AWX's managed role definitions (`setup_managed_role_definitions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub name: String,
    pub description: String,
    /// `None`: system-wide (the System Auditor).
    pub content_type: Option<&'static DabModel>,
    pub permissions: Vec<String>,
    /// The old role it is (`get_role_from_object_role`), when rawx has that role.
    pub old_role: Option<&'static str>,
}

fn has_old(model: &DabModel, field: &'static str) -> Option<&'static str> {
    let key = model.key?;
    role_defs(key)
        .iter()
        .any(|d| d.field == field)
        .then_some(field)
}

/// The managed definitions, in the order AWX makes them.
pub fn managed() -> Vec<Managed> {
    let org = model_named("organization").expect("organization");
    let mut out = Vec::new();
    let mut org_perms: Vec<String> = Vec::new();
    for cls in MODELS {
        let perms = cls.permissions();
        if cls.model != "instancegroup" {
            org_perms.extend(perms.iter().cloned());
        }
        if cls.model != "organization" {
            out.push(Managed {
                name: format!("{} Admin", cls.class),
                description: format!("Has all permissions to a single {}", cls.verbose),
                content_type: Some(cls),
                permissions: perms
                    .iter()
                    .filter(|p| !codename(p).starts_with("add_"))
                    .cloned()
                    .collect(),
                old_role: has_old(cls, "admin_role"),
            });
        }
        if !matches!(cls.model, "organization" | "instancegroup" | "team") {
            let mut p = perms.clone();
            p.push("shared.view_organization".into());
            let field = match cls.model {
                "project" => "project_admin_role",
                "workflowjobtemplate" => "workflow_admin_role",
                "jobtemplate" => "job_template_admin_role",
                "inventory" => "inventory_admin_role",
                "credential" => "credential_admin_role",
                "notificationtemplate" => "notification_admin_role",
                _ => "execution_environment_admin_role",
            };
            out.push(Managed {
                name: format!("Organization {} Admin", cls.class),
                description: format!(
                    "Has all permissions to {} within an organization",
                    cls.verbose_plural
                ),
                content_type: Some(org),
                permissions: p,
                old_role: has_old(org, field),
            });
        }
        for action in cls.actions {
            if matches!(*action, "add" | "change" | "delete" | "view" | "audit") {
                continue;
            }
            let title = format!("{}{}", action[..1].to_uppercase(), &action[1..]);
            let field = match *action {
                "approve" => "approval_role",
                "execute" => "execute_role",
                "use" => "use_role",
                "update" => "update_role",
                "adhoc" => "adhoc_role",
                _ => "member_role",
            };
            out.push(Managed {
                name: format!("{} {title}", cls.class),
                description: format!("Has {action} permissions to a single {}", cls.verbose),
                content_type: Some(cls),
                permissions: vec![
                    format!("{}.{action}_{}", cls.prefix, cls.model),
                    format!("{}.view_{}", cls.prefix, cls.model),
                ],
                old_role: has_old(cls, field),
            });
        }
    }
    out.push(Managed {
        name: "Organization Admin".into(),
        description: "Has all permissions to a single organization and all objects inside of it"
            .into(),
        content_type: Some(org),
        permissions: org_perms.clone(),
        old_role: Some("admin_role"),
    });
    let mut audit: Vec<String> = org_perms
        .iter()
        .filter(|p| codename(p).starts_with("view_"))
        .cloned()
        .collect();
    audit.push("shared.audit_organization".into());
    out.push(Managed {
        name: "Organization Audit".into(),
        description: "Has permission to view all objects inside of a single organization".into(),
        content_type: Some(org),
        permissions: audit,
        old_role: Some("auditor_role"),
    });
    out.push(Managed {
        name: "System Auditor".into(),
        description: "Migrated singleton role giving read permission to everything".into(),
        content_type: None,
        permissions: MODELS
            .iter()
            .flat_map(|m| m.permissions())
            .filter(|p| codename(p).starts_with("view_"))
            .collect(),
        old_role: Some("system_auditor"),
    });
    out
}

/// The role-graph node of a `Via` parent: the resource its foreign keys lead to.
fn via_target(key: &'static str, path: &[&'static str]) -> Option<&'static str> {
    let mut cur = by_key(key)?;
    for col in path {
        let Some(Kind::Fk(t)) = cur.field(col).map(|f| f.kind) else {
            return None;
        };
        cur = by_key(t)?;
    }
    Some(cur.key)
}

/// The role fields rawx knows, as graph nodes `(resource key, field)`.
fn nodes() -> Vec<(&'static str, &'static str)> {
    MODELS
        .iter()
        .filter_map(|m| m.key)
        .flat_map(|k| role_defs(k).iter().map(move |d| (k, d.field)))
        .collect()
}

/// The parents of a node in the field graph (`build_role_map`), with AWX's special case:
/// an organization's auditor role is a child of its admin role.
fn parents_of(key: &'static str, field: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(d) = role_defs(key).iter().find(|d| d.field == field) {
        for p in d.parents {
            match p {
                Parent::Own(f) => out.push((key, *f)),
                Parent::Via(path, f) => out.extend(via_target(key, path).map(|t| (t, *f))),
            }
        }
    }
    if key == "organizations" && field == "auditor_role" {
        out.push((key, "admin_role"));
    }
    out
}

/// `role_name_to_perm_mapping`.
fn prefixes(field: &str) -> &'static [&'static str] {
    match field {
        "adhoc_role" => &["adhoc_"],
        "approval_role" => &["approve_"],
        "auditor_role" => &["audit_"],
        "admin_role" => &["change_", "add_", "delete_"],
        "execute_role" => &["execute_"],
        "read_role" => &["view_"],
        "update_role" => &["update_"],
        "member_role" => &["member_"],
        "use_role" => &["use_"],
        _ => &[],
    }
}

/// The permissions an old role grants (`get_permissions_for_role`): those of every role
/// below it in the field graph, `add` only for an organization's roles, and AWX's special
/// cases for the models that had no roles of their own (notification templates, execution
/// environments).
pub fn old_role_permissions(key: &'static str, field: &'static str) -> BTreeSet<String> {
    let all = nodes();
    let mut seen = BTreeSet::from([(key, field)]);
    let mut todo = vec![(key, field)];
    while let Some(n) = todo.pop() {
        for c in &all {
            if parents_of(c.0, c.1).contains(&n) && seen.insert(*c) {
                todo.push(*c);
            }
        }
    }
    let mut out = BTreeSet::new();
    for (k, f) in &seen {
        let Some(model) = model_of_key(k) else {
            continue;
        };
        for pre in prefixes(f) {
            if *pre == "add_" && key != "organizations" {
                continue;
            }
            if let Some(c) = model.codenames().into_iter().find(|c| c.starts_with(pre)) {
                out.insert(format!("{}.{c}", model.prefix));
            }
        }
    }
    let org_admin = key == "organizations" && field == "admin_role";
    if field == "notification_admin_role" || org_admin {
        out.extend(model_named("notificationtemplate").unwrap().permissions());
    }
    if field == "execution_environment_admin_role" || org_admin {
        out.extend(model_named("executionenvironment").unwrap().permissions());
    }
    if field == "auditor_role" {
        out.insert("awx.view_notificationtemplate".into());
    }
    out
}

/// `descendant_roles` of an `/X/N/access_list/` entry (AWX's
/// `ResourceAccessListElementSerializer`): the permissions `perms` (`awx.execute_jobtemplate`)
/// that name the listed object's model — by the codename's ending, as AWX tests it, so a job
/// template's list also counts `…_workflowjobtemplate` — or, on an organization, any `add_`
/// permission, named back as old roles (`get_roles_from_perms`: `view` → `read_role`,
/// `change` → `admin_role`, …; on an organization `add_project` → `project_admin_role` and
/// `read_role`). `add_`/`delete_` of the object's own kind name nothing.
pub fn access_list_roles(obj_key: &str, perms: &BTreeSet<String>) -> BTreeSet<&'static str> {
    let Some(model) = model_of_key(obj_key) else {
        return BTreeSet::new();
    };
    let is_org = model.model == "organization";
    let mut out = BTreeSet::new();
    for p in perms {
        let codename = p.rsplit_once('.').map_or(p.as_str(), |(_, c)| c);
        if !(codename.ends_with(model.model) || is_org && codename.starts_with("add_")) {
            continue;
        }
        let action = codename.split('_').next().unwrap_or_default();
        let by_action = match action {
            "adhoc" => Some("adhoc_role"),
            "approve" => Some("approval_role"),
            "audit" => Some("auditor_role"),
            "change" => Some("admin_role"),
            "execute" => Some("execute_role"),
            "view" => Some("read_role"),
            "update" => Some("update_role"),
            "member" => Some("member_role"),
            "use" => Some("use_role"),
            _ => None,
        };
        if let Some(r) = by_action {
            out.insert(r);
            continue;
        }
        // `org_role_to_permission`, reversed: only its `add_` entries get this far.
        let org_child = match codename {
            "add_notificationtemplate" => Some("notification_admin_role"),
            "add_project" => Some("project_admin_role"),
            "add_inventory" => Some("inventory_admin_role"),
            "add_credential" => Some("credential_admin_role"),
            "add_workflowjobtemplate" => Some("workflow_admin_role"),
            "add_executionenvironment" => Some("execution_environment_admin_role"),
            _ => None,
        };
        if let (true, Some(r)) = (is_org, org_child) {
            out.insert(r);
            out.insert("read_role");
        }
    }
    out
}

/// The old roles (`(resource key, field)`) a custom definition's role on an object of `key`
/// is a parent of: every role of the object, and on an organization every role of each kind
/// of object in it, whose whole permission set the definition lists.
pub fn covers(key: &'static str, perms: &[String]) -> Vec<(&'static str, &'static str)> {
    let have: BTreeSet<&str> = perms.iter().map(String::as_str).collect();
    let mut keys = vec![key];
    if let Some(m) = model_of_key(key) {
        keys.extend(m.children().iter().filter_map(|c| c.key));
    }
    let mut out = Vec::new();
    for k in keys {
        for d in role_defs(k) {
            let need = old_role_permissions(k, d.field);
            if !need.is_empty() && need.iter().all(|p| have.contains(p.as_str())) {
                out.push((k, d.field));
            }
        }
    }
    out
}

/// The name AWX gives the definition it makes for an old role with no managed twin
/// (`get_role_definition`): "JobTemplate Read Compat".
pub fn compat_name(model: &DabModel, field: &str) -> (String, String) {
    let action = field.rsplit_once('_').map(|(a, _)| a).unwrap_or(field);
    let title: String = action
        .split('_')
        .enumerate()
        .map(|(i, w)| {
            let w = format!("{}{}", w[..1].to_uppercase(), &w[1..]);
            if i == 0 {
                w
            } else {
                format!("_{w}")
            }
        })
        .collect();
    // Python's str.title() capitalises after the underscore too: "Job_Template_Admin".
    (
        format!("{} {title} Compat", model.class),
        format!(
            "Has {title} permission to {} for backwards API compatibility",
            model.class
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn old_roles_grant_awx_permissions() {
        assert_eq!(
            old_role_permissions("job_templates", "execute_role"),
            set(&["awx.execute_jobtemplate", "awx.view_jobtemplate"])
        );
        assert_eq!(
            old_role_permissions("job_templates", "admin_role"),
            set(&[
                "awx.change_jobtemplate",
                "awx.delete_jobtemplate",
                "awx.execute_jobtemplate",
                "awx.view_jobtemplate"
            ])
        );
        assert_eq!(
            old_role_permissions("organizations", "member_role"),
            set(&["shared.member_organization", "shared.view_organization"])
        );
    }

    /// Every managed definition with an old twin lists what that old role grants, so the
    /// two views answer alike (the field graph of `rbac.rs` reproduces AWX's definitions).
    #[test]
    fn managed_definitions_equal_their_old_roles() {
        for d in managed() {
            let (Some(ct), Some(old)) = (d.content_type, d.old_role) else {
                continue;
            };
            let got = old_role_permissions(ct.key.unwrap(), old);
            let want: BTreeSet<String> = d.permissions.iter().cloned().collect();
            // AWX's one inexact twin: the old ad hoc role of an inventory also implies its
            // use role, which "Inventory Adhoc" does not list.
            if d.name == "Inventory Adhoc" {
                assert!(want.is_subset(&got));
            } else {
                assert_eq!(got, want, "{}", d.name);
            }
            assert!(validate_for_model(&d.permissions, ct).is_ok(), "{}", d.name);
        }
    }

    #[test]
    fn custom_definitions_cover_what_they_list() {
        let p = vec![
            "awx.view_jobtemplate".to_string(),
            "awx.execute_jobtemplate".to_string(),
        ];
        assert_eq!(
            covers("job_templates", &p),
            vec![
                ("job_templates", "execute_role"),
                ("job_templates", "read_role")
            ]
        );
        let mut org = p.clone();
        org.push("shared.view_organization".into());
        let c = covers("organizations", &org);
        assert!(c.contains(&("job_templates", "execute_role")));
        assert!(c.contains(&("organizations", "read_role")));
        assert!(!c.iter().any(|(_, f)| *f == "admin_role"));
    }

    #[test]
    fn validation_as_dab() {
        let jt = model_named("jobtemplate").unwrap();
        let e = validate_custom(&["awx.execute_jobtemplate".into()], Some(jt)).unwrap_err();
        assert_eq!(
            e.msg,
            "Permissions for model job template needs to include view, got: execute_jobtemplate"
        );
        let e = validate_custom(&["awx.view_inventory".into()], Some(jt)).unwrap_err();
        assert_eq!(
            e.msg,
            "Permissions \"view_inventory\" are not valid for jobtemplate roles"
        );
        assert!(validate_custom(&["awx.view_jobtemplate".into()], None).is_err());
    }

    /// The three cases of AWX's serializer worked by hand from its source: a direct execute
    /// grant on a template, the organization's admin seen from the template (the codename
    /// ending also catches the workflow's permissions, approve among them), and the
    /// organization's admin seen from the organization (its `add_` permissions name the
    /// child admin roles; execute, a job template permission, is not listed).
    #[test]
    fn access_list_roles_follow_awx_serializer() {
        let exec = old_role_permissions("job_templates", "execute_role");
        assert_eq!(
            access_list_roles("job_templates", &exec),
            BTreeSet::from(["execute_role", "read_role"])
        );
        let org_admin = old_role_permissions("organizations", "admin_role");
        assert_eq!(
            access_list_roles("job_templates", &org_admin),
            BTreeSet::from(["admin_role", "approval_role", "execute_role", "read_role"])
        );
        assert_eq!(
            access_list_roles("organizations", &org_admin),
            BTreeSet::from([
                "admin_role",
                "auditor_role",
                "credential_admin_role",
                "execution_environment_admin_role",
                "inventory_admin_role",
                "member_role",
                "notification_admin_role",
                "project_admin_role",
                "read_role",
                "workflow_admin_role",
            ])
        );
        let inv_admin = old_role_permissions("inventories", "admin_role");
        assert_eq!(
            access_list_roles("inventories", &inv_admin),
            BTreeSet::from([
                "admin_role",
                "adhoc_role",
                "read_role",
                "update_role",
                "use_role"
            ])
        );
    }
}
