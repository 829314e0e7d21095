//! AWX 24's role definitions and assignments (django-ansible-base RBAC) as a user meets
//! them: the managed definitions, a custom definition made of permissions and what it lets
//! its holder do, DAB's validation messages, and one set of grants under both views (a grant
//! through `/roles/` is an assignment, an assignment is a `/roles/` grant, either revokes the
//! other). Expected answers are written from django-ansible-base's `rbac/api` and
//! `validators.py` and AWX's `_dab_rbac.py`, not from rawx's code.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};

async fn definition(api: &Api, name: &str) -> Value {
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
    assert_eq!(r.body["count"], 1, "{name}: {}", r.text);
    r.body["results"][0].clone()
}

/// What a user may do, as the answers of the API: `(read template 1, launch it, change it,
/// read project 1, read organization 1)`.
async fn can(api: &Api, user: &str) -> [bool; 5] {
    let auth = Some((user, "pw"));
    let get = |p: &'static str| async move {
        api.call("GET", p, auth, None).await.status == StatusCode::OK
    };
    let launch = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            auth,
            Some(json!({})),
        )
        .await;
    let change = api
        .call(
            "PATCH",
            "/api/v2/job_templates/2/",
            auth,
            Some(json!({"description": "x"})),
        )
        .await;
    [
        get("/api/v2/job_templates/2/").await,
        launch.status == StatusCode::CREATED,
        change.status == StatusCode::OK,
        get("/api/v2/projects/1/").await,
        get("/api/v2/organizations/1/").await,
    ]
}

#[tokio::test]
async fn managed_definitions_mirror_awx() {
    let api = Api::new().await;
    let all = api
        .admin("GET", "/api/v2/role_definitions/?page_size=200", None)
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    // AWX 24.6.1's `setup_managed_role_definitions`: 9 "X Admin", 7 "Organization X Admin",
    // 12 "X <action>" (every permission but add/change/delete/view/audit), Organization
    // Admin and Audit; and the System Auditor of `migrate_to_new_rbac`.
    assert_eq!(all.body["count"], 31, "{}", all.text);
    let exec = definition(&api, "JobTemplate Execute").await;
    assert_eq!(exec["managed"], true);
    assert_eq!(exec["content_type"], "awx.jobtemplate");
    let mut perms: Vec<String> = serde_json::from_value(exec["permissions"].clone()).unwrap();
    perms.sort();
    assert_eq!(perms, ["awx.execute_jobtemplate", "awx.view_jobtemplate"]);
    assert_eq!(
        exec["description"],
        "Has execute permissions to a single job template"
    );
    let member = definition(&api, "Organization Member").await;
    assert_eq!(member["content_type"], "shared.organization");
    let auditor = definition(&api, "System Auditor").await;
    assert_eq!(auditor["content_type"], Value::Null);

    // Managed definitions are not to be changed or deleted, even by a superuser.
    let id = exec["id"].as_i64().unwrap();
    for (m, body) in [
        ("PATCH", Some(json!({"description": "x"}))),
        ("DELETE", None),
    ] {
        let r = api
            .admin(m, &format!("/api/v2/role_definitions/{id}/"), body)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{m}: {}", r.text);
        assert_eq!(r.body, json!(["Role is managed by the system"]), "{m}");
    }

    let meta = api.admin("GET", "/api/v2/role_metadata/", None).await;
    let jt: Vec<String> =
        serde_json::from_value(meta.body["allowed_permissions"]["awx.jobtemplate"].clone())
            .unwrap();
    assert_eq!(
        jt,
        [
            "awx.execute_jobtemplate",
            "awx.change_jobtemplate",
            "awx.delete_jobtemplate",
            "awx.view_jobtemplate"
        ]
    );
    let org = &meta.body["allowed_permissions"]["shared.organization"];
    assert!(org.as_array().unwrap().contains(&json!("awx.add_project")));
    assert!(!org
        .as_array()
        .unwrap()
        .contains(&json!("shared.add_organization")));

    let root = api.admin("GET", "/api/v2/", None).await;
    assert_eq!(root.body["role_definitions"], "/api/v2/role_definitions/");
    assert_eq!(
        root.body["role_user_assignments"],
        "/api/v2/role_user_assignments/"
    );
}

