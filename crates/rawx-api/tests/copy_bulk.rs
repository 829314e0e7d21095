//! AWX's `…/N/copy/` (awx/api/generics.py `CopyAPIView`, the models' copy rules) and
//! `/api/v2/bulk/` host create and delete (awx/api/serializers.py's bulk serializers): what is
//! copied, who may, and the limits and messages of the bulk endpoints.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};

async fn names(api: &Api, path: &str) -> Vec<String> {
    let r = api.admin("GET", path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_job_template_copy_keeps_its_fields_and_links() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/labels/",
            Some(json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin("GET", "/api/v2/job_templates/2/copy/", None)
        .await;
    assert_eq!(r.body, json!({"can_copy": true}));
    let r = api
        .admin("POST", "/api/v2/job_templates/2/copy/", Some(json!({})))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"name": ["This field is required."]})
        )
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/copy/",
            Some(json!({"name": "hello"})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["The original object is already named hello, a copy from it cannot have the same name."]})
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/copy/",
            Some(json!({"name": "hello again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_ne!(id, 1);
    assert_eq!(r.body["name"], "hello again");
    assert_eq!(r.body["playbook"], "hello.yml");
    assert_eq!(r.body["inventory"], 1);
    assert_eq!(r.body["project"], 1);
    let creds = names(&api, &format!("/api/v2/job_templates/{id}/credentials/")).await;
    assert_eq!(creds, vec!["key"]);
    let labels = names(&api, &format!("/api/v2/job_templates/{id}/labels/")).await;
    assert_eq!(labels, vec!["prod"]);
    // The original is untouched.
    let r = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(r.body["name"], "hello");
}

#[tokio::test]
async fn an_inventory_copy_has_its_hosts_and_groups() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/inventories/1/copy/",
            Some(json!({"name": "Lab 2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["organization"], 1);
    let hosts = api
        .admin("GET", &format!("/api/v2/inventories/{id}/hosts/"), None)
        .await;
    let host = &hosts.body["results"][0];
    assert_eq!(hosts.body["count"], 1);
    assert_eq!(host["name"], "web1");
    assert_ne!(host["id"], 1, "a new host, not the original's");
    let groups = api
        .admin("GET", &format!("/api/v2/inventories/{id}/groups/"), None)
        .await;
    assert_eq!(groups.body["count"], 1);
    let gid = groups.body["results"][0]["id"].as_i64().unwrap();
    assert_ne!(gid, 1);
    let members = api
        .admin("GET", &format!("/api/v2/groups/{gid}/hosts/"), None)
        .await;
    assert_eq!(members.body["count"], 1);
    assert_eq!(members.body["results"][0]["id"], host["id"]);
    // The original keeps its own.
    assert_eq!(
        names(&api, "/api/v2/inventories/1/hosts/").await,
        vec!["web1"]
    );
}

#[tokio::test]
async fn credential_and_project_copies_follow_awx_rules() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/credentials/1/copy/",
            Some(json!({"name": "key 2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["inputs"]["username"], "u");
    assert_eq!(r.body["inputs"]["password"], "$encrypted$");
    assert_eq!(r.body["credential_type"], 1);
    let r = api
        .admin(
            "POST",
            "/api/v2/projects/1/copy/",
            Some(json!({"name": "demo 2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // AWX's Project.FIELDS_TO_DISCARD_AT_COPY.
    assert_eq!(r.body["local_path"], "");
    assert_eq!(r.body["organization"], 1);
    // A notification template, its secret still sealed.
    let hook = api
        .make(
            "/api/v2/notification_templates/",
            json!({"name": "hook 2", "organization": 1, "notification_type": "webhook",
                   "notification_configuration": {"url": "http://127.0.0.1:9/x", "headers": {},
                                                  "password": "hook-secret"}}),
        )
        .await;
    let nt = api
        .admin(
            "GET",
            &format!("/api/v2/notification_templates/{hook}/"),
            None,
        )
        .await;
    assert_eq!(nt.body["summary_fields"]["user_capabilities"]["copy"], true);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/notification_templates/{hook}/copy/"),
            Some(json!({"name": "hook 3"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let conf = &r.body["notification_configuration"];
    assert_eq!(conf["url"], "http://127.0.0.1:9/x", "{}", r.text);
    assert_eq!(conf["password"], "$encrypted$", "{}", r.text);
    assert!(!r.text.contains("hook-secret"));
}

#[tokio::test]
async fn copy_needs_the_right_to_create_it() {
    let api = Api::new().await;
    world(&api).await;
    let bob = api.user("bob", "bobpw12345").await;
    // Bob reads the inventory (its read role: AWX's organization member role would not show
    // it) but may not create one in its organization.
    let read = api.admin("GET", "/api/v2/inventories/1/", None).await.body["summary_fields"]
        ["object_roles"]["read_role"]["id"]
        .clone();
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{bob}/roles/"),
            Some(json!({"id": read})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let bob_auth = Some(("bob", "bobpw12345"));
    let r = api
        .call("GET", "/api/v2/inventories/1/copy/", bob_auth, None)
        .await;
    assert_eq!(r.body, json!({"can_copy": false}), "{}", r.text);
    let before = api.snapshot().await;
    let r = api
        .call(
            "POST",
            "/api/v2/inventories/1/copy/",
            bob_auth,
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(api.snapshot().await, before, "nothing was copied");
}

#[tokio::test]
async fn bulk_host_create_has_awx_limits_and_messages() {
    let api = Api::new().await;
    world(&api).await;
    let post = |body: Value| {
        let api = &api;
        async move {
            api.admin("POST", "/api/v2/bulk/host_create/", Some(body))
                .await
        }
    };
    let r = post(json!({"inventory": 1, "hosts": []})).await;
    assert_eq!(r.body, json!({"hosts": ["This list may not be empty."]}));
    let r = post(json!({"hosts": [{"name": "a"}]})).await;
    assert_eq!(r.body, json!({"inventory": ["This field is required."]}));
    let r = post(json!({"inventory": 99, "hosts": [{"name": "a"}]})).await;
    assert_eq!(
        r.body,
        json!({"inventory": ["Invalid pk \"99\" - object does not exist."]})
    );
    let r =
        post(json!({"inventory": 1, "hosts": [{"name": "a"}, {"name": "web1"}, {"name": "a"}]}))
            .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": ["Hostnames must be unique in an inventory. Duplicates found: ['a', 'web1', 'a']"]})
        )
    );
    let r = post(json!({"inventory": 1, "hosts": [{"description": "no name"}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["hosts"]["0"]["name"].is_array(), "{}", r.text);
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/bulk/",
            Some(json!({"BULK_HOST_MAX_CREATE": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r =
        post(json!({"inventory": 1, "hosts": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})).await;
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["Number of hosts exceeds system setting BULK_HOST_MAX_CREATE"]})
    );
    let r = post(json!({"inventory": 1, "hosts": [
        {"name": "a", "variables": "x: 1", "description": "first"},
        {"name": "b", "enabled": false, "instance_id": "i-2"},
    ]}))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["url"], "/api/v2/inventories/1/");
    let made = r.body["hosts"].as_array().unwrap();
    assert_eq!(made.len(), 2);
    assert_eq!(made[0]["name"], "a");
    assert_eq!(made[0]["description"], "first");
    assert_eq!(made[0]["inventory"], "/api/v2/inventories/1/");
    assert_eq!(made[1]["enabled"], false);
    assert_eq!(made[1]["instance_id"], "i-2");
    let id = made[1]["id"].as_i64().unwrap();
    assert_eq!(made[1]["url"], format!("/api/v2/hosts/{id}/"));
    assert_eq!(
        names(&api, "/api/v2/inventories/1/hosts/?order_by=name").await,
        vec!["a", "b", "web1"]
    );
    // Someone who cannot change the inventory is told AWX's way.
    api.user("eve", "evepw12345").await;
    let r = api
        .call(
            "POST",
            "/api/v2/bulk/host_create/",
            Some(("eve", "evepw12345")),
            Some(json!({"inventory": 1, "hosts": [{"name": "z"}]})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["Inventory with id 1 not found or lack permissions to add hosts."]})
    );
}

#[tokio::test]
async fn bulk_host_delete_has_awx_limits_and_messages() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/bulk/host_create/",
            Some(json!({"inventory": 1, "hosts": [{"name": "a"}, {"name": "b"}]})),
        )
        .await;
    let ids: Vec<i64> = r.body["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    let post = |body: Value| {
        let api = &api;
        async move {
            api.admin("POST", "/api/v2/bulk/host_delete/", Some(body))
                .await
        }
    };
    let r = post(json!({"hosts": [ids[0], 999]})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"hosts": {"999": "Hosts do not exist or you lack permission to delete it"}})
        )
    );
    api.admin(
        "PATCH",
        "/api/v2/settings/bulk/",
        Some(json!({"BULK_HOST_MAX_DELETE": 1})),
    )
    .await;
    let r = post(json!({"hosts": ids})).await;
    assert_eq!(
        r.body,
        json!({"ERROR": "Number of hosts exceeds system setting BULK_HOST_MAX_DELETE", "BULK_HOST_MAX_DELETE": 1, "Hosts_count": 2})
    );
    api.admin("DELETE", "/api/v2/settings/bulk/", None).await;
    api.user("eve", "evepw12345").await;
    let r = api
        .call(
            "POST",
            "/api/v2/bulk/host_delete/",
            Some(("eve", "evepw12345")),
            Some(json!({"hosts": [ids[0]]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            json!({"inventories": {"Lab": "Lack permissions to delete hosts from this inventory."}})
        )
    );
    let r = post(json!({"hosts": ids})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"hosts": {ids[0].to_string(): "The host a was deleted", ids[1].to_string(): "The host b was deleted"}})
    );
    assert_eq!(
        names(&api, "/api/v2/inventories/1/hosts/").await,
        vec!["web1"]
    );
    let r = api.admin("GET", "/api/v2/bulk/", None).await;
    assert_eq!(r.body["host_create"], "/api/v2/bulk/host_create/");
}
