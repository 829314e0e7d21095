//! Notification templates (AWX's `NotificationTemplateSerializer`): the configuration checked
//! per type and its password parameters sealed (shown `$encrypted$` by the generic renderer),
//! the custom messages checked and merged as AWX's `save` does, `test/` (a pending
//! notification the task role sends: the web role sends nothing), the latest notifications in
//! `summary_fields.recent_notifications`. Notifications themselves are read-only rows.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use rawx_domain::notify;
use rawx_model::filter::{Filter, ListQuery};
use rawx_model::resources::{NOTIFICATIONS, NOTIFICATION_TEMPLATES};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct NotificationTemplates;

fn all_errors(errors: Vec<String>) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, json!({ "__all__": errors }))
}

#[async_trait::async_trait]
impl ResourceApi for NotificationTemplates {
    fn schema(&self) -> &'static Resource {
        &NOTIFICATION_TEMPLATES
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        let kind = row
            .get("notification_type")
            .or_else(|| existing.and_then(|e| e.get("notification_type")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind.is_empty() {
            return Err(all_errors(vec![
                "Missing required fields for Notification Configuration: notification_type".into(),
            ]));
        }
        if let Some(m) = row.get("messages").cloned() {
            let m = match m {
                Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
                other => other,
            };
            let errors = notify::validate_messages(&m);
            if !errors.is_empty() {
                return Err(ApiError::Status(
                    StatusCode::BAD_REQUEST,
                    json!({ "messages": errors }),
                ));
            }
            let merged = match existing {
                Some(e) if !m.is_null() => {
                    let old = Value::Object(notify::object(e.get("messages")));
                    notify::merge_messages(&old, &m)
                }
                _ => m,
            };
            row.insert(
                "messages".into(),
                if merged.is_null() {
                    Value::Null
                } else {
                    json!(merged.to_string())
                },
            );
        } else if existing.is_none() {
            row.insert(
                "messages".into(),
                json!(json!({"started": null, "success": null, "error": null, "workflow_approval": null}).to_string()),
            );
        }
        // AWX checks the configuration when it is given (a new type needs a new one).
        let changed_type = existing.is_some_and(|e| text(e, "notification_type") != kind);
        if row.contains_key("notification_configuration") || existing.is_none() || changed_type {
            let given = notify::object(row.get("notification_configuration"));
            let stored = existing.map(|e| notify::object(e.get("notification_configuration")));
            let config = notify::validate_configuration(&kind, &given, stored.as_ref(), &state.key)
                .map_err(all_errors)?;
            row.insert(
                "notification_configuration".into(),
                json!(Value::Object(config).to_string()),
            );
        }
        Ok(())
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "test".into(),
            json!(format!("/api/v2/notification_templates/{id}/test/")),
        );
        super::copy::related(&COPY, row, related);
    }

    /// AWX's serializer shows `copy` beside `edit` and `delete`.
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let copy = super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        Ok(())
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        let q = ListQuery {
            filter: Filter::eq("notification_template", ColumnType::Int, json!(id)),
            order: vec![("id", true)],
            page: 1,
            page_size: 5,
        };
        let recent = r.state.store.list(&NOTIFICATIONS, &q).await?.rows;
        let recent: Vec<Value> = recent
            .iter()
            .map(|n| json!({"id": n["id"], "status": n["status"], "created": n["created"], "error": n["error"]}))
            .collect();
        summary.insert("recent_notifications".into(), Value::Array(recent));
        Ok(())
    }

    fn routes(&self) -> Routes {
        let mut routes = super::copy::routes(&COPY);
        routes.push((
            "/api/v2/notification_templates/{id}/test/",
            post(test_post).get(test_get),
        ));
        routes
    }
}

/// AWX's `NotificationTemplateCopy`: every writable field (the configuration's secrets still
/// sealed), nothing discarded, no links.
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &NOTIFICATION_TEMPLATES,
    path: "/api/v2/notification_templates/{id}/copy/",
    discard: &[],
    links: &[],
    hosts_and_groups: false,
};

/// `GET …/test/`: AWX's view has no GET (405), once the template is found (404, 403).
async fn test_get(
    State(state): State<Arc<AppState>>,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    fetch_visible(&state, &ident.actor, &NOTIFICATION_TEMPLATES, &raw).await?;
    Err(ApiError::MethodNotAllowed("GET".into()))
}

/// `POST …/test/`: a pending notification with AWX's test message, answered 202; the task
/// role's notifier sends it.
async fn test_post(
    State(state): State<Arc<AppState>>,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let nt = fetch_visible(&state, &ident.actor, &NOTIFICATION_TEMPLATES, &raw).await?;
    let api = crate::resources::registry().get(NOTIFICATION_TEMPLATES.key);
    if !api
        .can_change(&mut Renderer::new(&state, &ident.actor), &nt)
        .await?
    {
        return Err(ApiError::forbidden());
    }
    let id = int(&nt, "id").unwrap_or_default();
    let base = state
        .settings()
        .get(rawx_domain::settings::TOWER_URL_BASE)
        .await;
    let kind = text(&nt, "notification_type").to_string();
    let subject = format!("Notification Test {id} {base}");
    let body = match kind.as_str() {
        "email" | "pagerduty" => json!(format!("Test Notification {id} {base}")),
        "webhook" | "grafana" => json!(format!("{{\"body\": \"Test Notification {id} {base}\"}}")),
        _ => json!({"body": format!("Test Notification {id} {base}")}),
    };
    let nid = rawx_domain::notify::record(&*state.store, &nt, &subject, &body)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let stored = state.store.get(&NOTIFICATIONS, nid).await?;
    let mut out = Renderer::new(&state, &ident.actor)
        .render(&NOTIFICATIONS, &stored)
        .await?;
    let mut data = Map::new();
    data.insert("notification".into(), json!(nid));
    if let Value::Object(m) = out.take() {
        data.extend(m);
    }
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v2/notifications/{nid}/"))],
        Json(Value::Object(data)),
    )
        .into_response())
}

/// Notifications as AWX's `NotificationSerializer` shows them: `subject` not for webhooks,
/// `body` only for the types whose body is a document.
pub struct Notifications;

#[async_trait::async_trait]
impl ResourceApi for Notifications {
    fn schema(&self) -> &'static Resource {
        &NOTIFICATIONS
    }

    async fn derived(
        &self,
        _r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let kind = text(row, "notification_type");
        let body = match row.get("body") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!(s)),
            Some(v) => v.clone(),
            None => json!({}),
        };
        // A webhook's body is stored as `{"body": …}` or as the JSON text it sends.
        let body = match (&body, kind) {
            (Value::Object(m), "webhook" | "pagerduty" | "awssns") if m.contains_key("body") => {
                m["body"].clone()
            }
            (Value::String(s), "webhook" | "pagerduty" | "awssns") => {
                match serde_json::from_str::<Value>(s) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => body.clone(),
                }
            }
            _ => body.clone(),
        };
        out.insert("body".into(), body);
        if matches!(kind, "webhook" | "awssns") {
            out.remove("subject");
        }
        if !matches!(kind, "email" | "webhook" | "pagerduty" | "awssns") {
            out.remove("body");
        }
        Ok(())
    }
}
