//! `ask_labels_on_launch`: labels given at launch replace the template's on the job when the
//! template asks for them (AWX's JobLaunchSerializer), are ignored otherwise, and a relaunch
//! keeps the job's own.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::json;

async fn job_labels(api: &Api, job: i64) -> Vec<String> {
    let r = api
        .admin("GET", &format!("/api/v2/jobs/{job}/labels/"), None)
        .await;
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn labels_prompted_at_launch() {
    let api = Api::new().await;
    world(&api).await;
    let canary = api
        .make(
            "/api/v2/labels/",
            json!({"name": "canary", "organization": 1}),
        )
        .await;
    api.admin(
        "POST",
        "/api/v2/job_templates/2/labels/",
        Some(json!({"id": 1})),
    )
    .await;
    // Not asked for: ignored, the job has the template's.
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(json!({"labels": [canary]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["ignored_fields"], json!({"labels": [canary]}));
    let job = r.body["id"].as_i64().unwrap();
    assert_eq!(job_labels(&api, job).await, ["prod"]);

    api.admin(
        "PATCH",
        "/api/v2/job_templates/2/",
        Some(json!({"ask_labels_on_launch": true})),
    )
    .await;
    let r = api
        .admin("GET", "/api/v2/job_templates/2/launch/", None)
        .await;
    assert_eq!(
        r.body["defaults"]["labels"],
        json!([{"id": 1, "name": "prod"}])
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(json!({"labels": [99]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"labels": ["Invalid pk \"99\" - object does not exist."]})
        )
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(json!({"labels": [canary]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let job = r.body["id"].as_i64().unwrap();
    assert_eq!(job_labels(&api, job).await, ["canary"]);
    // A launch without the prompt still takes the template's.
    let r = api
        .admin("POST", "/api/v2/job_templates/2/launch/", Some(json!({})))
        .await;
    assert_eq!(
        job_labels(&api, r.body["id"].as_i64().unwrap()).await,
        ["prod"]
    );
    // A relaunch keeps the job's own.
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/jobs/{job}/relaunch/"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        job_labels(&api, r.body["id"].as_i64().unwrap()).await,
        ["canary"]
    );
}
