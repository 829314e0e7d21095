//! Execution environments as AWX 24.6.1 serves them (`ExecutionEnvironmentSerializer`,
//! `ExecutionEnvironmentAccess`, `ExecutionEnvironmentDetail`): global ones are the
//! superusers', an organization's are its execution environment admins'; the managed one
//! changes only its `pull` and is never deleted; images and credentials are checked; copy,
//! `unified_job_templates/`, an organization's `execution_environments/`; and the one a job
//! resolves to, in AWX's order.

mod common;

use axum::http::StatusCode;
use common::{world, Api, JT_ID};
use serde_json::{json, Value};

/// The seeded ones: AWX's default job environment and the managed control plane one.
const DEFAULT_EE: i64 = 1;
const CONTROL_PLANE_EE: i64 = 2;

async fn org_role(api: &Api, org: i64, field: &str) -> Value {
    let r = api
        .admin("GET", &format!("/api/v2/organizations/{org}/"), None)
        .await;
    r.body["summary_fields"]["object_roles"][field]["id"].clone()
}

#[tokio::test]
async fn superusers_write_global_ones_and_images_and_credentials_are_checked() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/execution_environments/",
            Some(json!({"name": "custom", "image": "quay.io/acme/ee:1.0", "pull": "always"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["organization"], Value::Null);
    assert_eq!(r.body["managed"], false);
    assert_eq!(
        r.body["related"]["copy"],
        format!("/api/v2/execution_environments/{id}/copy/")
    );
    assert_eq!(
        r.body["related"]["unified_job_templates"],
        format!("/api/v2/execution_environments/{id}/unified_job_templates/")
    );
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"],
        json!({"edit": true, "delete": true, "copy": true})
    );

    let bad = api
        .admin(
            "POST",
            "/api/v2/execution_environments/",
            Some(json!({"name": "bad", "image": "Not An/Image"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        json!({"image": ["The container image name Not An/Image is not valid"]})
    );
    let missing = api
        .admin(
            "POST",
            "/api/v2/execution_environments/",
            Some(json!({"name": "noimage"})),
        )
        .await;
    assert_eq!(missing.body, json!({"image": ["This field is required."]}));
    // The world's credential 1 is a Machine credential.
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/execution_environments/{id}/"),
            Some(json!({"credential": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"credential": ["Only Container Registry credentials can be associated with an Execution Environment"]})
    );
    let types = api
        .admin("GET", "/api/v2/credential_types/?kind=registry", None)
        .await;
    let registry = types.body["results"][0]["id"].clone();
    let cred = api
        .make(
            "/api/v2/credentials/",
            json!({"name": "quay", "organization": 1, "credential_type": registry,
                   "inputs": {"host": "quay.io", "username": "u", "password": "p"}}),
        )
        .await;
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/execution_environments/{id}/"),
            Some(json!({"credential": cred, "pull": "never"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["summary_fields"]["credential"]["name"], "quay");

    // The managed one: only `pull` changes; it is never deleted, by superusers neither.
    let url = format!("/api/v2/execution_environments/{CONTROL_PLANE_EE}/");
    let managed = api.admin("GET", &url, None).await;
    assert_eq!(managed.body["managed"], true);
    assert_eq!(
        managed.body["summary_fields"]["user_capabilities"]["delete"],
        false
    );
    let r = api
        .admin("PATCH", &url, Some(json!({"pull": "always"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["pull"], "always");
    let same_name = managed.body["name"].clone();
    let r = api
        .admin(
            "PATCH",
            &url,
            Some(json!({"name": same_name, "pull": "missing"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "its own name sent back is no change: {}",
        r.text
    );
    let r = api
        .admin("PATCH", &url, Some(json!({"name": "renamed"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["detail"],
        "Only the 'pull' field can be edited for managed execution environments."
    );
    let r = api.admin("DELETE", &url, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Copy: an ordinary one of the same fields.
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/execution_environments/{CONTROL_PLANE_EE}/copy/"),
            Some(json!({"name": "cp copy"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["managed"], false);
    assert_eq!(r.body["image"], managed.body["image"]);

    let r = api
        .admin(
            "DELETE",
            &format!("/api/v2/execution_environments/{id}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn an_organizations_execution_environment_admin_writes_its_own_only() {
    let api = Api::new().await;
    world(&api).await;
    let other = api
        .make("/api/v2/organizations/", json!({"name": "Other"}))
        .await;
    let bob = api.user("bob", "bpw").await;
    let bob_auth = Some(("bob", "bpw"));
    let carol = api.user("carol", "cpw").await;
    let carol_auth = Some(("carol", "cpw"));
    // Carol is a plain member of Ops: she reads its execution environments and writes none.
    let member = org_role(&api, 1, "member_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{carol}/roles/"),
            Some(json!({"id": member})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let body =
        json!({"name": "ops ee", "image": "registry.example.com/ops/ee:2", "organization": 1});
    let r = api
        .call(
            "POST",
            "/api/v2/execution_environments/",
            bob_auth,
            Some(body.clone()),
        )
        .await;
    // AWX answers 403; rawx's check that a key names an object the caller can see, first.
    assert!(matches!(r.status.as_u16(), 400 | 403), "{}", r.text);
    let admin_role = org_role(&api, 1, "execution_environment_admin_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{bob}/roles/"),
            Some(json!({"id": admin_role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let opts = api
        .call("OPTIONS", "/api/v2/execution_environments/", bob_auth, None)
        .await;
    assert!(opts.body["actions"].get("POST").is_some(), "{}", opts.text);
    let r = api
        .call(
            "POST",
            "/api/v2/execution_environments/",
            bob_auth,
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ops_ee = r.body["id"].as_i64().unwrap();
    // Not a global one, nor one of another organization.
    let r = api
        .call(
            "POST",
            "/api/v2/execution_environments/",
            bob_auth,
            Some(json!({"name": "g", "image": "quay.io/x/y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/execution_environments/",
            bob_auth,
            Some(json!({"name": "o", "image": "quay.io/x/y", "organization": other})),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 400 | 403), "{}", r.text);
    let r = api
        .call(
            "PATCH",
            &format!("/api/v2/execution_environments/{DEFAULT_EE}/"),
            bob_auth,
            Some(json!({"description": "mine"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a global one is the superusers'"
    );
    let r = api
        .call(
            "PATCH",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            bob_auth,
            Some(json!({"description": "ours", "pull": "missing"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Moved to another organization: never (AWX's serializer), whoever asks.
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            Some(json!({"organization": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"organization": ["Cannot change the organization of an execution environment"]})
    );

    // Carol sees Ops' (the world's and Bob's) and the global ones, and may change none; Dave,
    // of no organization,
    // sees the global ones only.
    let list = api
        .call("GET", "/api/v2/execution_environments/", carol_auth, None)
        .await;
    assert_eq!(list.body["count"], 4, "{}", list.text);
    let r = api
        .call(
            "GET",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            carol_auth,
            None,
        )
        .await;
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"]["edit"], false,
        "{}",
        r.text
    );
    let r = api
        .call(
            "DELETE",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            carol_auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    api.user("dave", "dpw").await;
    let list = api
        .call(
            "GET",
            "/api/v2/execution_environments/",
            Some(("dave", "dpw")),
            None,
        )
        .await;
    assert_eq!(list.body["count"], 2, "{}", list.text);
    assert!(list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["organization"].is_null()));
    let r = api
        .call(
            "GET",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            Some(("dave", "dpw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The organization's sub-list, and a create through it.
    let r = api
        .call(
            "POST",
            "/api/v2/organizations/1/execution_environments/",
            bob_auth,
            Some(json!({"name": "second", "image": "quay.io/ops/two"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["organization"], 1);
    let sub = api
        .admin(
            "GET",
            "/api/v2/organizations/1/execution_environments/",
            None,
        )
        .await;
    assert_eq!(
        rawx_testkit::names(&sub.body),
        ["second", "ops ee", "lab ee"]
    );
    let r = api
        .call(
            "DELETE",
            &format!("/api/v2/execution_environments/{ops_ee}/"),
            bob_auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // They go with their organization (AWX: CASCADE), not into the global ones.
    let r = api.admin("DELETE", "/api/v2/organizations/1/", None).await;
    assert!(r.status.is_success(), "{}", r.text);
    let left = api
        .admin("GET", "/api/v2/execution_environments/?name=second", None)
        .await;
    assert_eq!(left.body["count"], 0, "{}", left.text);
}

/// What a job of the template would run in now: a job row as a launch makes it.
async fn job(api: &Api, jt_url: &str) -> Option<i64> {
    let jt = api.admin("GET", jt_url, None).await;
    let mut row = rawx_model::Row::new();
    for f in ["project", "organization", "inventory"] {
        row.insert(f.into(), jt.body[f].clone());
    }
    row.insert("unified_job_template".into(), json!(JT_ID));
    rawx_domain::ee::resolve(&*api.store, "jobs", &row)
        .await
        .unwrap()
}

#[tokio::test]
async fn templates_name_one_and_jobs_resolve_in_awxs_order() {
    let api = Api::new().await;
    world(&api).await;
    let ee = |name: &str| json!({"name": name, "image": format!("quay.io/acme/{name}"), "organization": 1});
    let tmpl_ee = api
        .make("/api/v2/execution_environments/", ee("tmpl"))
        .await;
    let proj_ee = api
        .make("/api/v2/execution_environments/", ee("proj"))
        .await;
    let org_ee = api.make("/api/v2/execution_environments/", ee("org")).await;

    let jt_url = format!("/api/v2/job_templates/{JT_ID}/");
    // Nothing set: the global default, AWX's installed "AWX EE (latest)".
    assert_eq!(job(&api, &jt_url).await, Some(DEFAULT_EE));
    let r = api
        .admin(
            "PATCH",
            "/api/v2/organizations/1/",
            Some(json!({"default_environment": org_ee})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The template's organization comes from its project.
    assert_eq!(job(&api, &jt_url).await, Some(org_ee));
    let r = api
        .admin(
            "PATCH",
            "/api/v2/projects/1/",
            Some(json!({"default_environment": proj_ee})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(job(&api, &jt_url).await, Some(proj_ee));
    let r = api
        .admin(
            "PATCH",
            &jt_url,
            Some(json!({"execution_environment": tmpl_ee, "ask_execution_environment_on_launch": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(job(&api, &jt_url).await, Some(tmpl_ee));
    assert_eq!(
        r.body["related"]["execution_environment"],
        format!("/api/v2/execution_environments/{tmpl_ee}/")
    );
    assert_eq!(
        r.body["summary_fields"]["execution_environment"],
        json!({"id": tmpl_ee, "name": "tmpl", "description": "", "image": "quay.io/acme/tmpl"})
    );
    assert_eq!(
        r.body["summary_fields"]["resolved_environment"]["id"],
        tmpl_ee
    );
    // The project updates run in the control plane's.
    let update = rawx_domain::ee::resolve(&*api.store, "project_updates", &rawx_model::Row::new())
        .await
        .unwrap();
    assert_eq!(update, Some(CONTROL_PLANE_EE));

    // The execution environment's templates.
    let ujts = api
        .admin(
            "GET",
            &format!("/api/v2/execution_environments/{tmpl_ee}/unified_job_templates/"),
            None,
        )
        .await;
    assert_eq!(ujts.body["count"], 1, "{}", ujts.text);
    assert_eq!(ujts.body["results"][0]["id"], JT_ID);
    assert_eq!(ujts.body["results"][0]["type"], "job_template");

    // Launch: the job copies the template's; a prompt replaces it; an unknown one is refused.
    let launch = format!("{jt_url}launch/");
    let info = api.admin("GET", &launch, None).await;
    assert_eq!(
        info.body["defaults"]["execution_environment"],
        json!({"id": tmpl_ee, "name": "tmpl"})
    );
    let r = api.admin("POST", &launch, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["execution_environment"], tmpl_ee);
    let r = api
        .admin(
            "POST",
            &launch,
            Some(json!({"execution_environment": org_ee})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["execution_environment"], org_ee);
    assert_eq!(
        r.body["summary_fields"]["execution_environment"]["name"],
        "org"
    );
    let r = api
        .admin("POST", &launch, Some(json!({"execution_environment": 999})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"execution_environment": ["Invalid pk \"999\" - object does not exist."]})
    );

    // Deleting one in use clears it where it was named (AWX: SET_NULL).
    let r = api
        .admin(
            "DELETE",
            &format!("/api/v2/execution_environments/{tmpl_ee}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let jt = api.admin("GET", &jt_url, None).await;
    assert_eq!(jt.body["execution_environment"], Value::Null);
    assert_eq!(job(&api, &jt_url).await, Some(proj_ee));
}
