//! `/api/v2/constructed_inventories/` (AWX's `ConstructedInventoryList`/`Detail` with
//! `ConstructedInventorySerializer`): the inventories of `kind: constructed`, shown without
//! `host_filter` and with four fields of their auto-created `constructed` source
//! (`source_vars`, `update_cache_timeout`, `limit`, `verbosity`), which a write here sets on
//! that source. Everything else is the inventories' own path: the same validation, permissions
//! and write, so this module only moves those four fields between the two objects.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{self, json_body};
use crate::resource::Routes;
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::{INVENTORIES, INVENTORY_SOURCES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::{FieldErrors, Mode};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

const BASE: &str = "/api/v2/constructed_inventories/";

/// AWX's `CONSTRUCTED_INVENTORY_SOURCE_EDITABLE_FIELDS`.
const SOURCE_FIELDS: &[&str] = &["source_vars", "update_cache_timeout", "limit", "verbosity"];

pub fn routes() -> Routes {
    vec![
        (BASE, get(list).post(create).options(list_options)),
        (
            "/api/v2/constructed_inventories/{id}/",
            get(retrieve)
                .put(replace)
                .patch(patch)
                .delete(destroy)
                .options(detail_options),
        ),
    ]
}

fn constructed() -> Filter {
    Filter::eq("kind", ColumnType::Text, json!("constructed"))
}

/// The inventory's `constructed` source.
async fn source_of(state: &AppState, inv: i64) -> ApiResult<Option<Row>> {
    let f = Filter::eq("inventory", ColumnType::Int, json!(inv)).and(Filter::eq(
        "source",
        ColumnType::Text,
        json!("constructed"),
    ));
    Ok(state.store.find(&INVENTORY_SOURCES, &f).await?)
}

/// An inventory as this view shows it: its URL here, no `host_filter`, the source's fields.
async fn shown(state: &AppState, mut inv: Value) -> ApiResult<Value> {
    let id = inv["id"].as_i64().unwrap_or_default();
    let source = source_of(state, id).await?;
    if let Some(o) = inv.as_object_mut() {
        o.remove("host_filter");
        o.insert("url".into(), json!(format!("{BASE}{id}/")));
        for f in SOURCE_FIELDS {
            let v = source
                .as_ref()
                .and_then(|s| s.get(*f).cloned())
                .unwrap_or(Value::Null);
            o.insert((*f).into(), v);
        }
    }
    Ok(inv)
}

/// Takes the source's fields out of `body` (null is "not given", as AWX's
/// `pop_inv_src_data`), checked as the serializer's fields are; `kind` is read-only here.
fn pop_source_fields(body: &mut Value) -> ApiResult<Row> {
    let mut out = Row::new();
    let mut errors = FieldErrors::default();
    let Some(o) = body.as_object_mut() else {
        return Ok(out);
    };
    o.remove("kind");
    for f in SOURCE_FIELDS {
        let Some(v) = o.remove(*f).filter(|v| !v.is_null()) else {
            continue;
        };
        match (*f, &v) {
            ("source_vars", Value::String(_)) | ("limit", Value::String(_)) => {
                out.insert((*f).into(), v);
            }
            // The collection sends variables as a mapping: stored as the JSON text AWX keeps.
            ("source_vars", Value::Object(_)) => {
                out.insert((*f).into(), json!(v.to_string()));
            }
            ("source_vars" | "limit", _) => errors.add(f, "Not a valid string."),
            (_, v) => match v.as_i64() {
                None => errors.add(f, "A valid integer is required."),
                Some(n) if n < 0 => {
                    errors.add(f, "Ensure this value is greater than or equal to 0.")
                }
                Some(n) if *f == "verbosity" && n > 2 => {
                    errors.add(f, "Ensure this value is less than or equal to 2.")
                }
                Some(n) => {
                    out.insert((*f).into(), json!(n));
                }
            },
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Fields(errors))
    }
}

/// `apply_inv_src_data`: the fields written on the inventory's source (AWX saves them with no
/// further check: the source's other rules refuse changes to a constructed source).
async fn apply(state: &AppState, ident: &Identity, inv: i64, fields: Row) -> ApiResult<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let Some(source) = source_of(state, inv).await? else {
        return Ok(());
    };
    let mut row = fields;
    row.insert("modified_by".into(), json!(ident.actor.user_id));
    let sid = int(&source, "id").unwrap_or_default();
    crate::write::update(state, ident, &INVENTORY_SOURCES, sid, &row).await?;
    Ok(())
}

async fn render(state: &AppState, ident: &Identity, inv: i64) -> ApiResult<Value> {
    let row = state.store.get(&INVENTORIES, inv).await?;
    let out = Renderer::new(state, &ident.actor)
        .render(&INVENTORIES, &row)
        .await?;
    shown(state, out).await
}

