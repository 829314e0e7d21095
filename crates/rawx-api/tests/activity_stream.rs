//! The activity stream as an AWX user reads it: who created, changed, linked and deleted
//! what, with AWX 24.6.1's shapes (`changes` as `model_to_dict` / `model_instance_diff` write
//! them, `object_association`, `object_type`), no secret in any entry, the sub-list under an
//! object, who may see which entry, and the setting that turns it off.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};

async fn entries(api: &Api, path: &str, auth: Option<(&str, &str)>) -> Vec<Value> {
    let r = api.call("GET", path, auth, None).await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text);
    r.body["results"].as_array().unwrap().clone()
}

async fn admin_entries(api: &Api, query: &str) -> Vec<Value> {
    entries(
        api,
        &format!("/api/v2/activity_stream/?page_size=200&{query}"),
        Some(("admin", rawx_testkit::ADMIN_PW)),
    )
    .await
}

#[tokio::test]
async fn every_change_is_an_entry_shown_as_awx_shows_it() {
    let api = Api::new().await;
    world(&api).await;

    // Create: every field a client writes, a foreign key as `name-id`, who and where.
    let created = admin_entries(&api, "object1=inventory&operation=create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    let e = &created[0];
    assert_eq!(e["type"], "activity_stream");
    assert_eq!(e["changes"]["name"], "Lab");
    assert_eq!(e["changes"]["organization"], "Ops-1");
    assert_eq!(e["changes"]["id"], 1);
    assert_eq!(e["object2"], "");
    assert_eq!(e["summary_fields"]["actor"]["username"], "admin");
    assert_eq!(e["related"]["actor"], "/api/v2/users/1/");
    assert_eq!(e["related"]["inventory"], json!(["/api/v2/inventories/1/"]));
    assert_eq!(e["summary_fields"]["inventory"][0]["name"], "Lab");
    assert!(!e["action_node"].as_str().unwrap().is_empty(), "{e}");
    assert!(e.get("created").is_none() && e.get("name").is_none(), "{e}");
    let one = api
        .admin(
            "GET",
            &format!("/api/v2/activity_stream/{}/", e["id"]),
            None,
        )
        .await;
    assert_eq!(one.body["changes"], e["changes"]);

    // Update: only what changed, as [old, new].
    let r = api
        .admin(
            "PATCH",
            "/api/v2/inventories/1/",
            Some(json!({"description": "the lab", "name": "Lab"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let updated = admin_entries(&api, "object1=inventory&operation=update").await;
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(
        updated[0]["changes"],
        json!({"description": ["", "the lab"]})
    );
    // A change that changes nothing is no entry (AWX's diff is empty).
    api.admin(
        "PATCH",
        "/api/v2/inventories/1/",
        Some(json!({"description": "the lab"})),
    )
    .await;
    assert_eq!(
        admin_entries(&api, "object1=inventory&operation=update")
            .await
            .len(),
        1
    );

    // Associate: the host put in the group, named by AWX's relation.
    let linked = admin_entries(&api, "operation=associate&object1=group").await;
    let e = linked
        .iter()
        .find(|e| e["object2"] == "host")
        .unwrap_or_else(|| panic!("{linked:?}"));
    assert_eq!(e["object_association"], "hosts");
    assert_eq!(e["changes"]["object1_pk"], 1);
    assert_eq!(e["changes"]["object2_pk"], 1);
    assert_eq!(e["related"]["host"], json!(["/api/v2/hosts/1/"]));

    // A role granted: the user and the role's object, association "role".
    let alice = api.user("alice", "apw").await;
    api.associate("/api/v2/organizations/1/admins/", alice)
        .await;
    let grants = admin_entries(&api, "operation=associate&object1=user").await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    let g = &grants[0];
    assert_eq!(g["object2"], "organization");
    assert_eq!(g["object_association"], "role");
    assert_eq!(g["object_type"], "organization");
    assert_eq!(
        g["related"]["organization"],
        json!(["/api/v2/organizations/1/"])
    );
    assert_eq!(
        g["related"]["user"],
        json!([format!("/api/v2/users/{alice}/")])
    );

    // Delete: what it was.
    let r = api.admin("DELETE", "/api/v2/hosts/1/", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let deleted = admin_entries(&api, "operation=delete").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["object1"], "host");
    assert_eq!(deleted[0]["changes"]["name"], "web1");

    // Under the object: the organization's own entries, and nothing else's.
    let org = entries(
        &api,
        "/api/v2/organizations/1/activity_stream/?page_size=200",
        Some(("admin", rawx_testkit::ADMIN_PW)),
    )
    .await;
    assert!(org.iter().any(|e| e["operation"] == "create"));
    assert!(org.iter().any(|e| e["object_association"] == "role"));
    assert!(
        org.iter()
            .all(|e| e["object1"] == "organization" || e["object2"] == "organization"),
        "{org:?}"
    );
    let inv = api.admin("GET", "/api/v2/inventories/1/", None).await;
    assert_eq!(
        inv.body["related"]["activity_stream"],
        "/api/v2/inventories/1/activity_stream/"
    );

    // Read only.
    let r = api
        .admin("POST", "/api/v2/activity_stream/", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
}

#[tokio::test]
async fn no_secret_reaches_an_entry() {
    let api = Api::new().await;
    world(&api).await;
    api.user("bob", "bobs-password").await;
    let r = api
        .admin(
            "PATCH",
            "/api/v2/credentials/1/",
            Some(json!({"inputs": {"username": "u", "password": "n3w-s3cret"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let all = api
        .admin("GET", "/api/v2/activity_stream/?page_size=200", None)
        .await;
    for secret in ["s3cret", "n3w-s3cret", "bobs-password", "AESCBC"] {
        assert!(!all.text.contains(secret), "{secret} in {}", all.text);
    }
    let user = admin_entries(&api, "object1=user&operation=create").await;
    let bob = user
        .iter()
        .find(|e| e["changes"]["username"] == "bob")
        .unwrap();
    assert_eq!(bob["changes"]["password"], "hidden");
    let cred = admin_entries(&api, "object1=credential&operation=create").await;
    let inputs: Value = serde_json::from_str(cred[0]["changes"]["inputs"].as_str().unwrap())
        .expect("inputs as JSON text, as AWX writes them");
    assert_eq!(inputs, json!({"username": "u", "password": "$encrypted$"}));
}

#[tokio::test]
async fn users_see_the_entries_of_what_they_may_read_and_the_setting_turns_it_off() {
    let api = Api::new().await;
    world(&api).await;
    let nobody = api.user("nobody", "npw").await;
    let seen = entries(
        &api,
        "/api/v2/activity_stream/?page_size=200",
        Some(("nobody", "npw")),
    )
    .await;
    assert!(!seen.is_empty(), "nobody's own creation");
    for e in &seen {
        assert_eq!(
            e["related"]["user"],
            json!([format!("/api/v2/users/{nobody}/")]),
            "nobody sees an entry about something else: {e}"
        );
    }
    // Made an auditor of the organization: its objects' entries too.
    let org = api.admin("GET", "/api/v2/organizations/1/", None).await;
    let auditor = org.body["summary_fields"]["object_roles"]["auditor_role"]["id"]
        .as_i64()
        .unwrap();
    api.associate(&format!("/api/v2/roles/{auditor}/users/"), nobody)
        .await;
    let seen = entries(
        &api,
        "/api/v2/activity_stream/?page_size=200",
        Some(("nobody", "npw")),
    )
    .await;
    assert!(
        seen.iter()
            .any(|e| e["object1"] == "inventory" && e["operation"] == "create"),
        "{seen:?}"
    );
    // An auditor of the organization still sees nothing of another one's.
    api.make("/api/v2/organizations/", json!({"name": "Other"}))
        .await;
    let seen = entries(
        &api,
        "/api/v2/activity_stream/?page_size=200",
        Some(("nobody", "npw")),
    )
    .await;
    assert!(
        !seen.iter().any(|e| e["changes"]["name"] == "Other"),
        "{seen:?}"
    );

    let before = admin_entries(&api, "").await.len();
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/system/",
            Some(json!({"ACTIVITY_STREAM_ENABLED": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    api.make("/api/v2/organizations/", json!({"name": "Quiet"}))
        .await;
    assert_eq!(admin_entries(&api, "").await.len(), before);
}
