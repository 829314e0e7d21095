//! Bad input gets AWX's error shape, the right status, and leaves the database as it was.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};

async fn refused(
    api: &Api,
    method: &str,
    path: &str,
    body: Value,
    status: StatusCode,
    expect: Value,
) {
    let before = api.snapshot().await;
    let r = api.admin(method, path, Some(body.clone())).await;
    assert_eq!(r.status, status, "{method} {path} {body}: {}", r.text);
    assert_eq!(r.body, expect, "{method} {path} {body}");
    assert!(
        api.snapshot().await == before,
        "{method} {path} {body} changed the database"
    );
}

#[tokio::test]
async fn refusals_name_the_problem_and_write_nothing() {
    let api = Api::new().await;
    world(&api).await;
    let bad = StatusCode::BAD_REQUEST;

    refused(
        &api,
        "POST",
        "/api/v2/organizations/",
        json!({}),
        bad,
        json!({"name": ["This field is required."]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/organizations/",
        json!({"name": "Ops"}),
        bad,
        json!({"name": ["Organization with this Name already exists."]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/inventories/",
        json!({"name": "Lab", "organization": 1}),
        bad,
        json!({"__all__": ["Inventory with this Name and Organization already exists."]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/inventories/",
        json!({"name": "X", "organization": 99}),
        bad,
        json!({"organization": ["Invalid pk \"99\" - object does not exist."]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/hosts/",
        json!({"name": "h", "inventory": 1, "enabled": "maybe", "variables": "a: ["}),
        bad,
        json!({
            "enabled": ["Must be a valid boolean."],
            "variables": ["Cannot parse as JSON (error: expected value at line 1 column 1) or YAML (error: did not find expected node content at line 2 column 1, while parsing a flow node)."]
        }),
    )
    .await;
    refused(
        &api,
        "PATCH",
        "/api/v2/job_templates/2/",
        json!({"forks": -1, "verbosity": 9, "bogus": true}),
        bad,
        json!({
            "forks": ["Ensure this value is greater than or equal to 0."],
            "verbosity": ["\"9\" is not a valid choice."]
        }),
    )
    .await;
    refused(
        &api,
        "PATCH",
        "/api/v2/job_templates/2/",
        json!({"playbook": "../etc/passwd"}),
        bad,
        json!({"playbook": ["Playbook not found for project."]}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/job_templates/",
        json!({"name": "nj", "project": 1}),
        bad,
        json!({
            "inventory": ["Job Template must provide 'inventory' or allow prompting for it."],
            "playbook": ["This field is required."]
        }),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/credentials/",
        json!({"name": "c", "organization": 1, "credential_type": 1, "inputs": {"nope": "x"}}),
        bad,
        json!({"inputs": {"nope": ["'nope' is not an input of credential type Machine."]}}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/job_templates/2/credentials/",
        json!({"id": 42}),
        bad,
        json!({"msg": "Credential with id 42 does not exist."}),
    )
    .await;
    refused(
        &api,
        "DELETE",
        "/api/v2/credential_types/1/",
        json!({}),
        StatusCode::FORBIDDEN,
        json!({"detail": "Deletion not allowed for managed credential types"}),
    )
    .await;
    refused(
        &api,
        "POST",
        "/api/v2/organizations/1/galaxy_credentials/",
        json!({"id": 1}),
        bad,
        json!({"msg": "Credential must be a Galaxy credential, not Machine."}),
    )
    .await;
    refused(
        &api,
        "PATCH",
        "/api/v2/organizations/1/",
        json!({"default_environment": 99}),
        bad,
        json!({"default_environment": ["Invalid pk \"99\" - object does not exist."]}),
    )
    .await;
    refused(
        &api,
        "GET",
        "/api/v2/hosts/77/",
        json!({}),
        StatusCode::NOT_FOUND,
        json!({"detail": "Not found."}),
    )
    .await;

    // Malformed JSON, a list body, a form body.
    let before = api.snapshot().await;
    let r = api
        .raw(
            "POST",
            "/api/v2/organizations/",
            ("admin", "pw"),
            "application/json",
            "{\"name\": ",
        )
        .await;
    assert_eq!(r.status, bad);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error"),
        "{}",
        r.text
    );
    let r = api
        .raw(
            "POST",
            "/api/v2/organizations/",
            ("admin", "pw"),
            "application/json",
            "[1]",
        )
        .await;
    assert_eq!(
        r.body,
        json!({"__all__": ["Invalid data. Expected a dictionary, but got list."]})
    );
    let r = api
        .raw(
            "POST",
            "/api/v2/organizations/",
            ("admin", "pw"),
            "text/plain",
            "name=x",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(api.snapshot().await == before);

    // Filters: an unknown field, a bad value, a bad page.
    let r = api.admin("GET", "/api/v2/hosts/?bogus=1", None).await;
    assert_eq!(
        (r.status, r.body),
        (bad, json!({"detail": "Host has no field named 'bogus'"}))
    );
    let r = api.admin("GET", "/api/v2/hosts/?id__gt=x", None).await;
    assert_eq!(r.status, bad);
    let r = api.admin("GET", "/api/v2/hosts/?page=9", None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."}))
    );

    // Missing and wrong credentials.
    let r = api.call("GET", "/api/v2/hosts/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["detail"],
        "Authentication credentials were not provided. To establish a login session, visit /api/login/."
    );
    let r = api
        .call("GET", "/api/v2/hosts/", Some(("admin", "wrong")), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// What AWX's serializers take: keys that are no writable field are ignored, `null` is the
/// empty string for text and blank choices (what the awx.awx collection sends) and false for
/// booleans.
#[tokio::test]
async fn input_awx_takes_is_taken() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/inventories/",
            Some(
                json!({"name": "Inv", "organization": 1, "kind": null, "host_filter": null,
                        "description": null, "total_hosts": 5, "bogus": true}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["kind"], "");
    assert_eq!(r.body["host_filter"], Value::Null);
    assert_eq!(r.body["description"], "");
    assert_eq!(r.body["total_hosts"], 0);
    assert!(r.body.get("bogus").is_none());
    let r = api
        .admin(
            "PATCH",
            "/api/v2/hosts/1/",
            Some(json!({"enabled": null, "id": 42, "url": "/elsewhere/"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["id"].clone(), r.body["enabled"].clone()),
        (json!(1), json!(false))
    );

    // An organization's Galaxy credentials and default execution environment.
    let galaxy_type = api
        .admin(
            "GET",
            "/api/v2/credential_types/?namespace=galaxy_api_token",
            None,
        )
        .await;
    let r = api
        .admin(
            "POST",
            "/api/v2/credentials/",
            Some(json!({"name": "hub", "organization": 1,
                        "credential_type": galaxy_type.body["results"][0]["id"],
                        "inputs": {"url": "https://hub.example.com/"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let hub = r.body["id"].clone();
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/galaxy_credentials/",
            Some(json!({"id": hub})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin("GET", "/api/v2/organizations/1/galaxy_credentials/", None)
        .await;
    assert_eq!(r.body["results"][0]["name"], "hub", "{}", r.text);
    let r = api
        .admin(
            "PATCH",
            "/api/v2/organizations/1/",
            Some(json!({"default_environment": 1, "max_hosts": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["default_environment"], 1);
    assert_eq!(r.body["max_hosts"], 3);
    assert_eq!(
        r.body["related"]["galaxy_credentials"],
        "/api/v2/organizations/1/galaxy_credentials/"
    );
}

#[tokio::test]
async fn another_users_objects_are_out_of_reach() {
    let api = Api::new().await;
    world(&api).await;
    api.user("eve", "epw").await;
    let eve = Some(("eve", "epw"));
    let before = api.snapshot().await;
    for (method, path, body) in [
        ("GET", "/api/v2/credentials/1/", None),
        (
            "PATCH",
            "/api/v2/credentials/1/",
            Some(json!({"name": "mine"})),
        ),
        ("DELETE", "/api/v2/hosts/1/", None),
        ("GET", "/api/v2/users/1/personal_tokens/", None),
        (
            "POST",
            "/api/v2/users/1/personal_tokens/",
            Some(json!({"description": "steal"})),
        ),
        ("GET", "/api/v2/tokens/1/", None),
        (
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": 2})),
        ),
    ] {
        let r = api.call(method, path, eve, body).await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "{method} {path}: {} {}",
            r.status,
            r.text
        );
        assert!(
            r.body.get("detail").is_some(),
            "{method} {path}: {}",
            r.text
        );
    }
    assert!(api.snapshot().await == before);
}
