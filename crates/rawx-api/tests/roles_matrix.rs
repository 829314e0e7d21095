//! The role matrix: every role of every kind of object, granted to a fresh user (directly, then
//! through a team), × every action on every object of the organization, through the API as
//! that user, checked against AWX 24.6.1's answers.
//!
//! The expected answers come from tables written here from AWX's source, not from rawx's
//! model: `AWX_PARENTS` is each role's `ImplicitRoleField(parent_role=…)` for the objects of
//! `common::world` (awx/main/models/{organization,projects,inventory,jobs,credential,ha}.py),
//! and `ACTIONS` what `awx/main/access.py` asks for each action (`filtered_queryset`,
//! `can_change`, `JobTemplateAccess.can_start`, …). A grant of role G lets a user do an action
//! when a role the action accepts has G among its ancestors.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// `(role, its implicit parents)` for the objects of `world`: organization 1 and its team 1,
/// project 1, inventory 1 (host 1), credential 1, job template 1; and instance group 1.
const AWX_PARENTS: &[(&str, &[&str])] = &[
    ("org.admin_role", &[]),
    ("org.execute_role", &["org.admin_role"]),
    ("org.project_admin_role", &["org.admin_role"]),
    ("org.inventory_admin_role", &["org.admin_role"]),
    ("org.credential_admin_role", &["org.admin_role"]),
    ("org.workflow_admin_role", &["org.admin_role"]),
    ("org.notification_admin_role", &["org.admin_role"]),
    ("org.job_template_admin_role", &["org.admin_role"]),
    ("org.execution_environment_admin_role", &["org.admin_role"]),
    ("org.auditor_role", &[]),
    ("org.member_role", &["org.admin_role"]),
    (
        "org.read_role",
        &[
            "org.member_role",
            "org.auditor_role",
            "org.execute_role",
            "org.project_admin_role",
            "org.inventory_admin_role",
            "org.workflow_admin_role",
            "org.notification_admin_role",
            "org.credential_admin_role",
            "org.job_template_admin_role",
            "org.approval_role",
            "org.execution_environment_admin_role",
        ],
    ),
    ("org.approval_role", &["org.admin_role"]),
    ("team.admin_role", &["org.admin_role"]),
    ("team.member_role", &["team.admin_role"]),
    ("team.read_role", &["org.auditor_role", "team.member_role"]),
    ("project.admin_role", &["org.project_admin_role"]),
    ("project.use_role", &["project.admin_role"]),
    ("project.update_role", &["project.admin_role"]),
    (
        "project.read_role",
        &[
            "org.auditor_role",
            "project.use_role",
            "project.update_role",
        ],
    ),
    ("inventory.admin_role", &["org.inventory_admin_role"]),
    ("inventory.update_role", &["inventory.admin_role"]),
    ("inventory.adhoc_role", &["inventory.admin_role"]),
    ("inventory.use_role", &["inventory.adhoc_role"]),
    (
        "inventory.read_role",
        &[
            "org.auditor_role",
            "inventory.update_role",
            "inventory.use_role",
            "inventory.admin_role",
        ],
    ),
    ("jt.admin_role", &["org.job_template_admin_role"]),
    ("jt.execute_role", &["jt.admin_role", "org.execute_role"]),
    (
        "jt.read_role",
        &["org.auditor_role", "jt.execute_role", "jt.admin_role"],
    ),
    ("credential.admin_role", &["org.credential_admin_role"]),
    ("credential.use_role", &["credential.admin_role"]),
    (
        "credential.read_role",
        &[
            "org.auditor_role",
            "credential.use_role",
            "credential.admin_role",
        ],
    ),
    ("ig.admin_role", &[]),
    ("ig.use_role", &["ig.admin_role"]),
    ("ig.read_role", &["ig.use_role", "ig.admin_role"]),
];

