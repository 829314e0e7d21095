//! `/api/v2/dashboard/graphs/jobs/` as AWX's `DashboardJobsGraphView` answers it: finished
//! jobs per day and final status over a period, only of jobs the caller may see.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use rawx_model::resources::JOBS;
use serde_json::{json, Value};

fn total(body: &Value, status: &str) -> u64 {
    body["jobs"][status]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_u64().unwrap())
        .sum()
}

async fn finished_job(api: &Api, status: &str, days_ago: i64) {
    let r = api
        .admin("POST", "/api/v2/job_templates/2/launch/", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let mut row = rawx_model::Row::new();
    row.insert("status".into(), json!(status));
    row.insert(
        "finished".into(),
        json!(rawx_model::time_after(-days_ago * 86400)),
    );
    api.store.update(&JOBS, id, &row).await.unwrap();
}

#[tokio::test]
async fn job_results_per_day_of_visible_jobs() {
    let api = Api::new().await;
    world(&api).await;
    finished_job(&api, "successful", 0).await;
    finished_job(&api, "successful", 0).await;
    finished_job(&api, "failed", 3).await;
    finished_job(&api, "canceled", 40).await; // before the month
    let r = api
        .admin("GET", "/api/v2/dashboard/graphs/jobs/", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys: Vec<_> = r.body["jobs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["successful", "failed", "canceled", "error"]);
    let days = r.body["jobs"]["successful"].as_array().unwrap();
    assert_eq!(days.len(), 31, "a point per day from 30 days ago to today");
    // `[epoch seconds at midnight UTC (a float, as time.mktime gives), count]`, oldest first.
    let today = days.last().unwrap();
    assert_eq!(today[1], 2);
    let t = today[0].as_f64().unwrap();
    assert_eq!(t % 86400.0, 0.0);
    assert!(days[0][0].as_f64().unwrap() < t);
    assert_eq!(total(&r.body, "successful"), 2);
    assert_eq!(total(&r.body, "failed"), 1);
    assert_eq!(total(&r.body, "canceled"), 0);

    let week = api
        .admin(
            "GET",
            "/api/v2/dashboard/graphs/jobs/?period=week&job_type=playbook_run",
            None,
        )
        .await;
    assert_eq!(week.body["jobs"]["failed"].as_array().unwrap().len(), 8);
    assert_eq!(total(&week.body, "failed"), 1);
    let syncs = api
        .admin(
            "GET",
            "/api/v2/dashboard/graphs/jobs/?job_type=inv_sync",
            None,
        )
        .await;
    assert_eq!(total(&syncs.body, "successful"), 0);
    let bad = api
        .admin("GET", "/api/v2/dashboard/graphs/jobs/?period=year", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body, json!({"error": "Unknown period \"year\""}));

    // A user of no organization sees no job, so counts nothing.
    api.user("nobody", "nobody-pw").await;
    let r = api
        .call(
            "GET",
            "/api/v2/dashboard/graphs/jobs/",
            Some(("nobody", "nobody-pw")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(total(&r.body, "successful") + total(&r.body, "failed"), 0);
    let anon = api
        .call("GET", "/api/v2/dashboard/graphs/jobs/", None, None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}
