//! The permission filter must not make lists slow: 10,000 hosts across 100 inventories, a user
//! who may read half of the inventories (through a team) lists hosts about as fast as the
//! superuser, whose list has no filter at all. Figures are printed (`--no-capture`).

mod common;

use axum::http::StatusCode;
use common::Api;
use rawx_model::Row;
use serde_json::json;
use std::time::{Duration, Instant};

async fn median(api: &Api, auth: (&str, &str), path: &str, want: u64) -> Duration {
    let mut times = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let r = api.call("GET", path, Some(auth), None).await;
        times.push(t.elapsed());
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["count"], want, "{path} as {}", auth.0);
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn a_filtered_host_list_is_as_fast_as_an_unfiltered_one() {
    let api = Api::new().await;
    let org = api
        .make("/api/v2/organizations/", json!({"name": "Big"}))
        .await;
    let team = api
        .make(
            "/api/v2/teams/",
            json!({"name": "half", "organization": org}),
        )
        .await;
    let reader = api.user("reader", "pw").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/teams/{team}/users/"),
            Some(json!({"id": reader})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for i in 0..100 {
        let inv = api
            .make(
                "/api/v2/inventories/",
                json!({"name": format!("inv{i}"), "organization": org}),
            )
            .await;
        // Hosts go straight to the store (they have no roles; 10,000 API creates would only
        // make the test slow).
        let hosts: Vec<Row> = (0..100)
            .map(|h| {
                let mut row = Row::new();
                row.insert("name".into(), json!(format!("h{i}-{h}")));
                row.insert("inventory".into(), json!(inv));
                row.insert("variables".into(), json!(""));
                row
            })
            .collect();
        api.store
            .insert_many(&rawx_model::resources::HOSTS, &hosts)
            .await
            .unwrap();
        if i % 2 == 0 {
            let read = api
                .admin("GET", &format!("/api/v2/inventories/{inv}/"), None)
                .await
                .body["summary_fields"]["object_roles"]["read_role"]["id"]
                .clone();
            let r = api
                .admin(
                    "POST",
                    &format!("/api/v2/teams/{team}/roles/"),
                    Some(json!({"id": read})),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        }
    }
    for (path, all, half) in [
        ("/api/v2/hosts/", 10_000, 5_000),
        ("/api/v2/hosts/?page_size=200&order_by=-name", 10_000, 5_000),
        ("/api/v2/inventories/", 100, 50),
    ] {
        let su = median(&api, ("admin", "pw"), path, all).await;
        let user = median(&api, ("reader", "pw"), path, half).await;
        eprintln!(
            "GET {path}: superuser {:.1} ms, reader of 50 inventories (through a team) {:.1} ms",
            su.as_secs_f64() * 1e3,
            user.as_secs_f64() * 1e3
        );
        assert!(
            user < su * 3 + Duration::from_millis(30),
            "{path}: the permission filter makes the list slow: {user:?} vs {su:?}"
        );
    }
}
