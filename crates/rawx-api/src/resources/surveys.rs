//! `…/N/survey_spec/` on any template that has a survey (AWX's `JobTemplateSurveySpec` and
//! its workflow twin): GET shows the spec with password defaults as `$encrypted$`, POST
//! validates and stores it, DELETE empties it. All three need the template's admin rights
//! (AWX's `obj_permission_type = 'admin'`, then `change`/`delete`). The rules themselves are
//! `rawx_domain::survey`'s, so a template kind only adds `routes`, `related` and `summary`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::resource::Routes;
use crate::view::Renderer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::survey;
use rawx_model::schema::Resource;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

fn path(res: &Resource) -> String {
    format!("/api/v2/{}/{{id}}/survey_spec/", res.key)
}

/// The routes of `res`'s survey (built once, when the router is).
pub fn routes(res: &'static Resource) -> Routes {
    let p: &'static str = Box::leak(path(res).into_boxed_str());
    vec![(
        p,
        get(move |s: Ctx, a: Auth, id: Path<String>| spec_get(s, a, id, res))
            .post(
                move |s: Ctx, a: Auth, id: Path<String>, h: HeaderMap, b: Bytes| {
                    spec_post(s, a, id, h, b, res)
                },
            )
            .delete(move |s: Ctx, a: Auth, id: Path<String>| spec_delete(s, a, id, res)),
    )]
}

/// `related.survey_spec`, which the collection's modules follow.
pub fn related(res: &Resource, row: &Row, related: &mut Map<String, Value>) {
    if let Some(id) = row.get("id").and_then(Value::as_i64) {
        related.insert(
            "survey_spec".into(),
            json!(path(res).replace("{id}", &id.to_string())),
        );
    }
}

/// `summary_fields.survey` (AWX's `JobTemplateMixin.get_summary_fields`): its title and
/// description, when the spec has both.
pub fn summary(row: &Row, summary: &mut Map<String, Value>) {
    let spec = survey::stored(row);
    if let (Some(n), Some(d)) = (spec.get("name"), spec.get("description")) {
        summary.insert("survey".into(), json!({"title": n, "description": d}));
    }
}

/// The template, if the caller may administer it (`change`), else 403.
async fn admin_template(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    raw: &str,
    delete: bool,
) -> ApiResult<Row> {
    let row = fetch_visible(state, &ident.actor, res, raw).await?;
    let api = crate::resources::registry().get(res.key);
    let mut r = Renderer::new(state, &ident.actor);
    let allowed = if delete {
        api.can_delete(&mut r, &row).await?
    } else {
        api.can_change(&mut r, &row).await?
    };
    if !allowed {
        return Err(ApiError::forbidden());
    }
    Ok(row)
}

async fn spec_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    res: &'static Resource,
) -> ApiResult<Json<Value>> {
    let row = admin_template(&state, &ident, res, &raw, false).await?;
    Ok(Json(survey::display(&survey::stored(&row))))
}

async fn spec_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    res: &'static Resource,
) -> ApiResult<Response> {
    let row = admin_template(&state, &ident, res, &raw, false).await?;
    let new = json_body(&headers, &body)?;
    let spec = survey::validate_spec(&new, &survey::stored(&row), &state.key)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, json!({ "error": e })))?;
    save(&state, &ident, res, &row, spec).await?;
    Ok(StatusCode::OK.into_response())
}

async fn spec_delete(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    res: &'static Resource,
) -> ApiResult<Response> {
    let row = admin_template(&state, &ident, res, &raw, true).await?;
    save(&state, &ident, res, &row, json!({})).await?;
    Ok(StatusCode::OK.into_response())
}

async fn save(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    row: &Row,
    spec: Value,
) -> ApiResult<()> {
    let id = rawx_model::schema::int(row, "id").unwrap_or_default();
    let mut change = Row::new();
    change.insert(survey::SPEC_FIELD.into(), json!(spec.to_string()));
    crate::write::update(state, ident, res, id, &change).await?;
    Ok(())
}
