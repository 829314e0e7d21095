//! `/api/v2/settings/`: every key AWX 24.6.1 serves, with AWX's categories, defaults,
//! validation messages and OPTIONS (checked against awx/conf/views.py, awx/conf/registry.py,
//! the `register(...)` calls and DRF's fields).

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{json, Value};

#[tokio::test]
async fn every_awx_category_and_key_is_served() {
    let api = Api::new().await;
    let cats = api.admin("GET", "/api/v2/settings/", None).await;
    let slugs: Vec<&str> = cats.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    let mut sorted = slugs.clone();
    sorted.sort();
    assert_eq!(slugs, sorted, "AWX lists them by slug");
    for s in [
        "all",
        "changed",
        "authentication",
        "azuread-oauth2",
        "bulk",
        "debug",
        "github",
        "github-enterprise-team",
        "google-oauth2",
        "jobs",
        "ldap",
        "logging",
        "oidc",
        "radius",
        "saml",
        "system",
        "tacacsplus",
        "ui",
    ] {
        assert!(slugs.contains(&s), "{s} missing from {slugs:?}");
    }
    let all = api.admin("GET", "/api/v2/settings/all/", None).await;
    let all = all.body.as_object().unwrap().clone();
    assert!(all.len() > 270, "{} keys", all.len());
    // AWX's defaults (awx/settings/defaults.py, or register's own).
    for (k, v) in [
        ("ACTIVITY_STREAM_ENABLED", json!(true)),
        ("AD_HOC_COMMANDS", all["AD_HOC_COMMANDS"].clone()),
        ("SESSIONS_PER_USER", json!(-1)),
        ("BULK_HOST_MAX_CREATE", json!(100)),
        ("BULK_HOST_MAX_DELETE", json!(250)),
        ("BULK_JOB_MAX_LAUNCH", json!(100)),
        ("PENDO_TRACKING_STATE", json!("off")),
        ("AUTH_LDAP_GROUP_TYPE", json!("MemberDNGroupType")),
        ("RADIUS_PORT", json!(1812)),
        ("LOG_AGGREGATOR_LEVEL", json!("INFO")),
        (
            "SOCIAL_AUTH_GITHUB_CALLBACK_URL",
            json!("https://towerhost/sso/complete/github/"),
        ),
    ] {
        assert_eq!(all[k], v, "{k}");
    }
    assert!(all["AD_HOC_COMMANDS"]
        .as_array()
        .unwrap()
        .contains(&json!("shell")));
    let ldap = api.admin("GET", "/api/v2/settings/ldap/", None).await;
    assert!(ldap.body["AUTH_LDAP_5_SERVER_URI"].is_string());
    assert!(ldap.body.get("MAX_FORKS").is_none());
    assert_eq!(
        api.admin("GET", "/api/v2/settings/nope/", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn writes_are_validated_with_awx_messages() {
    let api = Api::new().await;
    let bad = |body: Value| {
        let api = &api;
        async move {
            let r = api
                .admin("PATCH", "/api/v2/settings/all/", Some(body))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            r.body
        }
    };
    assert_eq!(
        bad(json!({"SESSION_COOKIE_AGE": 10})).await,
        json!({"SESSION_COOKIE_AGE": ["Ensure this value is greater than or equal to 60."]})
    );
    assert_eq!(
        bad(json!({"ACTIVITY_STREAM_ENABLED": "sometimes"})).await,
        json!({"ACTIVITY_STREAM_ENABLED": ["Must be a valid boolean."]})
    );
    assert_eq!(
        bad(json!({"TOWER_URL_BASE": "not a url"})).await,
        json!({"TOWER_URL_BASE": ["Enter a valid URL"]})
    );
    assert_eq!(
        bad(json!({"PENDO_TRACKING_STATE": "loud"})).await,
        json!({"PENDO_TRACKING_STATE": ["\"loud\" is not a valid choice."]})
    );
    assert_eq!(
        bad(json!({"REMOTE_HOST_HEADERS": "REMOTE_ADDR"})).await,
        json!({"REMOTE_HOST_HEADERS": ["Expected a list of items but got type \"str\"."]})
    );
    assert_eq!(
        bad(json!({"AWX_TASK_ENV": ["A=1"]})).await,
        json!({"AWX_TASK_ENV": ["Expected a dictionary of items but got type \"list\"."]})
    );
    assert_eq!(
        bad(json!({"MAX_FORKS": null})).await,
        json!({"MAX_FORKS": ["This field may not be null."]})
    );
    assert_eq!(
        bad(json!({"DEFAULT_EXECUTION_ENVIRONMENT": 999})).await,
        json!({"DEFAULT_EXECUTION_ENVIRONMENT": ["Invalid pk \"999\" - object does not exist."]})
    );
    assert!(
        bad(json!({"CSRF_TRUSTED_ORIGINS": ["example.com"]})).await["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("must start with a scheme")
    );
    // Nothing was written by the refused requests.
    let all = api.admin("GET", "/api/v2/settings/changed/", None).await;
    assert_eq!(all.body, json!({}));

    // Values are stored as DRF converts them; unknown and read-only keys are ignored.
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/all/",
            Some(json!({
                "SESSION_COOKIE_AGE": "600",
                "ACTIVITY_STREAM_ENABLED": "false",
                "AUTH_LDAP_SERVER_URI": "ldaps://ldap.example.com:636",
                "SOCIAL_AUTH_GITHUB_KEY": "abc",
                "SOCIAL_AUTH_GITHUB_SECRET": "s3cret",
                "TOWER_URL_BASE": "http://awx.local:8013",
                "INSTALL_UUID": "mine",
                "NOT_A_SETTING": 1,
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["SESSION_COOKIE_AGE"], 600);
    assert_eq!(r.body["ACTIVITY_STREAM_ENABLED"], false);
    assert_eq!(r.body["SOCIAL_AUTH_GITHUB_SECRET"], "$encrypted$");
    assert!(r.body.get("NOT_A_SETTING").is_none());
    assert_ne!(r.body["INSTALL_UUID"], "mine");
    assert_eq!(
        r.body["SOCIAL_AUTH_GITHUB_CALLBACK_URL"],
        "http://awx.local:8013/sso/complete/github/"
    );
    let changed = api.admin("GET", "/api/v2/settings/changed/", None).await;
    assert_eq!(changed.body["SOCIAL_AUTH_GITHUB_KEY"], "abc");
    assert_eq!(changed.body["SOCIAL_AUTH_GITHUB_SECRET"], "$encrypted$");
    assert!(changed.body.get("MAX_FORKS").is_none());
    // The secret written back masked is kept.
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/github/",
            Some(json!({"SOCIAL_AUTH_GITHUB_SECRET": "$encrypted$"})),
        )
        .await;
    assert_eq!(r.body["SOCIAL_AUTH_GITHUB_SECRET"], "$encrypted$");
    // A category's DELETE puts its keys back.
    let r = api.admin("DELETE", "/api/v2/settings/github/", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let gh = api.admin("GET", "/api/v2/settings/github/", None).await;
    assert_eq!(gh.body["SOCIAL_AUTH_GITHUB_KEY"], "");
    assert_eq!(gh.body["SOCIAL_AUTH_GITHUB_SECRET"], "");
}

#[tokio::test]
async fn options_say_what_rawx_acts_on() {
    let api = Api::new().await;
    let r = api.admin("OPTIONS", "/api/v2/settings/all/", None).await;
    let put = &r.body["actions"]["PUT"];
    assert_eq!(put["SESSION_COOKIE_AGE"]["min_value"], 60);
    assert_eq!(put["SESSION_COOKIE_AGE"]["unit"], "seconds");
    assert_eq!(put["TOWER_URL_BASE"]["type"], "url");
    assert_eq!(
        put["LOG_AGGREGATOR_TYPE"]["choices"][0],
        json!([null, "---------"])
    );
    assert_eq!(put["BULK_HOST_MAX_CREATE"]["hidden"], true);
    assert_eq!(put["REMOTE_HOST_HEADERS"]["child"]["type"], "string");
    let acted = put["MAX_FORKS"]["help_text"].as_str().unwrap();
    assert!(!acted.contains("rawx stores"), "{acted}");
    let stored = put["AUTH_LDAP_SERVER_URI"]["help_text"].as_str().unwrap();
    assert!(
        stored.contains("rawx stores this setting") && stored.contains("does not act on it"),
        "{stored}"
    );
    assert!(
        put.get("INSTALL_UUID").is_none(),
        "read-only keys are not in PUT"
    );
    assert_eq!(r.body["actions"]["GET"]["INSTALL_UUID"]["read_only"], true);
}