/// DAB's validation of a custom definition, case by case: (body, status, answer).
#[tokio::test]
async fn custom_definitions_are_validated_as_dab_does() {
    let api = Api::new().await;
    let cases: Vec<(Value, u16, Value)> = vec![
        (
            json!({"permissions": ["awx.view_jobtemplate"], "content_type": "awx.jobtemplate"}),
            400,
            json!({"name": ["This field is required."]}),
        ),
        (
            json!({"name": "a", "content_type": "awx.jobtemplate"}),
            400,
            json!({"permissions": ["This field is required."]}),
        ),
        (
            json!({"name": "a", "permissions": ["awx.execute_jobtemplate"], "content_type": "awx.jobtemplate"}),
            400,
            json!({"permissions": ["Permissions for model job template needs to include view, got: execute_jobtemplate"]}),
        ),
        (
            json!({"name": "a", "permissions": ["awx.view_inventory"], "content_type": "awx.jobtemplate"}),
            400,
            json!({"permissions": ["Permissions \"view_inventory\" are not valid for jobtemplate roles"]}),
        ),
        (
            json!({"name": "a", "permissions": ["awx.fly_jobtemplate"], "content_type": "awx.jobtemplate"}),
            400,
            json!({"permissions": {"0": ["Invalid pk \"awx.fly_jobtemplate\" - object does not exist."]}}),
        ),
        (
            json!({"name": "a", "permissions": ["awx.view_jobtemplate"], "content_type": "awx.nothing"}),
            400,
            json!({"content_type": ["Invalid pk \"awx.nothing\" - object does not exist."]}),
        ),
        (
            json!({"name": "a", "permissions": ["awx.view_jobtemplate"]}),
            400,
            json!({"content_type": ["System-wide roles are not enabled"]}),
        ),
        (
            json!({"name": "a", "permissions": ["shared.view_team"], "content_type": "shared.team"}),
            400,
            json!({"non_field_errors": ["Creating custom roles for teams is disabled"]}),
        ),
        (
            json!({"name": "a", "permissions": ["shared.view_organization", "shared.view_team"], "content_type": "shared.organization"}),
            400,
            json!({"non_field_errors": ["Creating custom roles that include team permissions is disabled"]}),
        ),
        (
            json!({"name": "JobTemplate Execute", "permissions": ["awx.view_jobtemplate"], "content_type": "awx.jobtemplate"}),
            400,
            json!({"name": ["role definition with this name already exists."]}),
        ),
    ];
    for (body, status, want) in cases {
        let r = api
            .admin("POST", "/api/v2/role_definitions/", Some(body.clone()))
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert_eq!(r.body, want, "{body}");
    }
    // Only superusers write definitions.
    api.user("bob", "pw").await;
    let r = api
        .call(
            "POST",
            "/api/v2/role_definitions/",
            Some(("bob", "pw")),
            Some(json!({"name": "b", "permissions": ["awx.view_jobtemplate"], "content_type": "awx.jobtemplate"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .call(
            "GET",
            "/api/v2/role_definitions/",
            Some(("bob", "pw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "anyone signed in reads them");
}

/// A custom definition gives its holder what it lists, answered by the same permission
/// check as every other grant: table of (permissions, content type, object, expected
/// `can`).
#[tokio::test]
async fn a_custom_definition_grants_what_it_lists() {
    let api = Api::new().await;
    world(&api).await;
    let cases: &[(&[&str], &str, i64, [bool; 5])] = &[
        (
            &["awx.view_jobtemplate", "awx.execute_jobtemplate"],
            "awx.jobtemplate",
            2,
            [true, true, false, false, false],
        ),
        (
            &["awx.view_jobtemplate"],
            "awx.jobtemplate",
            2,
            [true, false, false, false, false],
        ),
        (
            &[
                "awx.view_jobtemplate",
                "awx.execute_jobtemplate",
                "awx.change_jobtemplate",
                "awx.delete_jobtemplate",
            ],
            "awx.jobtemplate",
            2,
            [true, true, true, false, false],
        ),
        // On the organization, for every template in it.
        (
            &[
                "shared.view_organization",
                "awx.view_jobtemplate",
                "awx.execute_jobtemplate",
            ],
            "shared.organization",
            1,
            [true, true, false, false, true],
        ),
        (
            &["shared.view_organization", "awx.view_project"],
            "shared.organization",
            1,
            [false, false, false, true, true],
        ),
    ];
    for (i, (perms, ct, obj, want)) in cases.iter().enumerate() {
        let r = api
            .admin(
                "POST",
                "/api/v2/role_definitions/",
                Some(json!({"name": format!("custom {i}"), "permissions": perms, "content_type": ct})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{perms:?}: {}", r.text);
        assert_eq!(r.body["managed"], false);
        let def = r.body["id"].as_i64().unwrap();
        let name = format!("c{i}");
        let uid = api.user(&name, "pw").await;
        assert_eq!(can(&api, &name).await, [false; 5], "{name} before");
        let r = api
            .admin(
                "POST",
                "/api/v2/role_user_assignments/",
                Some(json!({"role_definition": def, "user": uid, "object_id": obj})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{perms:?}: {}", r.text);
        assert_eq!(r.body["object_id"], obj.to_string());
        assert_eq!(r.body["content_type"], *ct);
        assert_eq!(
            r.body["summary_fields"]["role_definition"]["name"],
            format!("custom {i}")
        );
        assert_eq!(can(&api, &name).await, *want, "{perms:?} on {ct} {obj}");
        // Revoked through DAB: nothing is left.
        let aid = r.body["id"].as_i64().unwrap();
        let r = api
            .admin(
                "DELETE",
                &format!("/api/v2/role_user_assignments/{aid}/"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        assert_eq!(can(&api, &name).await, [false; 5], "{perms:?} revoked");
    }
}

/// An organization-wide custom role reaches templates made after it was granted, follows a
/// change of its permissions, and goes with its definition.
#[tokio::test]
async fn a_custom_definition_follows_new_objects_and_its_own_changes() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/role_definitions/",
            Some(json!({"name": "org runner", "content_type": "shared.organization",
                "permissions": ["shared.view_organization", "awx.view_jobtemplate", "awx.execute_jobtemplate"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let def = r.body["id"].as_i64().unwrap();
    let uid = api.user("runner", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "user": uid, "object_id": "1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let jt2 = api
        .make(
            "/api/v2/job_templates/",
            json!({"name": "later", "project": 1, "inventory": 1, "playbook": "hello.yml"}),
        )
        .await;
    let auth = Some(("runner", "pw"));
    let r = api
        .call(
            "POST",
            &format!("/api/v2/job_templates/{jt2}/launch/"),
            auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a template made later: {}",
        r.text
    );
    let caps = api
        .call("GET", &format!("/api/v2/job_templates/{jt2}/"), auth, None)
        .await;
    assert_eq!(
        caps.body["summary_fields"]["user_capabilities"]["start"],
        true
    );

    // Its permissions cut to viewing: no more launching.
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/role_definitions/{def}/"),
            Some(json!({"permissions": ["shared.view_organization", "awx.view_jobtemplate"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .call("GET", "/api/v2/job_templates/2/", auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "still reads it");

    // Deleted: its assignments go, and with them the rights.
    let r = api
        .admin("DELETE", &format!("/api/v2/role_definitions/{def}/"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .call("GET", "/api/v2/job_templates/2/", auth, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let a = api
        .admin(
            "GET",
            &format!("/api/v2/role_user_assignments/?user={uid}"),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 0, "{}", a.text);
}

/// One set of grants: a grant through `/roles/` is an assignment of the old role's
/// definition, an assignment is a `/roles/` grant, and either view revokes the other's.
#[tokio::test]
async fn both_views_show_one_set_of_grants() {
    let api = Api::new().await;
    world(&api).await;
    let exec = api
        .admin("GET", "/api/v2/job_templates/2/", None)
        .await
        .body["summary_fields"]["object_roles"]["execute_role"]["id"]
        .as_i64()
        .unwrap();
    let def = definition(&api, "JobTemplate Execute").await["id"]
        .as_i64()
        .unwrap();
    let op = api.user("op", "pw").await;

    // Old view → DAB.
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{exec}/users/"),
            Some(json!({"id": op})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let q = format!("/api/v2/role_user_assignments/?user={op}&role_definition={def}&object_id=2");
    let a = api.admin("GET", &q, None).await;
    assert_eq!(a.body["count"], 1, "{}", a.text);
    assert_eq!(a.body["results"][0]["created_by"], 1);
    let aid = a.body["results"][0]["id"].as_i64().unwrap();
    let r = api
        .admin(
            "DELETE",
            &format!("/api/v2/role_user_assignments/{aid}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{exec}/users/"), None)
        .await;
    assert_eq!(
        users.body["count"], 0,
        "revoked through DAB: {}",
        users.text
    );

    // DAB → old view.
    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "user": op, "object_id": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{exec}/users/"), None)
        .await;
    assert_eq!(users.body["count"], 1, "{}", users.text);
    let roles = api
        .admin("GET", &format!("/api/v2/users/{op}/roles/"), None)
        .await;
    assert_eq!(roles.body["count"], 1, "{}", roles.text);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": exec, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let a = api.admin("GET", &q, None).await;
    assert_eq!(a.body["count"], 0, "revoked through /roles/: {}", a.text);

    // Teams: an assignment is the team's grant, members launch; the old view revokes it.
    let member = api.user("m", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/users/",
            Some(json!({"id": member})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin(
            "POST",
            "/api/v2/role_team_assignments/",
            Some(json!({"role_definition": def, "team": 1, "object_id": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["team"], 1);
    let teams = api
        .admin("GET", &format!("/api/v2/roles/{exec}/teams/"), None)
        .await;
    assert_eq!(teams.body["count"], 1, "{}", teams.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("m", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/roles/",
            Some(json!({"id": exec, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let a = api
        .admin("GET", "/api/v2/role_team_assignments/?team=1", None)
        .await;
    assert_eq!(a.body["count"], 0, "{}", a.text);

    // DAB's refusals for teams and objects.
    let org_member = definition(&api, "Organization Member").await["id"].clone();
    let r = api
        .admin(
            "POST",
            "/api/v2/role_team_assignments/",
            Some(json!({"role_definition": org_member, "team": 1, "object_id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!(["Assigning organization member permission to teams is not allowed"])
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "user": op})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"object_id": ["Object must be specified for this role assignment"]})
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "user": op, "object_id": 99})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"object_id": ["Invalid pk \"99\" - object does not exist."]})
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "object_id": 2})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"user": ["Provide exactly one of user or user_ansible_id"], "user_ansible_id": ["Provide exactly one of user or user_ansible_id"]})
    );
}

/// Who may assign: the object's admin (an organization admin for its templates), nobody
/// else; a user sees the assignments on what they may read.
#[tokio::test]
async fn only_an_objects_admin_assigns_its_roles() {
    let api = Api::new().await;
    world(&api).await;
    let def = definition(&api, "JobTemplate Execute").await["id"]
        .as_i64()
        .unwrap();
    let boss = api.user("boss", "pw").await;
    let op = api.user("op", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/admins/",
            Some(json!({"id": boss})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // op may not even see the template: it "does not exist" for them.
    let body = json!({"role_definition": def, "user": op, "object_id": 2});
    let r = api
        .call(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(("op", "pw")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(("boss", "pw")),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // op now reads the template, so sees its assignment, but may not revoke it.
    let mine = api
        .call(
            "GET",
            "/api/v2/role_user_assignments/",
            Some(("op", "pw")),
            None,
        )
        .await;
    assert_eq!(mine.body["count"], 1, "{}", mine.text);
    let aid = mine.body["results"][0]["id"].as_i64().unwrap();
    let r = api
        .call(
            "DELETE",
            &format!("/api/v2/role_user_assignments/{aid}/"),
            Some(("op", "pw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Nobody else sees it.
    api.user("eve", "pw").await;
    let theirs = api
        .call(
            "GET",
            "/api/v2/role_user_assignments/",
            Some(("eve", "pw")),
            None,
        )
        .await;
    assert_eq!(theirs.body["count"], 0, "{}", theirs.text);
}

/// Superusers and system auditors are the members of the system roles, as AWX shows them,
/// and the System Auditor definition's assignments are the auditors.
#[tokio::test]
async fn system_roles_list_superusers_and_auditors() {
    let api = Api::new().await;
    let roles = api
        .admin("GET", "/api/v2/roles/?search=system_administrator", None)
        .await;
    let admin_role = roles.body["results"][0]["id"].as_i64().expect(&roles.text);
    let roles = api
        .admin("GET", "/api/v2/roles/?search=system_auditor", None)
        .await;
    let auditor_role = roles.body["results"][0]["id"].as_i64().expect(&roles.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{admin_role}/users/"), None)
        .await;
    assert_eq!(users.body["count"], 1, "{}", users.text);
    assert_eq!(users.body["results"][0]["username"], "admin");

    let aud = api.user("aud", "pw").await;
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/users/{aud}/"),
            Some(json!({"is_system_auditor": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{auditor_role}/users/"), None)
        .await;
    assert_eq!(users.body["count"], 1, "{}", users.text);
    let sa = definition(&api, "System Auditor").await["id"]
        .as_i64()
        .unwrap();
    let a = api
        .admin(
            "GET",
            &format!("/api/v2/role_user_assignments/?role_definition={sa}"),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 1, "{}", a.text);
    assert_eq!(a.body["results"][0]["content_type"], Value::Null);
    assert_eq!(a.body["results"][0]["object_id"], Value::Null);

    // Granting the system administrator role through /roles/ makes a superuser; taking the
    // auditor role away clears the flag.
    let op = api.user("op", "pw").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{admin_role}/users/"),
            Some(json!({"id": op})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let u = api
        .admin("GET", &format!("/api/v2/users/{op}/"), None)
        .await;
    assert_eq!(u.body["is_superuser"], true, "{}", u.text);
    let aid = a.body["results"][0]["id"].as_i64().unwrap();
    let r = api
        .admin(
            "DELETE",
            &format!("/api/v2/role_user_assignments/{aid}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let u = api
        .admin("GET", &format!("/api/v2/users/{aud}/"), None)
        .await;
    assert_eq!(u.body["is_system_auditor"], false, "{}", u.text);
}

/// `summary_fields.user_capabilities` as AWX's `get_user_capabilities` gives them: the keys
/// each serializer shows, and their answers for a user holding one role. Table of (role
/// granted, object path, expected capabilities).
#[tokio::test]
async fn user_capabilities_follow_awx() {
    let api = Api::new().await;
    world(&api).await;
    let cases: &[(&str, &str, Value)] = &[
        (
            "inventories/1 adhoc_role",
            "/api/v2/inventories/1/",
            json!({"edit": false, "delete": false, "adhoc": true, "copy": false}),
        ),
        (
            "organizations/1 inventory_admin_role",
            "/api/v2/inventories/1/",
            json!({"edit": true, "delete": true, "adhoc": true, "copy": true}),
        ),
        (
            "inventories/1 admin_role",
            "/api/v2/groups/1/",
            json!({"edit": true, "delete": true, "copy": true}),
        ),
        (
            "credentials/1 use_role",
            "/api/v2/credentials/1/",
            json!({"edit": false, "delete": false, "copy": false, "use": true}),
        ),
        (
            "organizations/1 credential_admin_role",
            "/api/v2/credentials/1/",
            json!({"edit": true, "delete": true, "copy": true, "use": true}),
        ),
        (
            "job_templates/2 execute_role",
            "/api/v2/job_templates/2/",
            json!({"start": true, "schedule": true, "copy": false, "edit": false, "delete": false}),
        ),
        // A manual project is neither updated nor copied.
        (
            "projects/1 admin_role",
            "/api/v2/projects/1/",
            json!({"start": false, "schedule": false, "copy": false, "edit": true, "delete": true}),
        ),
    ];
    for (i, (grant, path, want)) in cases.iter().enumerate() {
        let (obj, field) = grant.split_once(' ').unwrap();
        let o = api.admin("GET", &format!("/api/v2/{obj}/"), None).await;
        let rid = o.body["summary_fields"]["object_roles"][field]["id"].clone();
        let name = format!("cap{i}");
        let uid = api.user(&name, "pw").await;
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/users/{uid}/roles/"),
                Some(json!({"id": rid})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{grant}: {}", r.text);
        let got = api.call("GET", path, Some((&name, "pw")), None).await;
        assert_eq!(
            got.body["summary_fields"]["user_capabilities"], *want,
            "{grant} on {path}"
        );
    }
    // A job shows `start` and `delete`, never `edit`.
    let jobs = api.admin("GET", "/api/v2/jobs/", None).await;
    let caps = &jobs.body["results"][0]["summary_fields"]["user_capabilities"];
    let mut keys: Vec<&String> = caps.as_object().expect("a job").keys().collect();
    keys.sort();
    assert_eq!(keys, ["delete", "start"], "{caps}");
}

/// Moving an inventory to another organization re-parents the templates using it (a
/// template's read role inherits from its inventory's organization's auditor role), and
/// deleting an organization leaves no role of anything that went with it.
#[tokio::test]
async fn roles_follow_moves_and_cascades() {
    let api = Api::new().await;
    world(&api).await;
    let other = api
        .make("/api/v2/organizations/", json!({"name": "Other"}))
        .await;
    let aud = api.user("aud", "pw").await;
    let o = api
        .admin("GET", &format!("/api/v2/organizations/{other}/"), None)
        .await;
    let rid = o.body["summary_fields"]["object_roles"]["auditor_role"]["id"].clone();
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{aud}/roles/"),
            Some(json!({"id": rid})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let auth = Some(("aud", "pw"));
    let r = api
        .call("GET", "/api/v2/job_templates/2/", auth, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .admin(
            "PATCH",
            "/api/v2/inventories/1/",
            Some(json!({"organization": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call("GET", "/api/v2/job_templates/2/", auth, None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the template's inventory moved: {}",
        r.text
    );

    let before = role_count(&api).await;
    let gone = api
        .make("/api/v2/organizations/", json!({"name": "Gone"}))
        .await;
    api.make(
        "/api/v2/inventories/",
        json!({"name": "inv", "organization": gone}),
    )
    .await;
    api.make("/api/v2/teams/", json!({"name": "t", "organization": gone}))
        .await;
    let with = role_count(&api).await;
    assert_eq!(
        with - before,
        13 + 5 + 3,
        "an organization's, an inventory's, a team's roles"
    );
    let r = api
        .admin("DELETE", &format!("/api/v2/organizations/{gone}/"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(role_count(&api).await, before, "no orphan roles");
}

async fn role_count(api: &Api) -> i64 {
    api.admin("GET", "/api/v2/roles/?page_size=1", None)
        .await
        .body["count"]
        .as_i64()
        .unwrap()
}

/// AWX 24 gives execution environments DAB roles only: the managed "ExecutionEnvironment
/// Admin" (change and delete of one) assigned with `object_id` lets a member of the
/// organization — who reads its execution environments but changes none — edit and delete
/// that one and no other (`ExecutionEnvironmentAccess.can_change`: `has_obj_perm(obj,
/// 'change')`), not move it to an organization they do not administer; through a team too;
/// revoking takes it back; its holder may not assign it further.
#[tokio::test]
async fn execution_environment_admin_on_one_execution_environment() {
    let api = &Api::new().await;
    world(api).await;
    let def = definition(api, "ExecutionEnvironment Admin").await;
    assert_eq!(def["content_type"], "awx.executionenvironment", "{def}");
    let mut perms: Vec<&str> = def["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    perms.sort();
    assert_eq!(
        perms,
        // AWX's model has no view permission ("defer to organization read permission").
        [
            "awx.change_executionenvironment",
            "awx.delete_executionenvironment"
        ]
    );
    let def = def["id"].as_i64().unwrap();
    let mine = common::ORG_EE_ID;
    let other = api
        .make(
            "/api/v2/execution_environments/",
            json!({"name": "other", "image": "quay.io/o/other:1", "organization": 1}),
        )
        .await;
    let spare = api
        .make(
            "/api/v2/execution_environments/",
            json!({"name": "spare", "image": "quay.io/o/spare:1", "organization": 1}),
        )
        .await;
    let org2 = api
        .make("/api/v2/organizations/", json!({"name": "Elsewhere"}))
        .await;
    let op = api.user("op", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": op})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let me = Some(("op", "pw"));
    let patch = |id: i64, body: Value| async move {
        api.call(
            "PATCH",
            &format!("/api/v2/execution_environments/{id}/"),
            me,
            Some(body),
        )
        .await
        .status
    };
    let caps = |id: i64| async move {
        let r = api
            .call(
                "GET",
                &format!("/api/v2/execution_environments/{id}/"),
                me,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let c = &r.body["summary_fields"]["user_capabilities"];
        (c["edit"].as_bool().unwrap(), c["delete"].as_bool().unwrap())
    };
    assert_eq!(
        patch(mine, json!({"description": "x"})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(caps(mine).await, (false, false));

    let r = api
        .admin(
            "POST",
            "/api/v2/role_user_assignments/",
            Some(json!({"role_definition": def, "user": op, "object_id": mine})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["content_type"], "awx.executionenvironment");
    assert_eq!(r.body["object_id"], mine.to_string());
    let assignment = r.body["id"].as_i64().unwrap();
    // Its holder sees the assignment.
    let seen = api
        .call(
            "GET",
            &format!("/api/v2/role_user_assignments/?object_id={mine}"),
            me,
            None,
        )
        .await;
    assert_eq!(seen.body["count"], 1, "{}", seen.text);

    assert_eq!(
        patch(mine, json!({"description": "mine now"})).await,
        StatusCode::OK
    );
    assert_eq!(caps(mine).await, (true, true));
    assert_eq!(
        patch(other, json!({"description": "x"})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(caps(other).await, (false, false));
    // Never to another organization (an execution environment's organization is only ever
    // cleared: 400 for anyone); cleared, it would be global, which only superusers change.
    assert_eq!(
        patch(mine, json!({"organization": org2})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        patch(mine, json!({"organization": null})).await,
        StatusCode::FORBIDDEN
    );
    // Not passed on: assigning needs the right to change the object.
    let r = api
        .call(
            "POST",
            "/api/v2/role_user_assignments/",
            me,
            Some(json!({"role_definition": def, "user": op, "object_id": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Through a team: the team's members edit and delete that one.
    let member = api.user("member", "pw").await;
    for (url, id) in [
        ("/api/v2/organizations/1/users/", member),
        ("/api/v2/teams/1/users/", member),
    ] {
        let r = api.admin("POST", url, Some(json!({"id": id}))).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
    let r = api
        .admin(
            "POST",
            "/api/v2/role_team_assignments/",
            Some(json!({"role_definition": def, "team": 1, "object_id": spare})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            "DELETE",
            &format!("/api/v2/execution_environments/{other}/"),
            Some(("member", "pw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .call(
            "DELETE",
            &format!("/api/v2/execution_environments/{spare}/"),
            Some(("member", "pw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Its assignment went with it.
    let left = api
        .admin(
            "GET",
            &format!("/api/v2/role_team_assignments/?object_id={spare}"),
            None,
        )
        .await;
    assert_eq!(left.body["count"], 0, "{}", left.text);

    // Revoked: back to reading only.
    let r = api
        .admin(
            "DELETE",
            &format!("/api/v2/role_user_assignments/{assignment}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        patch(mine, json!({"description": "again"})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(caps(mine).await, (false, false));
}
