//! Every route of the router, every method, as a user who belongs to nothing: nothing of
//! another organization may be seen, and nothing at all may change. The route list comes from
//! the router's own table (`rawx_api::routes()`), so a new route is checked without edits here.

mod common;

use axum::http::StatusCode;
use common::{world, Api};
use serde_json::{json, Value};

/// A plausible, valid creation body per resource, aimed at organization 1's objects: the
/// refusal must come from permissions, not from validation.
fn body_for(res: &str) -> Value {
    match res {
        "organizations" => json!({"name": "Evil"}),
        "users" => json!({"username": "evil", "password": "x"}),
        "teams" => json!({"name": "t2", "organization": 1}),
        "labels" => json!({"name": "l2", "organization": 1}),
        "projects" => json!({"name": "p2", "organization": 1, "local_path": "demo"}),
        "credentials" => json!({"name": "c2", "organization": 1, "credential_type": 1}),
        "credential_types" => json!({"name": "ct", "kind": "cloud"}),
        "credential_input_sources" => json!({"target_credential": 1, "source_credential": 2,
            "input_field_name": "become_password", "metadata": {"secret_path": "kv/db", "secret_key": "k"}}),
        "inventories" => json!({"name": "i2", "organization": 1}),
        "hosts" => json!({"name": "h2", "inventory": 1}),
        "groups" => json!({"name": "g2", "inventory": 1}),
        "job_templates" => {
            json!({"name": "j2", "project": 1, "inventory": 1, "playbook": "hello.yml"})
        }
        "tokens" => json!({"description": "mine"}),
        "workflow_job_templates" => json!({"name": "w2", "organization": 1}),
        "workflow_job_template_nodes" => {
            json!({"workflow_job_template": common::WORKFLOW_ID, "unified_job_template": common::JT_ID})
        }
        "workflow_approval_templates" => json!({"name": "a2", "timeout": 0}),
        "instance_groups" => json!({"name": "ig2"}),
        "instances" => json!({"hostname": "evil", "capacity_adjustment": "0"}),
        "execution_environments" => json!({"name": "e2", "image": "quay.io/x", "organization": 1}),
        "receptor_addresses" => json!({"address": "evil", "port": 1, "instance": 1}),
        "inventory_sources" => json!({"name": "s2", "inventory": 1, "source": "ec2"}),
        "jobs"
        | "job_events"
        | "job_host_summaries"
        | "ad_hoc_command_events"
        | "inventory_updates"
        | "inventory_update_events"
        | "project_updates"
        | "project_update_events"
        | "workflow_jobs"
        | "workflow_job_nodes"
        | "workflow_approvals"
        | "activity_stream" => {
            json!({"name": "forged"})
        }
        "ad_hoc_commands" => json!({"inventory": 1, "credential": 1, "module_name": "ping"}),
        "notification_templates" => json!({"name": "n2", "organization": 1,
            "notification_type": "webhook",
            "notification_configuration": {"url": "http://127.0.0.1:9/", "headers": {}}}),
        "notifications" => json!({"subject": "forged"}),
        "roles" => json!({"name": "r2"}),
        "schedules" => json!({"name": "s2", "unified_job_template": 2,
            "rrule": "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1"}),
        other => panic!("no body for {other}: add one (a new resource joined the router)"),
    }
}

/// What a sub-list holds and whether it links; `None` for actions (launch, cancel, stdout…).
fn sub_target(res: &str, sub: &str) -> Option<(String, bool)> {
    let r = rawx_model::resources::by_key(res).unwrap();
    Some(match r.sub(sub)?.list {
        rawx_model::schema::SubList::Children { resource, .. } => (resource.to_string(), false),
        rawx_model::schema::SubList::Linked {
            relation,
            from_left,
        } => {
            let other = if from_left {
                relation.right.0
            } else {
                relation.left.0
            };
            (other.to_string(), true)
        }
        rawx_model::schema::SubList::Activity => ("activity_stream".to_string(), false),
        rawx_model::schema::SubList::Role {
            content_type,
            on_object,
            ..
        } => (
            if on_object { "users" } else { content_type }.to_string(),
            true,
        ),
    })
}