/// The object each prefix names, as `(API resource, id)`.
const OBJECTS: &[(&str, &str, i64)] = &[
    ("org", "organizations", 1),
    ("team", "teams", 1),
    ("project", "projects", 1),
    ("inventory", "inventories", 1),
    ("jt", "job_templates", 2),
    ("credential", "credentials", 1),
    ("ig", "instance_groups", 1),
];

#[derive(Clone, Copy, Debug)]
enum Act {
    /// GET the detail: 200, or 403 (AWX answers 403, not 404, for an object that exists).
    Read,
    /// PATCH its description: 200 or 403; and `user_capabilities.edit` when readable.
    Change,
    /// POST `launch/`: 201 or 403; and `user_capabilities.start` when readable.
    Launch,
    /// The object is in its list.
    Listed,
}

/// `(action, path, roles any of which allows it)`, per `access.py`.
const ACTIONS: &[(Act, &str, &[&str])] = &[
    (Act::Read, "/api/v2/organizations/1/", &["org.read_role"]),
    (Act::Listed, "/api/v2/organizations/", &["org.read_role"]),
    (Act::Change, "/api/v2/organizations/1/", &["org.admin_role"]),
    // `TeamAccess.filtered_queryset`: organization members, or the team's read role.
    (
        Act::Read,
        "/api/v2/teams/1/",
        &["org.member_role", "team.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/teams/",
        &["org.member_role", "team.read_role"],
    ),
    (Act::Change, "/api/v2/teams/1/", &["team.admin_role"]),
    (Act::Read, "/api/v2/projects/1/", &["project.read_role"]),
    (Act::Listed, "/api/v2/projects/", &["project.read_role"]),
    (Act::Change, "/api/v2/projects/1/", &["project.admin_role"]),
    (
        Act::Read,
        "/api/v2/inventories/1/",
        &["inventory.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/inventories/",
        &["inventory.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/inventories/1/",
        &["inventory.admin_role"],
    ),
    // `HostAccess`: the inventory's read and admin roles.
    (Act::Read, "/api/v2/hosts/1/", &["inventory.read_role"]),
    (Act::Listed, "/api/v2/hosts/", &["inventory.read_role"]),
    (Act::Change, "/api/v2/hosts/1/", &["inventory.admin_role"]),
    (Act::Read, "/api/v2/job_templates/2/", &["jt.read_role"]),
    (
        Act::Listed,
        "/api/v2/job_templates/?id=2",
        &["jt.read_role"],
    ),
    (Act::Change, "/api/v2/job_templates/2/", &["jt.admin_role"]),
    // `JobTemplateAccess.can_start`: execute, without any role on the inventory or credential.
    (
        Act::Launch,
        "/api/v2/job_templates/2/launch/",
        &["jt.execute_role"],
    ),
    // `JobAccess.filtered_queryset`: the template's readers, the organization's admins and
    // auditors.
    (
        Act::Read,
        "/api/v2/jobs/1/",
        &["jt.read_role", "org.admin_role", "org.auditor_role"],
    ),
    (
        Act::Read,
        "/api/v2/credentials/1/",
        &["credential.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/credentials/",
        &["credential.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/credentials/1/",
        &["credential.admin_role"],
    ),
    // `ExecutionEnvironmentAccess`: the organization's readers read it, its execution
    // environment admins change it.
    (
        Act::Read,
        "/api/v2/execution_environments/3/",
        &["org.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/execution_environments/?id=3",
        &["org.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/execution_environments/3/",
        &["org.execution_environment_admin_role"],
    ),
    // The unified lists: each kind's own rule (`UnifiedJobTemplateAccess`,
    // `UnifiedJobAccess.filtered_queryset`).
    (
        Act::Listed,
        "/api/v2/unified_job_templates/?id=2",
        &["jt.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/unified_jobs/?id=1",
        &["jt.read_role", "org.admin_role", "org.auditor_role"],
    ),
    (Act::Read, "/api/v2/instance_groups/1/", &["ig.read_role"]),
    (
        Act::Change,
        "/api/v2/instance_groups/1/",
        &["ig.admin_role"],
    ),
];

/// The role definition AWX 24.6.1 lists for an old role (DAB RBAC): its managed twin
/// (`setup_managed_role_definitions` in awx/main/migrations/_dab_rbac.py) or the "… Compat"
/// definition `get_role_definition` makes (awx/main/models/rbac.py), which
/// `get_role_from_object_role` maps back to the old role by its name.
fn dab_name(role: &str) -> String {
    let (prefix, field) = role.split_once('.').unwrap();
    let class = match prefix {
        "org" => "Organization",
        "team" => "Team",
        "project" => "Project",
        "inventory" => "Inventory",
        "jt" => "JobTemplate",
        "credential" => "Credential",
        _ => "InstanceGroup",
    };
    let children = [
        ("project_admin_role", "Project"),
        ("inventory_admin_role", "Inventory"),
        ("credential_admin_role", "Credential"),
        ("workflow_admin_role", "WorkflowJobTemplate"),
        ("notification_admin_role", "NotificationTemplate"),
        ("job_template_admin_role", "JobTemplate"),
        ("execution_environment_admin_role", "ExecutionEnvironment"),
    ];
    if let Some((_, c)) = children.iter().find(|(f, _)| *f == field) {
        return format!("Organization {c} Admin");
    }
    match (prefix, field) {
        ("org", "auditor_role") => "Organization Audit".into(),
        ("org", "execute_role") => "Organization Execute Compat".into(),
        ("org", "approval_role") => "Organization Approval Compat".into(),
        (_, "read_role") => format!("{class} Read Compat"),
        (_, "admin_role") => format!("{class} Admin"),
        (_, "member_role") => format!("{class} Member"),
        (_, "execute_role") => format!("{class} Execute"),
        (_, "use_role") => format!("{class} Use"),
        (_, "update_role") => format!("{class} Update"),
        (_, "adhoc_role") => format!("{class} Adhoc"),
        _ => panic!("no definition for {role}"),
    }
}

/// The id of the role definition named `name`.
async fn definition_id(api: &Api, name: &str) -> i64 {
    let r = api
        .admin(
            "GET",
            &format!(
                "/api/v2/role_definitions/?name={}",
                name.replace(' ', "%20")
            ),
            None,
        )
        .await;
    r.body["results"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no role definition {name}: {}", r.text))
}

/// Every role held by whoever holds `grant`: the roles with `grant` among their ancestors.
fn held_by(grant: &str) -> BTreeSet<String> {
    let parents: BTreeMap<&str, &[&str]> = AWX_PARENTS.iter().copied().collect();
    fn reaches(r: &str, grant: &str, parents: &BTreeMap<&str, &[&str]>) -> bool {
        r == grant
            || parents
                .get(r)
                .is_some_and(|ps| ps.iter().any(|p| reaches(p, grant, parents)))
    }
    parents
        .keys()
        .filter(|r| reaches(r, grant, &parents))
        .map(|r| r.to_string())
        .collect()
}

/// The role id of `role` ("jt.execute_role") from the object's `summary_fields.object_roles`.
async fn role_id(api: &Api, role: &str) -> i64 {
    let (prefix, field) = role.split_once('.').unwrap();
    let (_, key, id) = OBJECTS.iter().find(|(p, _, _)| *p == prefix).unwrap();
    let r = api
        .admin("GET", &format!("/api/v2/{key}/{id}/"), None)
        .await;
    r.body["summary_fields"]["object_roles"][field]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} {id} has no {field}: {}", r.text))
}

/// Runs every action as `user` and returns the mismatches with what AWX answers.
async fn check_all(api: &Api, user: &str, grant: &str, how: &str) -> (usize, Vec<String>) {
    let held = held_by(grant);
    let auth = Some((user, "pw"));
    let mut wrong = Vec::new();
    let mut n = 0;
    for (act, path, any_of) in ACTIONS {
        n += 1;
        let allowed = any_of.iter().any(|r| held.contains(*r));
        let (status, extra) = match act {
            Act::Read => {
                let r = api.call("GET", path, auth, None).await;
                let want = if allowed { 200 } else { 403 };
                (r.status.as_u16() == want, format!("GET -> {}", r.status))
            }
            Act::Listed => {
                // The world's object is 1 unless the path names it (`?id=`).
                let url = if path.contains('?') {
                    path.to_string()
                } else {
                    format!("{path}?id=1")
                };
                let r = api.call("GET", &url, auth, None).await;
                let listed = r.body["count"] == json!(1);
                (listed == allowed, format!("listed {listed}"))
            }
            Act::Change => {
                let r = api
                    .call("PATCH", path, auth, Some(json!({"description": "d"})))
                    .await;
                let want = if allowed { 200 } else { 403 };
                let caps = api.call("GET", path, auth, None).await;
                let cap = &caps.body["summary_fields"]["user_capabilities"];
                let cap_ok = caps.status != StatusCode::OK
                    || (cap["edit"] == json!(allowed) && cap["delete"] == json!(allowed));
                (
                    r.status.as_u16() == want && cap_ok,
                    format!("PATCH -> {} {}; caps {cap}", r.status, r.text),
                )
            }
            Act::Launch => {
                let r = api.call("POST", path, auth, Some(json!({}))).await;
                let want = if allowed { 201 } else { 403 };
                let jt = api
                    .call("GET", "/api/v2/job_templates/2/", auth, None)
                    .await;
                let cap = &jt.body["summary_fields"]["user_capabilities"]["start"];
                let cap_ok = jt.status != StatusCode::OK || cap == &json!(allowed);
                (
                    r.status.as_u16() == want && cap_ok,
                    format!("launch -> {} {}; start {cap}", r.status, r.text),
                )
            }
        };
        if !status {
            wrong.push(format!(
                "{grant} ({how}): {act:?} {path}: AWX {}, rawx {extra}",
                if allowed { "allows" } else { "refuses" }
            ));
        }
    }
    (n, wrong)
}

#[tokio::test]
async fn every_role_allows_what_awx_allows_and_nothing_more() {
    let api = Api::new().await;
    world(&api).await;
    let jt = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(
        jt.body["organization"], 1,
        "the template is the organization's"
    );

    let mut checks = 0;
    let mut wrong = Vec::new();
    let grants: Vec<&str> = AWX_PARENTS.iter().map(|(r, _)| *r).collect();
    for (i, grant) in grants.iter().enumerate() {
        // Directly to a user.
        let name = format!("u{i}");
        let uid = api.user(&name, "pw").await;
        let rid = role_id(&api, grant).await;
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/users/{uid}/roles/"),
                Some(json!({"id": rid})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "grant {grant}: {}",
            r.text
        );
        let (n, w) = check_all(&api, &name, grant, "user").await;
        checks += n;
        wrong.extend(w);

        // The same role through AWX 24's role definitions: an assignment of the old role's
        // definition on the object.
        let dname = format!("d{i}");
        let duid = api.user(&dname, "pw").await;
        let def = definition_id(&api, &dab_name(grant)).await;
        let (prefix, _) = grant.split_once('.').unwrap();
        let (_, _, oid) = OBJECTS.iter().find(|(p, _, _)| *p == prefix).unwrap();
        let r = api
            .admin(
                "POST",
                "/api/v2/role_user_assignments/",
                Some(json!({"role_definition": def, "user": duid, "object_id": oid})),
            )
            .await;
        // AWX's `Credential.validate_role_assignment`: through a definition, a credential's
        // roles go only to its organization's admins.
        if prefix == "credential" {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(
                r.body["detail"],
                "You cannot grant credential access to a User not in the credentials' organization"
            );
        } else {
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "assign {}: {}",
                dab_name(grant),
                r.text
            );
            let (n, w) = check_all(&api, &dname, grant, "role definition").await;
            checks += n;
            wrong.extend(w);
        }

        // Through a team of their own (AWX refuses organization membership roles and the
        // team's own roles to a team).
        if matches!(*grant, "org.member_role" | "org.admin_role") || grant.starts_with("team.") {
            continue;
        }
        let tname = format!("t{i}");
        let team = api
            .make("/api/v2/teams/", json!({"name": tname, "organization": 1}))
            .await;
        let mname = format!("m{i}");
        let member = api.user(&mname, "pw").await;
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/teams/{team}/users/"),
                Some(json!({"id": member})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/teams/{team}/roles/"),
                Some(json!({"id": rid})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "team grant {grant}: {}",
            r.text
        );
        let (n, w) = check_all(&api, &mname, grant, "team").await;
        checks += n;
        wrong.extend(w);
    }
    eprintln!(
        "role matrix: {} grants × {} actions, {checks} checks",
        grants.len(),
        ACTIONS.len()
    );
    assert!(checks > 1000, "the matrix looks truncated: {checks}");
    assert!(
        wrong.is_empty(),
        "{} of {checks} answers differ from AWX's:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Revoking takes the rights away again, for a user and for a team's members.
#[tokio::test]
async fn a_revoke_takes_the_rights_away() {
    let api = Api::new().await;
    world(&api).await;
    let op = api.user("op", "pw").await;
    let exec = role_id(&api, "jt.execute_role").await;
    let grant = |on: bool| json!({"id": exec, "disassociate": !on});
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{exec}/users/"),
            Some(json!({"id": op})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{exec}/users/"), None)
        .await;
    assert_eq!(users.body["count"], 1, "{}", users.text);
    let mine = api
        .call("GET", "/api/v2/job_templates/", Some(("op", "pw")), None)
        .await;
    assert_eq!(mine.body["count"], 1);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(grant(false)),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let mine = api
        .call("GET", "/api/v2/job_templates/", Some(("op", "pw")), None)
        .await;
    assert_eq!(mine.body["count"], 0, "{}", mine.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Through team 1: granted, the member launches; revoked, they do not.
    let r = api
        .admin("POST", "/api/v2/teams/1/users/", Some(json!({"id": op})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{exec}/teams/"),
            Some(json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let teams = api
        .admin("GET", &format!("/api/v2/roles/{exec}/teams/"), None)
        .await;
    assert_eq!(teams.body["count"], 1, "{}", teams.text);
    let granted = api.admin("GET", "/api/v2/teams/1/roles/", None).await;
    assert_eq!(granted.body["results"][0]["id"], exec, "{}", granted.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let access = api
        .admin("GET", "/api/v2/job_templates/2/access_list/", None)
        .await;
    let names: Vec<&str> = access.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(
        names.contains(&"op") && names.contains(&"admin"),
        "{names:?}"
    );
    let r = api
        .admin("POST", "/api/v2/teams/1/roles/", Some(grant(false)))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// What may not be granted, with AWX's answers: a non-admin may not grant; a team may not
/// hold organization membership nor system roles.
#[tokio::test]
async fn grants_are_refused_as_awx_refuses_them() {
    let api = Api::new().await;
    world(&api).await;
    let op = api.user("op", "pw").await;
    let other = api.user("other", "pw").await;
    let read = role_id(&api, "jt.read_role").await;
    let admin = role_id(&api, "jt.admin_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": read})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // A reader may not grant.
    let r = api
        .call(
            "POST",
            &format!("/api/v2/users/{other}/roles/"),
            Some(("op", "pw")),
            Some(json!({"id": read})),
        )
        .await;
    assert!(
        matches!(r.status.as_u16(), 400 | 403),
        "{}: {}",
        r.status,
        r.text
    );
    // The template's admin may, to a user they can see (`RoleAccess.can_attach` reads the
    // user first): both are members of the organization.
    for u in [op, other] {
        let r = api
            .admin(
                "POST",
                "/api/v2/organizations/1/users/",
                Some(json!({"id": u})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": admin})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "POST",
            &format!("/api/v2/roles/{read}/users/"),
            Some(("op", "pw")),
            Some(json!({"id": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let member = role_id(&api, "org.member_role").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/roles/",
            Some(json!({"id": member})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["msg"],
        "You cannot assign an Organization participation role as a child role for a Team."
    );
    let roles = api.admin("GET", "/api/v2/roles/?page_size=200", None).await;
    let sysadmin = roles.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "System Administrator")
        .expect("the system administrator role is listed")["id"]
        .clone();
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/roles/",
            Some(json!({"id": sysadmin})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["msg"],
        "You cannot grant system-level permissions to a team."
    );
}

/// An executor without rights on the inventory launches; prompting for another inventory
/// needs its use role (`JobLaunchConfigAccess.can_add`), else 403.
#[tokio::test]
async fn prompts_need_use_of_what_is_prompted() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "PATCH",
            "/api/v2/job_templates/2/",
            Some(json!({"ask_inventory_on_launch": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let inv2 = api
        .make(
            "/api/v2/inventories/",
            json!({"name": "Other", "organization": 1}),
        )
        .await;
    let op = api.user("op", "pw").await;
    let exec = role_id(&api, "jt.execute_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": exec})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let me = Some(("op", "pw"));
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({"inventory": inv2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let inv2_use = api
        .admin("GET", &format!("/api/v2/inventories/{inv2}/"), None)
        .await
        .body["summary_fields"]["object_roles"]["use_role"]["id"]
        .clone();
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": inv2_use})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({"inventory": inv2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["inventory"], inv2);
}

/// Organization membership through the old sub-lists is a member role grant, seen both ways.
#[tokio::test]
async fn organization_users_are_member_role_grants() {
    let api = Api::new().await;
    world(&api).await;
    let bob = api.user("bob", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": bob})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let member = role_id(&api, "org.member_role").await;
    let holders = api
        .admin("GET", &format!("/api/v2/roles/{member}/users/"), None)
        .await;
    assert_eq!(
        holders.body["results"][0]["username"], "bob",
        "{}",
        holders.text
    );
    let roles = api
        .admin("GET", &format!("/api/v2/users/{bob}/roles/"), None)
        .await;
    assert_eq!(roles.body["results"][0]["id"], member, "{}", roles.text);
    assert_eq!(roles.body["results"][0]["name"], "Member");
    assert_eq!(
        roles.body["results"][0]["summary_fields"]["resource_name"],
        "Ops"
    );
    let orgs = api
        .admin("GET", &format!("/api/v2/users/{bob}/organizations/"), None)
        .await;
    assert_eq!(orgs.body["count"], 1);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{member}/users/"),
            Some(json!({"id": bob, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let users = api
        .admin("GET", "/api/v2/organizations/1/users/", None)
        .await;
    assert_eq!(users.body["count"], 0, "{}", users.text);
}

#[test]
fn the_table_of_awx_answers_is_what_awx_declares() {
    // Spot checks of the hand-copied table against AWX's comments in access.py.
    assert!(held_by("org.admin_role").contains("jt.execute_role"));
    assert!(held_by("org.execute_role").contains("jt.execute_role"));
    assert!(!held_by("org.member_role").contains("jt.read_role"));
    assert!(held_by("org.auditor_role").contains("inventory.read_role"));
    assert!(!held_by("org.auditor_role").contains("inventory.admin_role"));
    assert!(!held_by("jt.execute_role").contains("inventory.use_role"));
    let _ = Value::Null;
}
