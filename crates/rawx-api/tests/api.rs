//! AWX's API contract as its clients read it: shapes, OPTIONS, paging, lookups, named URLs,
//! tokens, sessions, settings, secrets and delete rules.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{world, Api};
use rawx_model::filter::Filter;
use rawx_model::resources::CREDENTIALS;
use serde_json::json;

#[tokio::test]
async fn options_carry_what_the_cli_builds_flags_from() {
    let api = Api::new().await;
    world(&api).await;
    let r = api.admin("OPTIONS", "/api/v2/job_templates/", None).await;
    assert_eq!(r.headers[header::ALLOW], "GET, POST, HEAD, OPTIONS");
    let actions = r.body["actions"].as_object().unwrap();
    assert_eq!(
        actions.keys().collect::<Vec<_>>(),
        vec!["GET", "POST"],
        "any other key crashes the awx CLI"
    );
    let post = &r.body["actions"]["POST"];
    assert_eq!(post["name"]["required"], true);
    assert_eq!(post["inventory"]["type"], "id");
    assert_eq!(post["extra_vars"]["type"], "json");
    assert_eq!(
        post["job_type"]["choices"],
        json!([["run", "Run"], ["check", "Check"]])
    );
    assert_eq!(post["verbosity"]["choices"][0], json!([0, "0 (Normal)"]));
    assert!(
        post.get("organization").is_none(),
        "read-only fields are not offered for writing"
    );
    let get = &r.body["actions"]["GET"];
    assert_eq!(get["id"]["filterable"], true);
    assert_eq!(get["related"]["filterable"], false);
    assert_eq!(r.body["types"], json!(["job_template"]));

    // The CLI always asks about object 1, which need not exist.
    let r = api.admin("OPTIONS", "/api/v2/teams/999/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::ALLOW],
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    let users = api.admin("OPTIONS", "/api/v2/users/", None).await;
    assert_eq!(users.body["actions"]["POST"]["password"]["type"], "string");
    assert!(
        users.body["actions"]["GET"].get("password").is_none(),
        "passwords are write-only"
    );

    let root = api.call("GET", "/api/v2/", None, None).await;
    assert_eq!(
        root.body["inventory"], "/api/v2/inventories/",
        "AWX's singular root key"
    );
    assert!(root.body.get("inventories").is_none());
}

#[tokio::test]
async fn lists_page_filter_and_resolve_names() {
    let api = Api::new().await;
    world(&api).await;
    let rows: Vec<_> = (0..30)
        .map(|i| json!({"name": format!("db{i:02}"), "inventory": 1}))
        .collect();
    for body in rows {
        api.make("/api/v2/hosts/", body).await;
    }
    let p1 = api.admin("GET", "/api/v2/hosts/", None).await;
    assert_eq!(p1.body["count"], 31);
    assert_eq!(p1.body["results"].as_array().unwrap().len(), 25);
    assert_eq!(p1.body["next"], "/api/v2/hosts/?page=2");
    assert_eq!(p1.body["previous"], json!(null));
    let p2 = api
        .admin("GET", "/api/v2/hosts/?order_by=-name&page=2", None)
        .await;
    assert_eq!(p2.body["results"].as_array().unwrap().len(), 6);
    assert_eq!(p2.body["previous"], "/api/v2/hosts/?order_by=-name&page=1");
    assert_eq!(p2.body["results"][5]["name"], "db00");

    for (q, n) in [
        ("name=web1", 1),
        ("name__icontains=DB1", 10),
        ("or__id=1&or__name=1", 1),
        ("inventory__organization__name=Ops", 31),
        ("groups__name=web", 1),
        ("search=db2", 10),
        ("not__name__startswith=db", 1),
        ("id__in=1,2,3", 3),
        ("inventory=1&name=db05", 1),
    ] {
        let r = api.admin("GET", &format!("/api/v2/hosts/?{q}"), None).await;
        assert_eq!(r.body["count"], n, "{q}: {}", r.text);
    }

    let host = api.admin("GET", "/api/v2/hosts/1/", None).await;
    assert_eq!(host.body["summary_fields"]["inventory"]["name"], "Lab");
    assert_eq!(host.body["related"]["inventory"], "/api/v2/inventories/1/");
    assert_eq!(
        host.body["related"]["named_url"],
        "/api/v2/hosts/web1++Lab++Ops/"
    );
    for path in [
        "/api/v2/organizations/Ops/",
        "/api/v2/inventories/Lab++Ops/",
        "/api/v2/hosts/web1++Lab++Ops/",
        "/api/v2/job_templates/hello++Ops/",
        "/api/v2/credentials/key++Machine+ssh++Ops/",
        "/api/v2/credential_types/Machine+ssh/",
        "/api/v2/users/admin/",
    ] {
        let r = api.admin("GET", path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.body["related"]["named_url"], path);
    }
    assert_eq!(
        api.admin("GET", "/api/v2/inventories/Lab++Nope/", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let inv = api.admin("GET", "/api/v2/inventories/1/", None).await;
    assert_eq!(inv.body["total_hosts"], 31);
    assert_eq!(inv.body["total_groups"], 1);
    let jt = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(
        jt.body["organization"], 1,
        "a template's organization is its project's"
    );
    assert_eq!(jt.body["summary_fields"]["credentials"][0]["name"], "key");
    let me = api.admin("GET", "/api/v2/me/", None).await;
    assert_eq!(
        (
            me.body["count"].clone(),
            me.body["results"][0]["username"].clone()
        ),
        (json!(1), json!("admin"))
    );
}

#[tokio::test]
async fn secrets_are_sealed_masked_and_kept_on_write_back() {
    let api = Api::new().await;
    world(&api).await;
    let r = api.admin("GET", "/api/v2/credentials/1/", None).await;
    assert_eq!(
        r.body["inputs"],
        json!({"username": "u", "password": "$encrypted$"})
    );
    let stored = api.store.get(&CREDENTIALS, 1).await.unwrap();
    let raw = stored["inputs"].as_str().unwrap().to_string();
    assert!(
        !raw.contains("s3cret") && raw.contains("$encrypted$AESGCM$"),
        "{raw}"
    );

    let r = api
        .admin(
            "PATCH",
            "/api/v2/credentials/1/",
            Some(json!({"inputs": {"username": "u2", "password": "$encrypted$"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = api.store.get(&CREDENTIALS, 1).await.unwrap();
    let sealed =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["password"].clone();
    assert_eq!(
        sealed(after["inputs"].as_str().unwrap()),
        sealed(&raw),
        "writing $encrypted$ back keeps the secret"
    );
    assert!(after["inputs"].as_str().unwrap().contains("u2"));

    let r = api
        .admin(
            "PATCH",
            "/api/v2/credentials/1/",
            Some(json!({"inputs": {"username": "u2", "password": "n3w"}})),
        )
        .await;
    assert_eq!(r.body["inputs"]["password"], "$encrypted$");
    // The world's two (the machine key and the lookup credential filling its password): the
    // write made none.
    let f = Filter::All(vec![]);
    assert_eq!(api.store.count(&CREDENTIALS, &f).await.unwrap(), 2);
    let newer = api.store.get(&CREDENTIALS, 1).await.unwrap();
    assert_ne!(sealed(newer["inputs"].as_str().unwrap()), sealed(&raw));
}

#[tokio::test]
async fn tokens_authenticate_until_deleted_and_read_tokens_cannot_write() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/users/admin/personal_tokens/",
            Some(json!({"description": "AWX CLI", "application": null, "scope": "write"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["type"], "o_auth2_access_token");
    let bearer = |t: &str, method: &str, path: &str, body: Option<serde_json::Value>| {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {t}"));
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        b.body(body.map(|v| Body::from(v.to_string())).unwrap_or_default())
            .unwrap()
    };
    let me = api.send(bearer(&token, "GET", "/api/v2/me/", None)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.headers["x-api-product-version"], "24.6.1");
    let shown = api
        .admin("GET", &format!("/api/v2/tokens/{id}/"), None)
        .await;
    assert_eq!(
        shown.body["token"], "************",
        "the token string is shown once"
    );

    let r = api
        .admin(
            "POST",
            "/api/v2/tokens/",
            Some(json!({"description": "ro", "scope": "read"})),
        )
        .await;
    let ro = r.body["token"].as_str().unwrap().to_string();
    let w = api
        .send(bearer(
            &ro,
            "POST",
            "/api/v2/organizations/",
            Some(json!({"name": "RO"})),
        ))
        .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.send(bearer(&ro, "GET", "/api/v2/organizations/", None))
            .await
            .body["count"],
        1
    );

    let del = api
        .send(bearer(
            &token,
            "DELETE",
            &format!("/api/v2/tokens/{id}/"),
            None,
        ))
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.send(bearer(&token, "GET", "/api/v2/me/", None))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let anon = api.call("GET", "/api/", None, None).await;
    assert!(anon.headers.get("x-api-product-version").is_none());
    assert_eq!(anon.headers["x-api-product-name"], "AWX");
}

#[tokio::test]
async fn session_login_sets_cookies_and_checks_csrf() {
    let api = Api::new().await;
    let get = api
        .send(Request::get("/api/").body(Body::empty()).unwrap())
        .await;
    let set = get.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let csrf = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("csrftoken=")
        .unwrap()
        .to_string();
    let login = |with_header: bool| {
        let mut b = Request::post("/api/login/")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("csrftoken={csrf}"));
        if with_header {
            b = b.header("X-CSRFToken", csrf.clone());
        }
        b.body(Body::from("username=admin&password=pw&next=%2Fapi%2F"))
            .unwrap()
    };
    assert_eq!(api.send(login(false)).await.status, StatusCode::FORBIDDEN);
    let ok = api.send(login(true)).await;
    assert_eq!(ok.status, StatusCode::FOUND);
    assert_eq!(ok.headers[header::LOCATION], "/api/");
    let cookies: Vec<String> = ok
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("awx_sessionid="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"));
    let sid = session.split(';').next().unwrap().to_string();
    let new_csrf = cookies
        .iter()
        .find(|c| c.starts_with("csrftoken="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf_value = new_csrf.strip_prefix("csrftoken=").unwrap().to_string();
    let post = |with_header: bool| {
        let mut b = Request::post("/api/v2/organizations/")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, format!("{sid}; {new_csrf}"));
        if with_header {
            b = b.header("X-CSRFToken", csrf_value.clone());
        }
        b.body(Body::from(json!({"name": "ViaSession"}).to_string()))
            .unwrap()
    };
    assert_eq!(api.send(post(false)).await.status, StatusCode::FORBIDDEN);
    let created = api.send(post(true)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let bad = Request::post("/api/login/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("csrftoken={csrf}"))
        .header("X-CSRFToken", csrf.clone())
        .body(Body::from("username=admin&password=nope"))
        .unwrap();
    assert_eq!(api.send(bad).await.status, StatusCode::UNAUTHORIZED);
    let out = Request::get("/api/logout/")
        .header(header::COOKIE, sid.clone())
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(out).await.status, StatusCode::FOUND);
    let after = Request::get("/api/v2/me/")
        .header(header::COOKIE, sid)
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(after).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn settings_read_write_reset_and_take_effect() {
    let api = Api::new().await;
    world(&api).await;
    let cats = api.admin("GET", "/api/v2/settings/", None).await;
    assert!(cats.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["slug"] == "jobs"));
    let all = api.admin("GET", "/api/v2/settings/all/", None).await;
    assert_eq!(all.body["MAX_FORKS"], 200);
    assert!(all.body["INSTALL_UUID"].as_str().unwrap().len() == 36);
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/jobs/",
            Some(json!({"MAX_FORKS": 10})),
        )
        .await;
    assert_eq!(r.body["MAX_FORKS"], 10, "{}", r.text);
    let r = api
        .admin(
            "PATCH",
            "/api/v2/job_templates/2/",
            Some(json!({"forks": 11})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"forks": ["Maximum number of forks (10) exceeded."]})
    );
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/jobs/",
            Some(json!({"MAX_FORKS": "lots"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"MAX_FORKS": ["A valid integer is required."]})
        )
    );
    assert_eq!(
        api.admin("DELETE", "/api/v2/settings/jobs/", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.admin("GET", "/api/v2/settings/jobs/", None).await.body["MAX_FORKS"],
        200
    );
    let opts = api.admin("OPTIONS", "/api/v2/settings/all/", None).await;
    assert_eq!(opts.body["actions"]["PUT"]["MAX_FORKS"]["type"], "integer");
    let r = api
        .admin(
            "PATCH",
            "/api/v2/settings/authentication/",
            Some(json!({"AUTH_BASIC_ENABLED": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        api.admin("GET", "/api/v2/me/", None).await.status,
        StatusCode::UNAUTHORIZED,
        "Basic auth is off now"
    );
}

#[tokio::test]
async fn deletes_follow_awx_rules() {
    let api = Api::new().await;
    world(&api).await;
    let r = api.admin("DELETE", "/api/v2/inventories/1/", None).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "the pending job uses it: {}",
        r.text
    );
    let mut done = rawx_model::Row::new();
    done.insert("status".into(), json!("successful"));
    api.store
        .update(&rawx_model::resources::JOBS, 1, &done)
        .await
        .unwrap();
    let ct = api.make("/api/v2/credential_types/", json!({"name": "Mine", "kind": "cloud", "inputs": {"fields": [{"id": "k", "label": "K", "type": "string", "secret": true}]}})).await;
    api.make(
        "/api/v2/credentials/",
        json!({"name": "c", "organization": 1, "credential_type": ct, "inputs": {"k": "v"}}),
    )
    .await;
    let r = api
        .admin("DELETE", &format!("/api/v2/credential_types/{ct}/"), None)
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Credential types that are in use cannot be deleted"})
        )
    );
    assert_eq!(
        api.admin("DELETE", "/api/v2/inventories/1/", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.admin("GET", "/api/v2/hosts/", None).await.body["count"],
        0,
        "hosts go with their inventory"
    );
    let jt = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(
        jt.body["inventory"],
        json!(null),
        "a template loses a deleted inventory, it is not deleted"
    );
    let r = api.admin("DELETE", "/api/v2/users/1/", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn posting_a_new_object_to_a_linked_list_creates_and_links_it() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "POST",
            "/api/v2/groups/1/hosts/",
            Some(json!({"name": "inline"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["inventory"], 1,
        "a host made under a group joins the group's inventory"
    );
    let members = api
        .admin("GET", "/api/v2/groups/1/hosts/?name=inline", None)
        .await;
    assert_eq!(members.body["count"], 1);
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"username": "carol", "password": "cpw"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let orgs = api
        .call(
            "GET",
            "/api/v2/organizations/",
            Some(("carol", "cpw")),
            None,
        )
        .await;
    assert_eq!(orgs.body["count"], 1);
    // A refused link leaves nothing behind.
    let before = api.snapshot().await;
    let r = api
        .admin(
            "POST",
            "/api/v2/groups/1/hosts/",
            Some(json!({"name": "web1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let after = api.snapshot().await;
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(&after[k], v, "{k} changed");
    }
    assert!(after == before);
}

#[tokio::test]
async fn a_launched_job_is_pending_shown_and_guarded() {
    let api = Api::new().await;
    world(&api).await;
    for _ in 0..5 {
        let r = api.admin("GET", "/api/v2/jobs/1/", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "pending");
        assert_eq!(r.body["launched_by"]["name"], "admin");
        assert!(
            r.body.get("job_env").is_some(),
            "the detail view has job_env"
        );
    }
    let list = api.admin("GET", "/api/v2/jobs/", None).await;
    assert_eq!(list.body["count"], 1);
    assert!(
        list.body["results"][0].get("job_env").is_none(),
        "lists leave out job_env"
    );
    let out = api
        .admin("GET", "/api/v2/jobs/1/stdout/?format=json", None)
        .await;
    assert_eq!(
        out.body["range"],
        json!({"start": 0, "end": 1, "absolute_end": 1})
    );
    assert_eq!(out.body["content"], "ok: [web1]\n");
    let events = api.admin("GET", "/api/v2/jobs/1/job_events/", None).await;
    assert_eq!(
        events.body["results"][0]["summary_fields"]["job"]["status"],
        "pending"
    );
    let hosts = api
        .admin("GET", "/api/v2/hosts/1/job_host_summaries/", None)
        .await;
    assert_eq!(hosts.body["results"][0]["ok"], 1, "{}", hosts.text);
    assert_eq!(
        api.admin("GET", "/api/v2/jobs/1/cancel/", None).await.body,
        json!({"can_cancel": true})
    );
    let r = api.admin("DELETE", "/api/v2/jobs/1/", None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Cannot delete running job resource."})
        )
    );
    let r = api.admin("DELETE", "/api/v2/job_templates/2/", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"error": "Resource is being used by running jobs.", "active_jobs": [{"type": "job", "id": 1}]})
    );
    let r = api
        .admin("POST", "/api/v2/jobs/", Some(json!({"name": "forged"})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn unified_lists_mix_the_kinds_and_respect_rights() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin("GET", "/api/v2/unified_job_templates/?order_by=name", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let kinds: Vec<(String, String)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("cloud".to_string(), "inventory_source".to_string()),
            ("demo".to_string(), "project".to_string()),
            ("flow".to_string(), "workflow_job_template".to_string()),
            ("gate".to_string(), "workflow_approval_template".to_string()),
            ("hello".to_string(), "job_template".to_string())
        ]
    );
    let one = api
        .admin("GET", "/api/v2/unified_job_templates/?name=hello", None)
        .await;
    assert_eq!(one.body["count"], 1);
    // Every kind of job, each in its own shape, in AWX's order (id).
    let jobs = api.admin("GET", "/api/v2/unified_jobs/", None).await;
    let kinds: Vec<(i64, &str)> = jobs.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["id"].as_i64().unwrap(), j["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "job"),
            (common::AD_HOC_ID, "ad_hoc_command"),
            (common::UPDATE_ID, "inventory_update"),
            (common::PROJECT_UPDATE_ID, "project_update"),
            (common::WORKFLOW_JOB_ID, "workflow_job"),
            (common::APPROVAL_ID, "workflow_approval")
        ]
    );
    let adhoc = &jobs.body["results"][1];
    assert_eq!(adhoc["module_name"], "ping", "{adhoc}");
    let filtered = api
        .admin("GET", "/api/v2/unified_jobs/?name=ping&order_by=-id", None)
        .await;
    assert_eq!(filtered.body["count"], 1, "{}", filtered.text);
    api.user("eve", "epw").await;
    let hidden = api
        .call(
            "GET",
            "/api/v2/unified_job_templates/",
            Some(("eve", "epw")),
            None,
        )
        .await;
    assert_eq!(hidden.body["count"], 0);
    let hidden = api
        .call("GET", "/api/v2/unified_jobs/", Some(("eve", "epw")), None)
        .await;
    assert_eq!(hidden.body["count"], 0, "{}", hidden.text);
}

#[tokio::test]
async fn instance_groups_show_what_running_jobs_take() {
    let api = Api::new().await;
    world(&api).await;
    let ig = api
        .admin("GET", "/api/v2/instance_groups/default/", None)
        .await;
    assert_eq!(
        ig.body["consumed_capacity"], 0,
        "a pending job holds no capacity: {}",
        ig.text
    );
    let capacity = ig.body["capacity"].as_i64().unwrap();
    let mut running = rawx_model::Row::new();
    running.insert("status".into(), json!("running"));
    running.insert("execution_node".into(), json!("node1"));
    api.store
        .update(&rawx_model::resources::JOBS, 1, &running)
        .await
        .unwrap();
    let ig = api
        .admin("GET", "/api/v2/instance_groups/default/", None)
        .await;
    // One host, forks 0 (ansible's 5): min(5, 1) + 1.
    assert_eq!(ig.body["consumed_capacity"], 2);
    assert_eq!(ig.body["jobs_running"], 1);
    let remaining = ((capacity - 2) as f64 / capacity as f64 * 1000.0).round() / 10.0;
    assert_eq!(ig.body["percent_capacity_remaining"], json!(remaining));
}