/// What nobody may see in a list: only itself among users, only the managed credential types,
/// only its own tokens; nothing of organization 1.
fn check_visible(path: &str, nobody: i64, body: &Value) {
    let results = body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: not a list: {body}"));
    for item in results {
        let ok = match item["type"].as_str().unwrap_or_default() {
            // AWX shows everyone the superusers (`UserAccess.filtered_queryset`).
            "user" => item["id"] == json!(nobody) || item["is_superuser"] == json!(true),
            // And the two system roles (`RoleAccess.filtered_queryset`).
            "role" => item["summary_fields"].get("resource_id").is_none(),
            "credential_type" => item["managed"] == json!(true),
            // The node's instance groups are global, as credential types are.
            "instance_group" => true,
            // So are the instances: what runs jobs, not whose they are.
            "instance" => true,
            // And where they listen.
            "receptor_address" => true,
            // AWX's global execution environments (no organization) are everyone's.
            "execution_environment" => item["organization"].is_null(),
            "o_auth2_access_token" => item["user"] == json!(nobody),
            // Entries about nobody itself (AWX: `Q(user=self.user)`) and its own doings
            // (its token).
            "activity_stream" => {
                item["summary_fields"]["actor"]["id"] == json!(nobody)
                    || item["summary_fields"]["user"]
                        .as_array()
                        .is_some_and(|users| users.iter().any(|u| u["id"] == json!(nobody)))
            }
            _ => false,
        };
        assert!(
            ok,
            "GET {path} shows nobody an object it may not see: {item}"
        );
    }
}