/// A constructed inventory the caller may see, by id (any other inventory is not found here).
async fn visible(state: &AppState, ident: &Identity, raw: &str) -> ApiResult<Row> {
    let row = handlers::fetch_visible(state, &ident.actor, &INVENTORIES, raw).await?;
    if text(&row, "kind") != "constructed" {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

async fn list(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let Json(mut page) =
        handlers::page_response(&state, &ident.actor, &INVENTORIES, constructed(), &uri, &q)
            .await?;
    if let Some(results) = page.get_mut("results").and_then(Value::as_array_mut) {
        for r in results.iter_mut() {
            *r = shown(&state, r.take()).await?;
        }
    }
    Ok(Json(page))
}

async fn create(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let mut body = json_body(&headers, &body)?;
    let fields = pop_source_fields(&mut body)?;
    if let Some(o) = body.as_object_mut() {
        o.insert("kind".into(), json!("constructed"));
    }
    // The inventories' create, which makes the constructed source with the inventory.
    let api = state.api(&INVENTORIES);
    api.clean_body(&mut body);
    let Some(made) = api.create(&state, &ident, None, &body).await? else {
        return Err(ApiError::Msg("a constructed inventory was not made".into()));
    };
    let id = match made.headers().get(axum::http::header::LOCATION) {
        Some(loc) => loc
            .to_str()
            .unwrap_or_default()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .and_then(|s| s.parse::<i64>().ok()),
        None => None,
    }
    .ok_or_else(|| ApiError::Msg("a constructed inventory was not made".into()))?;
    apply(&state, &ident, id, fields).await?;
    let out = render(&state, &ident, id).await?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, format!("{BASE}{id}/"))],
        Json(out),
    )
        .into_response())
}

async fn retrieve(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = visible(&state, &ident, &raw).await?;
    let id = int(&row, "id").unwrap_or_default();
    Ok(Json(render(&state, &ident, id).await?))
}

async fn write(
    state: &AppState,
    ident: &Identity,
    raw: &str,
    body: Bytes,
    headers: &HeaderMap,
    mode: Mode,
) -> ApiResult<Json<Value>> {
    let row = visible(state, ident, raw).await?;
    let id = int(&row, "id").unwrap_or_default();
    let mut body = json_body(headers, &body)?;
    let fields = pop_source_fields(&mut body)?;
    if let Some(o) = body.as_object_mut() {
        o.insert("kind".into(), json!("constructed"));
    }
    let _ = handlers::update(state, ident, INVENTORIES.key, &id.to_string(), body, mode).await?;
    apply(state, ident, id, fields).await?;
    Ok(Json(render(state, ident, id).await?))
}

async fn replace(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    write(&state, &ident, &raw, body, &headers, Mode::Replace).await
}

async fn patch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    write(&state, &ident, &raw, body, &headers, Mode::Patch).await
}

async fn destroy(State(state): Ctx, auth: Auth, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let id = int(&visible(&state, &auth.0, &raw).await?, "id").unwrap_or_default();
    handlers::destroy(
        State(state),
        auth,
        Path((INVENTORIES.key.to_string(), id.to_string())),
    )
    .await
}

/// The inventories' fields as this view takes them: no `host_filter`, `kind` read-only, the
/// source's four fields.
fn fields(write: bool) -> Map<String, Value> {
    let mut m = if write {
        crate::options::write_actions(&INVENTORIES)
    } else {
        crate::options::get_actions(&INVENTORIES)
    };
    m.remove("host_filter");
    if write {
        m.remove("kind");
    }
    let meta = |label: &str, kind: &str, help: &str| json!({"type": kind, "required": false, "label": label, "help_text": help});
    for (f, label, kind, help) in [
        ("source_vars", "Source vars", "string", "The source_vars for the related auto-created inventory source, special to constructed inventory."),
        ("update_cache_timeout", "Update cache timeout", "integer", "The cache timeout for the related auto-created inventory source, special to constructed inventory"),
        ("limit", "Limit", "string", "The limit to restrict the returned hosts for the related auto-created inventory source, special to constructed inventory."),
        ("verbosity", "Verbosity", "integer", "The verbosity level for the related auto-created inventory source, special to constructed inventory"),
    ] {
        m.insert(f.into(), meta(label, kind, help));
    }
    m
}

fn options(what: &str, write_method: Option<&str>) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), Value::Object(fields(false)));
    if let Some(m) = write_method {
        actions.insert(m.into(), Value::Object(fields(true)));
    }
    let allow = match write_method {
        Some("POST") => "GET, POST, HEAD, OPTIONS",
        Some(_) => "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
        None => "GET, HEAD, OPTIONS",
    };
    let body = json!({
        "name": format!("Constructed Inventory {what}"),
        "description": format!("# Constructed Inventory {what}\n"),
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": actions,
        "types": [INVENTORIES.type_name],
        "search_fields": INVENTORIES.search_fields,
        "max_page_size": rawx_model::filter::MAX_PAGE_SIZE,
        "object_roles": rawx_model::rbac::object_roles(INVENTORIES.key),
    });
    ([(axum::http::header::ALLOW, allow)], Json(body)).into_response()
}

async fn list_options(Auth(ident): Auth) -> Response {
    // Who may make an inventory somewhere: superusers and organization admins (the POST's
    // own check is the inventories' `can_add`).
    let may = ident.actor.is_superuser || !ident.actor.admin_of.is_empty();
    options("List", may.then_some("POST"))
}

async fn detail_options(State(state): Ctx, Auth(ident): Auth, Path(raw): Path<String>) -> Response {
    let may = match visible(&state, &ident, &raw).await {
        Ok(row) => state
            .api(&INVENTORIES)
            .can_change(&mut Renderer::new(&state, &ident.actor), &row)
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    options("Detail", may.then_some("PUT"))
}