#[tokio::test]
async fn an_outsider_sees_nothing_and_changes_nothing_on_any_route() {
    let api = Api::new().await;
    world(&api).await;
    let nobody = api.user("nobody", "npw").await;
    let me = Some(("nobody", "npw"));
    let before = api.snapshot().await;
    let routes: Vec<String> = rawx_api::routes()
        .into_iter()
        .map(common::in_world)
        .collect();
    assert!(
        routes.len() > 40,
        "the route table looks truncated: {routes:?}"
    );

    for path in &routes {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        // ["api","v2",res,id,sub]
        let res = parts.get(2).copied().unwrap_or_default();
        // A parent table (`unified_jobs`) has its own list routes, no generic ones.
        let is_resource = rawx_model::resources::by_key(res)
            .is_some_and(|r| r.is_public() && !rawx_model::resources::is_parent_table(r));
        for method in ["GET", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] {
            let body = if !is_resource {
                Some(json!({"MAX_FORKS": 1, "username": "nobody", "password": "npw"}))
            } else if parts.len() == 5 {
                match sub_target(res, parts[4]) {
                    Some((_, true)) => Some(json!({"id": 1})),
                    Some((target, false)) => Some(body_for(&target)),
                    None => Some(json!({})),
                }
            } else {
                Some(body_for(res))
            };
            let r = api.call(method, path, me, body).await;
            let s = r.status;
            let who = format!("{method} {path} as an outsider -> {s}: {}", r.text);
            assert!(s != StatusCode::INTERNAL_SERVER_ERROR, "{who}");
            match method {
                "OPTIONS" => {
                    if s.is_success() {
                        let actions = r.body["actions"].as_object().cloned().unwrap_or_default();
                        let can_write = actions.contains_key("POST") || actions.contains_key("PUT");
                        let own = matches!(res, "tokens" | "credentials") && parts.len() == 3;
                        assert!(!can_write || own, "OPTIONS offers writes: {who}");
                    }
                }
                "GET" => {
                    if s.is_success() && r.body.get("results").is_some() && is_resource {
                        check_visible(path, nobody, &r.body);
                    } else if s.is_success() && is_resource {
                        let global = [
                            "/api/v2/credential_types/1/",
                            // AWX's external test view answers GET `{}` to whoever reads the
                            // type (every user reads credential types).
                            "/api/v2/credential_types/1/test/",
                            "/api/v2/instance_groups/1/",
                            "/api/v2/execution_environments/1/",
                            // Which says it may not be copied (nor is).
                            "/api/v2/execution_environments/1/copy/",
                            "/api/v2/instances/1/",
                            "/api/v2/instances/1/health_check/",
                            "/api/v2/receptor_addresses/1/",
                            "/api/v2/schedules/zoneinfo/",
                            // User 1 is the superuser, whom AWX shows everyone.
                            "/api/v2/users/1/",
                            // Role 1 is System Administrator, which AWX shows everyone.
                            "/api/v2/roles/1/",
                        ];
                        assert!(global.contains(&path.as_str()), "detail shown: {who}");
                    } else if path.starts_with("/api/v2/settings") {
                        assert_eq!(s, StatusCode::FORBIDDEN, "{who}");
                    } else {
                        let post_only = path == "/api/v2/schedules/preview/"
                            && s == StatusCode::METHOD_NOT_ALLOWED;
                        assert!(
                            s.is_success()
                                || s.is_redirection()
                                || matches!(s.as_u16(), 403 | 404)
                                || post_only,
                            "{who}"
                        );
                    }
                }
                _ => {
                    // A schedule preview computes, and stores nothing (the snapshot below).
                    let allowed_write = method == "POST"
                        && (path == "/api/v2/tokens/"
                            || path == "/api/logout/"
                            || path == "/api/v2/schedules/preview/");
                    if !allowed_write {
                        assert!(
                            matches!(s.as_u16(), 400 | 403 | 404 | 405),
                            "an outsider's write was not refused: {who}"
                        );
                    }
                }
            }
        }
    }

    // Nothing changed, but the outsider's own token.
    let mut after = api.snapshot().await;
    let old = before["tokens"].as_array().cloned().unwrap_or_default();
    let new: Vec<Value> = after["tokens"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !old.contains(t))
        .collect();
    assert!(!new.is_empty(), "the outsider may issue itself a token");
    assert!(new.iter().all(|t| t["user"] == json!(nobody)), "{new:?}");
    after["tokens"] = before["tokens"].clone();
    // And the activity stream's entries of it.
    let old = before["activity_stream"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new: Vec<Value> = after["activity_stream"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !old.contains(e))
        .collect();
    assert!(
        new.iter()
            .all(|e| e["actor"] == json!(nobody) && e["object1"] == "o_auth2_access_token"),
        "{new:?}"
    );
    after["activity_stream"] = before["activity_stream"].clone();
    assert!(
        after == before,
        "an outsider's requests changed the database"
    );
}

#[tokio::test]
async fn every_route_is_served_for_a_superuser_and_anonymous_callers_get_401() {
    let api = Api::new().await;
    world(&api).await;
    for path in rawx_api::routes().into_iter().map(common::in_world) {
        let r = api.admin("GET", &path, None).await;
        // AWX's schedule preview and notification test answer POST only.
        let post_only = path == "/api/v2/schedules/preview/"
            || path == "/api/v2/notification_templates/1/test/"
            || path == "/api/v2/config/subscriptions/"
            || path == "/api/v2/config/attach/";
        // AWX makes bundles only for execution and hop nodes; the world's instance is neither.
        let no_bundle = path.ends_with("/install_bundle/") && r.status == StatusCode::BAD_REQUEST;
        // The world grants no role to anyone, so there is no assignment 1.
        let no_grant = path.contains("_assignments/1/") && r.status == StatusCode::NOT_FOUND;
        // The world's inventory 1 is a regular one, which the constructed view does not show.
        let not_constructed =
            path == "/api/v2/constructed_inventories/1/" && r.status == StatusCode::NOT_FOUND;
        assert!(
            r.status.is_success()
                || r.status.is_redirection()
                || no_bundle
                || no_grant
                || not_constructed
                || (post_only && r.status == StatusCode::METHOD_NOT_ALLOWED),
            "GET {path} as admin -> {}: {}",
            r.status,
            r.text
        );
        let anon = api.call("GET", &path, None, None).await;
        let public = matches!(
            path.as_str(),
            "/api/" | "/api/login/" | "/api/logout/" | "/api/o/" | "/api/v2/" | "/api/v2/ping/"
        );
        if !public {
            assert_eq!(
                anon.status,
                StatusCode::UNAUTHORIZED,
                "GET {path} anonymously: {}",
                anon.text
            );
            assert_eq!(
                anon.headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer realm=api authorization_url=/api/o/authorize/")
            );
        }
    }
}

#[tokio::test]
async fn members_see_their_organization_and_admins_write_within_it() {
    let api = Api::new().await;
    world(&api).await;
    let bob = api.user("bob", "bpw").await;
    let bob_auth = Some(("bob", "bpw"));
    assert_eq!(
        api.call("GET", "/api/v2/inventories/", bob_auth, None)
            .await
            .body["count"],
        0
    );

    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": bob})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // AWX: an organization's member role reads the organization (and its teams and
    // members), not its inventories: those need their own roles or the auditor role.
    let orgs = api
        .call("GET", "/api/v2/organizations/", bob_auth, None)
        .await;
    assert_eq!(orgs.body["count"], 1, "{}", orgs.text);
    let inv = api
        .call("GET", "/api/v2/inventories/", bob_auth, None)
        .await;
    assert_eq!(inv.body["count"], 0, "{}", inv.text);
    assert_eq!(
        api.call("GET", "/api/v2/hosts/1/", bob_auth, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let users = api.call("GET", "/api/v2/users/", bob_auth, None).await;
    assert_eq!(
        users.body["count"], 2,
        "bob sees the members of his organizations and the superusers: {}",
        users.text
    );
    let r = api
        .call(
            "PATCH",
            "/api/v2/inventories/1/",
            bob_auth,
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .call(
            "POST",
            "/api/v2/inventories/",
            bob_auth,
            Some(json!({"name": "bobs", "organization": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/admins/",
            Some(json!({"id": bob})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "POST",
            "/api/v2/inventories/",
            bob_auth,
            Some(json!({"name": "bobs", "organization": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/organizations/",
            bob_auth,
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only superusers create organizations"
    );
    let r = api
        .call(
            "PATCH",
            "/api/v2/users/2/",
            bob_auth,
            Some(json!({"is_superuser": true})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "bob cannot make himself a superuser: {}",
        r.text
    );

    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": bob, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/admins/",
            Some(json!({"id": bob, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.call("GET", "/api/v2/inventories/", bob_auth, None)
            .await
            .body["count"],
        0
    );
    let orgs = api
        .admin("GET", &format!("/api/v2/users/{bob}/organizations/"), None)
        .await;
    assert_eq!(orgs.body["count"], 0);
}

/// `summary_fields.user_capabilities.start` of a template, as AWX computes it
/// (`JobTemplateAccess.can_start`): the superuser may start it, a holder of its read role
/// may not (and indeed gets 403 on `launch/`), its organization's admin may. `schedule`
/// follows.
#[tokio::test]
async fn a_templates_start_capability_follows_who_may_launch_it() {
    let api = Api::new().await;
    world(&api).await;
    let caps = |r: &rawx_testkit::api::Resp| r.body["summary_fields"]["user_capabilities"].clone();

    let r = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(caps(&r)["start"], true, "{}", r.text);
    assert_eq!(caps(&r)["schedule"], true);
    let list = api.admin("GET", "/api/v2/job_templates/", None).await;
    assert_eq!(
        list.body["results"][0]["summary_fields"]["user_capabilities"]["start"],
        true
    );

    let bob = api.user("bob", "bpw").await;
    let bob_auth = Some(("bob", "bpw"));
    let read_role = r.body["summary_fields"]["object_roles"]["read_role"]["id"].clone();
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{bob}/roles/"),
            Some(json!({"id": read_role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .call("GET", "/api/v2/job_templates/2/", bob_auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "a reader reads the template");
    assert_eq!(caps(&r)["start"], false, "{}", r.text);
    assert_eq!(caps(&r)["schedule"], false);
    let launch = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            bob_auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        launch.status,
        StatusCode::FORBIDDEN,
        "start false means the launch is refused"
    );

    // A job of the template: `start` (AWX's UI: Relaunch, Cancel) follows the same rule.
    let job = api
        .admin("POST", "/api/v2/job_templates/2/launch/", Some(json!({})))
        .await;
    assert_eq!(job.status, StatusCode::CREATED, "{}", job.text);
    let job_url = format!("/api/v2/jobs/{}/", job.body["id"]);
    assert_eq!(caps(&job)["start"], true, "{}", job.text);
    let r = api.call("GET", &job_url, bob_auth, None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a reader of the template reads its jobs"
    );
    assert_eq!(caps(&r)["start"], false, "{}", r.text);
    let relaunch = api
        .call(
            "POST",
            &format!("{job_url}relaunch/"),
            bob_auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(relaunch.status, StatusCode::FORBIDDEN);

    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/admins/",
            Some(json!({"id": bob})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call("GET", "/api/v2/job_templates/2/", bob_auth, None)
        .await;
    assert_eq!(
        caps(&r)["start"],
        true,
        "an organization admin may start it"
    );
    let r = api.call("GET", &job_url, bob_auth, None).await;
    assert_eq!(caps(&r)["start"], true, "and relaunch its jobs");
}
