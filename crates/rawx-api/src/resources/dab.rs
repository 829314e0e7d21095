//! AWX 24's DAB RBAC views (django-ansible-base's `rbac/api/views.py` and `serializers.py`
//! at the version AWX 24.6.1 pins): `/api/v2/role_definitions/`, `/role_user_assignments/`,
//! `/role_team_assignments/`, `/role_metadata/`. They show the grants `/roles/` shows: an
//! assignment is a direct grant of a role (`rawx_domain::roles::set_user` / `grant_team_by`
//! write both), its definition the old role's managed twin or a custom definition's own
//! role (`rawx_model::dab`). Shapes and messages are DAB's, which differ from AWX's own
//! serializers (no `type`, `object_id` as text, errors of `serializers.ValidationError`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{json_body, page_json};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::roles;
use rawx_model::dab::{self, DabModel};
use rawx_model::filter::{parse_list_query, Cond, Filter};
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{
    by_key, ROLES, ROLE_DEFINITIONS, ROLE_TEAM_ASSIGNMENTS, ROLE_USER_ASSIGNMENTS, TEAMS, USERS,
};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::Row;
use rawx_store::DbError;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct RoleDefinitions;

#[async_trait::async_trait]
impl ResourceApi for RoleDefinitions {
    fn schema(&self) -> &'static Resource {
        &ROLE_DEFINITIONS
    }

    fn routes(&self) -> Routes {
        vec![
            (
                "/api/v2/role_definitions/",
                get(definitions_list)
                    .post(definitions_create)
                    .options(definitions_options),
            ),
            (
                "/api/v2/role_definitions/{id}/",
                get(definition_get)
                    .put(definition_put)
                    .patch(definition_patch)
                    .delete(definition_delete),
            ),
            (
                "/api/v2/role_definitions/{id}/user_assignments/",
                get(definition_user_assignments),
            ),
            (
                "/api/v2/role_definitions/{id}/team_assignments/",
                get(definition_team_assignments),
            ),
            (
                "/api/v2/role_user_assignments/",
                get(user_assignments_list)
                    .post(user_assignment_create)
                    .options(user_assignments_options),
            ),
            (
                "/api/v2/role_user_assignments/{id}/",
                get(user_assignment_get).delete(user_assignment_delete),
            ),
            (
                "/api/v2/role_team_assignments/",
                get(team_assignments_list)
                    .post(team_assignment_create)
                    .options(team_assignments_options),
            ),
            (
                "/api/v2/role_team_assignments/{id}/",
                get(team_assignment_get).delete(team_assignment_delete),
            ),
            ("/api/v2/role_metadata/", get(role_metadata)),
        ]
    }
}

fn bad(body: Value) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, body)
}

/// `{"field": ["msg"]}`, or DRF's `non_field_errors`.
fn invalid(e: dab::Invalid) -> ApiError {
    bad(json!({ e.field.unwrap_or("non_field_errors"): [e.msg] }))
}

/// `ValidationError("…")` raised outside a serializer: the body is a list.
fn bad_list(msg: &str) -> ApiError {
    bad(json!([msg]))
}

fn does_not_exist(field: &str, v: &Value) -> ApiError {
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    bad(json!({ field: [format!("Invalid pk \"{shown}\" - object does not exist.")] }))
}

fn incorrect_type(field: &str, v: &Value) -> ApiError {
    let t = match v {
        Value::String(_) => "str",
        Value::Bool(_) => "bool",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
        _ => "float",
    };
    bad(json!({ field: [format!("Incorrect type. Expected pk value, received {t}.")] }))
}

/// A primary key as DRF's `PrimaryKeyRelatedField` reads it (a number or digits).
fn pk_of(field: &str, v: &Value) -> ApiResult<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| incorrect_type(field, v)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| incorrect_type(field, v)),
        _ => Err(incorrect_type(field, v)),
    }
}

fn user_summary(u: &Row) -> Value {
    json!({
        "id": int(u, "id"),
        "username": text(u, "username"),
        "first_name": text(u, "first_name"),
        "last_name": text(u, "last_name"),
    })
}

/// `created_by`/`modified_by` in `related` and `summary_fields`, as DAB's common serializer.
async fn stamps(
    r: &mut Renderer<'_>,
    row: &Row,
    cols: &[&'static str],
    out: &mut Map<String, Value>,
    related: &mut Map<String, Value>,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    for col in cols {
        let id = int(row, col);
        out.insert((*col).into(), json!(id));
        if let Some(id) = id {
            if let Some(u) = r.lookup("users", id).await? {
                related.insert((*col).into(), json!(format!("/api/v2/users/{id}/")));
                summary.insert((*col).into(), user_summary(&u));
            }
        }
    }
    Ok(())
}

fn definition_summary(d: &Row) -> Value {
    json!({
        "id": int(d, "id"),
        "name": text(d, "name"),
        "description": text(d, "description"),
        "managed": d.get("managed").and_then(Value::as_bool).unwrap_or(false),
    })
}

async fn render_definition(r: &mut Renderer<'_>, d: &Row) -> ApiResult<Value> {
    let id = int(d, "id").unwrap_or_default();
    let mut out = Map::new();
    let mut related = Map::new();
    let mut summary = Map::new();
    related.insert(
        "team_assignments".into(),
        json!(format!("/api/v2/role_definitions/{id}/team_assignments/")),
    );
    related.insert(
        "user_assignments".into(),
        json!(format!("/api/v2/role_definitions/{id}/user_assignments/")),
    );
    out.insert("id".into(), json!(id));
    out.insert(
        "url".into(),
        json!(format!("/api/v2/role_definitions/{id}/")),
    );
    out.insert(
        "permissions".into(),
        json!(roles::definition_permissions(d)),
    );
    out.insert(
        "content_type".into(),
        d.get("content_type").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "created".into(),
        d.get("created").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "modified".into(),
        d.get("modified").cloned().unwrap_or(Value::Null),
    );
    stamps(
        r,
        d,
        &["created_by", "modified_by"],
        &mut out,
        &mut related,
        &mut summary,
    )
    .await?;
    out.insert("name".into(), json!(text(d, "name")));
    out.insert("description".into(), json!(text(d, "description")));
    out.insert(
        "managed".into(),
        json!(d.get("managed").and_then(Value::as_bool).unwrap_or(false)),
    );
    let mut all = Map::new();
    all.insert("id".into(), out["id"].clone());
    all.insert("url".into(), out["url"].clone());
    all.insert("related".into(), Value::Object(related));
    all.insert("summary_fields".into(), Value::Object(summary));
    all.extend(out.into_iter().filter(|(k, _)| k != "id" && k != "url"));
    Ok(Value::Object(all))
}

/// The query pairs of a list, and its query over `res` with the caller's filter.
fn list_query(
    res: &'static Resource,
    raw: &Option<String>,
) -> ApiResult<(Vec<(String, String)>, rawx_model::filter::ListQuery)> {
    let mut params: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    // Content types are named as DAB names them (`awx.jobtemplate`); assignments store the
    // resource key.
    if res.key != ROLE_DEFINITIONS.key {
        for (k, v) in params.iter_mut() {
            if k == "content_type" {
                if let Some(key) = dab::parse_content_type(v).and_then(|m| m.key) {
                    *v = key.to_string();
                }
            }
        }
    }
    let q = parse_list_query(res, &params)?;
    Ok((params, q))
}

async fn definitions_list(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (params, q) = list_query(&ROLE_DEFINITIONS, &raw)?;
    let page = state.store.list(&ROLE_DEFINITIONS, &q).await?;
    if q.page > page.count.div_ceil(q.page_size).max(1) {
        return Err(rawx_model::filter::QueryError::InvalidPage.into());
    }
    let mut r = Renderer::new(&state, &ident.actor);
    let mut results = Vec::new();
    for d in &page.rows {
        results.push(render_definition(&mut r, d).await?);
    }
    Ok(page_json(&uri, &params, &q, page.count, results))
}

async fn definition_row(state: &AppState, raw: &str) -> ApiResult<Row> {
    let id: i64 = raw.parse().map_err(|_| ApiError::NotFound)?;
    Ok(state.store.get(&ROLE_DEFINITIONS, id).await?)
}

async fn definition_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = definition_row(&state, &raw).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    Ok(Json(render_definition(&mut r, &d).await?))
}

/// `RoleDefinitionPermissions`: anyone signed in reads; only superusers write.
fn may_write_definitions(actor: &Actor) -> ApiResult<()> {
    if actor.is_superuser && !actor.read_only_token {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The permissions of a request, each as `PermissionField` reads it.
fn parse_permissions(v: &Value) -> ApiResult<Vec<String>> {
    let Some(list) = v.as_array() else {
        let t = match v {
            Value::String(_) => "str",
            Value::Object(_) => "dict",
            Value::Null => {
                return Err(bad(json!({"permissions": ["This field may not be null."]})))
            }
            _ => "int",
        };
        return Err(bad(json!({"permissions": [
            format!("Expected a list of items but got type \"{t}\".")
        ]})));
    };
    let mut out = Vec::new();
    let mut errors = Map::new();
    for (i, p) in list.iter().enumerate() {
        match p.as_str().and_then(dab::parse_permission) {
            Some(p) => {
                if !out.contains(&p) {
                    out.push(p)
                }
            }
            None => {
                let shown = p.as_str().map(str::to_string).unwrap_or(p.to_string());
                errors.insert(
                    i.to_string(),
                    json!([format!("Invalid pk \"{shown}\" - object does not exist.")]),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(bad(json!({ "permissions": errors })));
    }
    Ok(out)
}

fn parse_content_type(v: &Value) -> ApiResult<Option<&'static DabModel>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => match dab::parse_content_type(s) {
            Some(m) => Ok(Some(m)),
            None => Err(does_not_exist("content_type", v)),
        },
        other => Err(incorrect_type("content_type", other)),
    }
}

/// Create (`existing` `None`) or update a custom definition from a request body.
async fn save_definition(
    state: &AppState,
    ident: &crate::Identity,
    body: &Value,
    existing: Option<&Row>,
    partial: bool,
) -> ApiResult<Row> {
    may_write_definitions(&ident.actor)?;
    let body = body.as_object().ok_or_else(|| {
        bad(json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}))
    })?;
    let mut errors = Map::new();
    let required = |k: &str| !partial && !body.contains_key(k);
    if required("name") && existing.is_none_or(|_| !partial) {
        errors.insert("name".into(), json!(["This field is required."]));
    }
    if required("permissions") {
        errors.insert("permissions".into(), json!(["This field is required."]));
    }
    let name = body.get("name").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.insert("name".into(), json!(["This field may not be blank."]));
    }
    if !errors.is_empty() {
        return Err(bad(Value::Object(errors)));
    }
    let perms = match body.get("permissions") {
        Some(v) => parse_permissions(v)?,
        None => existing
            .map(roles::definition_permissions)
            .unwrap_or_default(),
    };
    // On update the content type is read-only (`RoleDefinitionDetailSerializer`).
    let model = match existing {
        Some(d) => d
            .get("content_type")
            .and_then(Value::as_str)
            .and_then(dab::parse_content_type),
        None => parse_content_type(body.get("content_type").unwrap_or(&Value::Null))?,
    };
    if let Some(n) = &name {
        let f = Filter::eq("name", ColumnType::Text, json!(n));
        if let Some(other) = state.store.find(&ROLE_DEFINITIONS, &f).await? {
            if existing.is_none_or(|e| int(e, "id") != int(&other, "id")) {
                return Err(bad(
                    json!({"name": ["role definition with this name already exists."]}),
                ));
            }
        }
    }
    dab::validate_custom(&perms, model).map_err(invalid)?;
    if let Some(e) = existing {
        if e.get("managed").and_then(Value::as_bool).unwrap_or(false) {
            return Err(bad_list("Role is managed by the system"));
        }
    }
    let mut row = Row::new();
    if let Some(n) = name {
        row.insert("name".into(), json!(n));
    }
    if let Some(d) = body.get("description") {
        row.insert(
            "description".into(),
            json!(d.as_str().map(str::to_string).unwrap_or_default()),
        );
    } else if existing.is_none() {
        row.insert("description".into(), json!(""));
    }
    row.insert("permissions".into(), json!(json!(perms).to_string()));
    row.insert("modified_by".into(), json!(ident.actor.user_id));
    let id = match existing {
        None => {
            row.insert("managed".into(), json!(false));
            row.insert(
                "content_type".into(),
                json!(model.map(|m| m.content_type())),
            );
            row.insert("created_by".into(), json!(ident.actor.user_id));
            crate::write::create(state, ident, &ROLE_DEFINITIONS, &row)
                .await
                .map_err(|e| match e {
                    DbError::Unique(_) => {
                        bad(json!({"name": ["role definition with this name already exists."]}))
                    }
                    e => e.into(),
                })?
        }
        Some(e) => {
            let id = int(e, "id").unwrap_or_default();
            row.insert("modified".into(), json!(rawx_model::now_string()));
            crate::write::update(state, ident, &ROLE_DEFINITIONS, id, &row).await?;
            if roles::definition_permissions(e) != perms {
                roles::definition_changed(&*state.store, id).await?;
            }
            id
        }
    };
    tracing::info!(
        definition = id,
        user = ident.username(),
        "role definition saved"
    );
    Ok(state.store.get(&ROLE_DEFINITIONS, id).await?)
}

async fn definitions_create(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = json_body(&headers, &body)?;
    let d = save_definition(&state, &ident, &body, None, false).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    Ok((
        StatusCode::CREATED,
        Json(render_definition(&mut r, &d).await?),
    )
        .into_response())
}

async fn definition_update(
    state: &AppState,
    ident: &crate::Identity,
    raw: &str,
    headers: &HeaderMap,
    body: &Bytes,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let existing = definition_row(state, raw).await?;
    let body = json_body(headers, body)?;
    let d = save_definition(state, ident, &body, Some(&existing), partial).await?;
    let mut r = Renderer::new(state, &ident.actor);
    Ok(Json(render_definition(&mut r, &d).await?))
}

async fn definition_put(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    definition_update(&state, &ident, &raw, &headers, &body, false).await
}

async fn definition_patch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    definition_update(&state, &ident, &raw, &headers, &body, true).await
}

async fn definition_delete(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let d = definition_row(&state, &raw).await?;
    may_write_definitions(&ident.actor)?;
    if d.get("managed").and_then(Value::as_bool).unwrap_or(false) {
        return Err(bad_list("Role is managed by the system"));
    }
    let id = int(&d, "id").unwrap_or_default();
    roles::delete_definition(&*state.store, id).await?;
    tracing::info!(
        definition = id,
        user = ident.username(),
        "role definition deleted"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// OPTIONS of the list: what awxkit and the UI read to build a create form.
async fn definitions_options(Auth(ident): Auth) -> ApiResult<Json<Value>> {
    let mut out = json!({
        "name": "Role Definition List",
        "description": "Role Definitions (roles) contain a list of permissions and can be used to assign those permissions to a user or team through the respective assignment endpoints.",
        "renders": ["application/json"],
        "parses": ["application/json"],
    });
    // The fields a list is filtered by (`awx role_definitions list --name …`).
    out["actions"] = json!({"GET": {
        "id": {"type": "integer", "label": "ID"},
        "name": {"type": "string", "label": "Name"},
        "description": {"type": "string", "label": "Description"},
        "managed": {"type": "boolean", "label": "Managed"},
        "content_type": {"type": "string", "label": "Content type"},
        "created": {"type": "datetime", "label": "Created"},
        "modified": {"type": "datetime", "label": "Modified"},
    }});
    if ident.actor.is_superuser && !ident.actor.read_only_token {
        let cts: Vec<Value> = {
            let mut v: Vec<(String, String)> = dab::MODELS
                .iter()
                .map(|m| {
                    let title = m
                        .verbose
                        .split(' ')
                        .map(|w| format!("{}{}", w[..1].to_uppercase(), &w[1..]))
                        .collect::<Vec<_>>()
                        .join(" ");
                    (m.content_type(), title)
                })
                .collect();
            v.sort();
            v.into_iter()
                .map(|(value, display_name)| json!([value, display_name]))
                .collect()
        };
        out["actions"]["POST"] = json!({
            "name": {"type": "string", "required": true, "label": "Name"},
            "description": {"type": "string", "required": false, "label": "Description"},
            "permissions": {"type": "list", "required": true, "label": "Permissions",
                "child": {"type": "choice", "choices": dab::all_permissions().iter().map(|p| json!([p, p])).collect::<Vec<_>>()}},
            "content_type": {"type": "choice", "required": false, "label": "Content type",
                "help_text": "The type of resource this applies to", "choices": cts},
        });
    }
    Ok(Json(out))
}

/// `/role_metadata/`: the permissions each content type's definitions may list.
async fn role_metadata(Auth(_ident): Auth) -> Json<Value> {
    let mut models: Vec<&DabModel> = dab::MODELS.iter().collect();
    models.sort_by_key(|m| m.model);
    let mut allowed = Map::new();
    for m in models {
        allowed.insert(m.content_type(), json!(dab::allowed_for(m)));
    }
    Json(json!({ "allowed_permissions": allowed }))
}

// ---- assignments ----

/// The two kinds of assignment.
#[derive(Clone, Copy)]
struct Kind {
    table: &'static Resource,
    actor: &'static str,
    actor_res: &'static Resource,
    path: &'static str,
}

const USER_KIND: Kind = Kind {
    table: &ROLE_USER_ASSIGNMENTS,
    actor: "user",
    actor_res: &USERS,
    path: "role_user_assignments",
};

const TEAM_KIND: Kind = Kind {
    table: &ROLE_TEAM_ASSIGNMENTS,
    actor: "team",
    actor_res: &TEAMS,
    path: "role_team_assignments",
};

/// `visible_items`: assignments on objects the caller may read, and (when the caller holds a
/// system-wide one) the system-wide ones; superusers and system auditors see all.
fn assignment_filter(actor: &Actor) -> Filter {
    if actor.is_superuser || actor.is_system_auditor {
        return Filter::All(vec![]);
    }
    let mut any = Vec::new();
    for m in dab::MODELS {
        let Some(key) = m.key else { continue };
        let Some(res) = by_key(key) else { continue };
        if !rbac::takes_assignments(res) {
            continue;
        }
        let readable = rbac::read_filter(res, actor).unwrap_or(Filter::All(vec![]));
        any.push(
            Filter::eq("content_type", ColumnType::Text, json!(key)).and(Filter::On {
                path: vec![],
                column: "object_id",
                ctype: ColumnType::Int,
                cond: Cond::InSelect {
                    table: res.key,
                    column: "id",
                    filter: Box::new(readable),
                },
            }),
        );
    }
    Filter::Any(any)
}

async fn render_assignment(r: &mut Renderer<'_>, kind: Kind, a: &Row) -> ApiResult<Value> {
    let id = int(a, "id").unwrap_or_default();
    let mut related = Map::new();
    let mut summary = Map::new();
    let mut out = Map::new();
    out.insert(
        "created".into(),
        a.get("created").cloned().unwrap_or(Value::Null),
    );
    stamps(r, a, &["created_by"], &mut out, &mut related, &mut summary).await?;
    let def_id = int(a, "role_definition").unwrap_or_default();
    related.insert(
        "role_definition".into(),
        json!(format!("/api/v2/role_definitions/{def_id}/")),
    );
    if let Ok(d) = r.state.store.get(&ROLE_DEFINITIONS, def_id).await {
        summary.insert("role_definition".into(), definition_summary(&d));
    }
    let actor_id = int(a, kind.actor).unwrap_or_default();
    related.insert(
        kind.actor.into(),
        json!(format!("/api/v2/{}/{actor_id}/", kind.actor_res.key)),
    );
    if let Some(row) = r.lookup(kind.actor_res.key, actor_id).await? {
        let s = if kind.actor == "user" {
            user_summary(&row)
        } else {
            json!({"id": actor_id, "name": text(&row, "name"), "description": text(&row, "description")})
        };
        summary.insert(kind.actor.into(), s);
    }
    let ct = a.get("content_type").and_then(Value::as_str);
    let oid = int(a, "object_id");
    if let (Some(res), Some(oid)) = (ct.and_then(by_key), oid) {
        related.insert(
            "content_object".into(),
            json!(format!("/api/v2/{}/{oid}/", res.key)),
        );
        if let Some(obj) = r.lookup(res.key, oid).await? {
            summary.insert(
                "content_object".into(),
                json!({"id": oid, "name": obj.get(res.name_field.unwrap_or("name")).cloned().unwrap_or(Value::Null)}),
            );
        }
    }
    let mut all = Map::new();
    all.insert("id".into(), json!(id));
    all.insert("url".into(), json!(format!("/api/v2/{}/{id}/", kind.path)));
    all.insert("related".into(), Value::Object(related));
    all.insert("summary_fields".into(), Value::Object(summary));
    all.extend(out);
    all.insert(
        "content_type".into(),
        json!(ct.and_then(dab::model_of_key).map(|m| m.content_type())),
    );
    all.insert("object_id".into(), json!(oid.map(|o| o.to_string())));
    all.insert("object_ansible_id".into(), Value::Null);
    all.insert("role_definition".into(), json!(def_id));
    all.insert(kind.actor.into(), json!(actor_id));
    all.insert(format!("{}_ansible_id", kind.actor), Value::Null);
    Ok(Value::Object(all))
}

async fn assignments_page(
    state: &AppState,
    actor: &Actor,
    kind: Kind,
    base: Filter,
    uri: &OriginalUri,
    raw: &Option<String>,
) -> ApiResult<Json<Value>> {
    let (params, mut q) = list_query(kind.table, raw)?;
    q.filter = base.and(assignment_filter(actor)).and(q.filter);
    let page = state.store.list(kind.table, &q).await?;
    if q.page > page.count.div_ceil(q.page_size).max(1) {
        return Err(rawx_model::filter::QueryError::InvalidPage.into());
    }
    let mut r = Renderer::new(state, actor);
    let mut results = Vec::new();
    for a in &page.rows {
        results.push(render_assignment(&mut r, kind, a).await?);
    }
    Ok(page_json(uri, &params, &q, page.count, results))
}

async fn user_assignments_list(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    assignments_page(
        &state,
        &ident.actor,
        USER_KIND,
        Filter::All(vec![]),
        &uri,
        &raw,
    )
    .await
}

async fn team_assignments_list(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    assignments_page(
        &state,
        &ident.actor,
        TEAM_KIND,
        Filter::All(vec![]),
        &uri,
        &raw,
    )
    .await
}

async fn definition_user_assignments(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw_id): Path<String>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let d = definition_row(&state, &raw_id).await?;
    let f = Filter::eq("role_definition", ColumnType::Int, json!(int(&d, "id")));
    assignments_page(&state, &ident.actor, USER_KIND, f, &uri, &raw).await
}

async fn definition_team_assignments(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw_id): Path<String>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let d = definition_row(&state, &raw_id).await?;
    let f = Filter::eq("role_definition", ColumnType::Int, json!(int(&d, "id")));
    assignments_page(&state, &ident.actor, TEAM_KIND, f, &uri, &raw).await
}

/// An assignment the caller may see: 404 otherwise, as DAB's viewsets filter first.
async fn assignment_row(state: &AppState, actor: &Actor, kind: Kind, raw: &str) -> ApiResult<Row> {
    let id: i64 = raw.parse().map_err(|_| ApiError::NotFound)?;
    let f = Filter::eq("id", ColumnType::Int, json!(id)).and(assignment_filter(actor));
    state
        .store
        .find(kind.table, &f)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn assignment_get(
    state: &AppState,
    actor: &Actor,
    kind: Kind,
    raw: &str,
) -> ApiResult<Json<Value>> {
    let a = assignment_row(state, actor, kind, raw).await?;
    let mut r = Renderer::new(state, actor);
    Ok(Json(render_assignment(&mut r, kind, &a).await?))
}

async fn user_assignment_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    assignment_get(&state, &ident.actor, USER_KIND, &raw).await
}

async fn team_assignment_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    assignment_get(&state, &ident.actor, TEAM_KIND, &raw).await
}

/// `check_content_obj_permission`: granting or revoking on an object needs its `change`
/// permission, which is the admin role here.
async fn may_change_object(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    obj: &Row,
) -> ApiResult<()> {
    if actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let mut r = Renderer::new(state, actor);
    if state.api(res).can_change(&mut r, obj).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The role a definition grants on an object: the old role it is, or its own custom role.
async fn role_for(
    state: &AppState,
    def: &Row,
    res: &'static Resource,
    object: i64,
) -> ApiResult<i64> {
    let store = &*state.store;
    if let Some(field) = def.get("old_role").and_then(Value::as_str) {
        if let Some(r) = roles::role_of(store, res.key, object, field).await? {
            return Ok(r);
        }
        // Objects made before roles existed get theirs now.
        let row = store.get(res, object).await?;
        roles::sync_object(store, res, &row).await?;
        return roles::role_of(store, res.key, object, field)
            .await?
            .ok_or(ApiError::NotFound);
    }
    Ok(roles::custom_role(store, int(def, "id").unwrap_or_default(), res, object).await?)
}

async fn assignment_create(
    state: &AppState,
    ident: &crate::Identity,
    kind: Kind,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let body = json_body(headers, body)?;
    let actor = &ident.actor;
    let Some(body) = body.as_object() else {
        return Err(bad(
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ));
    };
    // Field validation first, as the serializer's `is_valid`.
    let Some(rd_v) = body.get("role_definition").filter(|v| !v.is_null()) else {
        return Err(bad(json!({"role_definition": ["This field is required."]})));
    };
    let rd_id = pk_of("role_definition", rd_v)?;
    let def = match state.store.get(&ROLE_DEFINITIONS, rd_id).await {
        Ok(d) => d,
        Err(DbError::NotFound) => return Err(does_not_exist("role_definition", rd_v)),
        Err(e) => return Err(e.into()),
    };
    let actor_v = body.get(kind.actor).filter(|v| !v.is_null());
    let aid_key = format!("{}_ansible_id", kind.actor);
    let by_ansible = body.get(&aid_key).is_some_and(|v| !v.is_null());
    let actor_row = match actor_v {
        Some(v) => {
            let id = pk_of(kind.actor, v)?;
            let visible = rbac::read_filter(kind.actor_res, actor).unwrap_or(Filter::All(vec![]));
            let f = Filter::eq("id", ColumnType::Int, json!(id)).and(visible);
            match state.store.find(kind.actor_res, &f).await? {
                Some(r) => Some(r),
                None => return Err(does_not_exist(kind.actor, v)),
            }
        }
        None => None,
    };
    let msg = format!("Provide exactly one of {0} or {0}_ansible_id", kind.actor);
    let Some(actor_row) = actor_row.filter(|_| !by_ansible) else {
        // rawx has no resource registry, so an `ansible_id` names nothing here.
        return Err(bad(json!({ kind.actor: [msg.clone()], aid_key: [msg] })));
    };
    let actor_id = int(&actor_row, "id").unwrap_or_default();
    let model = def
        .get("content_type")
        .and_then(Value::as_str)
        .and_then(dab::parse_content_type);
    let object_v = body
        .get("object_id")
        .filter(|v| !v.is_null() && v.as_str() != Some(""));
    let role_row = match (model, object_v) {
        (None, Some(_)) => {
            return Err(bad(
                json!({"object_id": ["System role does not allow for object assignment"]}),
            ))
        }
        (None, None) => {
            // A system-wide assignment (the System Auditor): superusers only.
            if !actor.is_superuser {
                return Err(ApiError::forbidden());
            }
            if kind.actor == "team" {
                return Err(bad_list("Global roles are not enabled for teams"));
            }
            let Some(name) = def.get("old_role").and_then(Value::as_str) else {
                return Err(bad_list("Global roles are not enabled for users"));
            };
            let f = Filter::eq("singleton_name", ColumnType::Text, json!(name));
            state
                .store
                .find(&ROLES, &f)
                .await?
                .ok_or(ApiError::NotFound)?
        }
        (Some(_), None) => {
            return Err(bad(
                json!({"object_id": ["Object must be specified for this role assignment"]}),
            ))
        }
        (Some(m), Some(ov)) => {
            let oid = pk_of("object_id", ov)?;
            let Some(res) = m
                .key
                .and_then(by_key)
                .filter(|r| rbac::takes_assignments(r))
            else {
                return Err(bad(json!({"object_id": [format!(
                    "rawx does not grant roles on {}",
                    m.verbose_plural
                )]})));
            };
            let visible = rbac::read_filter(res, actor).unwrap_or(Filter::All(vec![]));
            let f = Filter::eq("id", ColumnType::Int, json!(oid)).and(visible);
            let Some(obj) = state.store.find(res, &f).await? else {
                return Err(does_not_exist("object_id", ov));
            };
            validate_role_assignment(state, res, &obj, kind, &actor_row).await?;
            may_change_object(state, actor, res, &obj).await?;
            if kind.actor == "team" && m.model == "organization" {
                let perms = roles::definition_permissions(&def);
                if perms.iter().any(|p| p == "shared.member_organization") {
                    return Err(bad_list(
                        "Assigning organization member permission to teams is not allowed",
                    ));
                }
                if perms.iter().any(|p| p == "shared.member_team") {
                    return Err(bad_list(
                        "Assigning organization permissions that manage other teams is not allowed",
                    ));
                }
            }
            let rid = role_for(state, &def, res, oid).await?;
            state.store.get(&ROLES, rid).await?
        }
    };
    let rid = int(&role_row, "id").unwrap_or_default();
    if kind.actor == "user" {
        roles::set_user(&*state.store, rid, actor_id, true, Some(actor.user_id)).await?;
    } else {
        roles::grant_team_by(&*state.store, rid, actor_id, true, Some(actor.user_id)).await?;
    }
    tracing::info!(
        role = rid,
        definition = rd_id,
        actor = kind.actor,
        actor_id,
        user = ident.username(),
        "role assigned"
    );
    let f = Filter::eq(kind.actor, ColumnType::Int, json!(actor_id)).and(Filter::eq(
        "object_role",
        ColumnType::Int,
        json!(rid),
    ));
    let a = state
        .store
        .find(kind.table, &f)
        .await?
        .ok_or_else(|| ApiError::Internal("assignment not recorded".into()))?;
    let mut r = Renderer::new(state, actor);
    Ok((
        StatusCode::CREATED,
        Json(render_assignment(&mut r, kind, &a).await?),
    )
        .into_response())
}

/// AWX's `validate_role_assignment`: a credential's roles go only to its organization's
/// admins (or superusers) and its organization's teams.
async fn validate_role_assignment(
    _state: &AppState,
    res: &'static Resource,
    obj: &Row,
    kind: Kind,
    actor_row: &Row,
) -> ApiResult<()> {
    if res.key != "credentials" {
        return Ok(());
    }
    let org = int(obj, "organization");
    let ok = if kind.actor == "user" {
        if actor_row
            .get("is_superuser")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            true
        } else if let Some(org) = org {
            roles::holds(
                &*_state.store,
                int(actor_row, "id").unwrap_or_default(),
                "organizations",
                org,
                &["admin_role"],
            )
            .await?
        } else {
            false
        }
    } else {
        org.is_some() && int(actor_row, "organization") == org
    };
    if ok {
        return Ok(());
    }
    let who = if kind.actor == "user" { "User" } else { "Team" };
    Err(bad(json!({"detail": format!(
        "You cannot grant credential access to a {who} not in the credentials' organization"
    )})))
}

async fn user_assignment_create(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    assignment_create(&state, &ident, USER_KIND, &headers, &body).await
}

async fn team_assignment_create(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    assignment_create(&state, &ident, TEAM_KIND, &headers, &body).await
}

/// DELETE: the grant is revoked (`remove_permission`), with the right to change the object
/// (superusers for system-wide ones).
async fn assignment_delete(
    state: &AppState,
    ident: &crate::Identity,
    kind: Kind,
    raw: &str,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let a = assignment_row(state, actor, kind, raw).await?;
    let ct = a.get("content_type").and_then(Value::as_str);
    match (ct.and_then(by_key), int(&a, "object_id")) {
        (Some(res), Some(oid)) => {
            let obj = state.store.get(res, oid).await?;
            may_change_object(state, actor, res, &obj).await?;
        }
        _ => {
            if !actor.is_superuser || actor.read_only_token {
                return Err(ApiError::forbidden());
            }
        }
    }
    let rid = int(&a, "object_role").unwrap_or_default();
    let who = int(&a, kind.actor).unwrap_or_default();
    if kind.actor == "user" {
        roles::set_user(&*state.store, rid, who, false, None).await?;
    } else {
        roles::grant_team_by(&*state.store, rid, who, false, None).await?;
    }
    tracing::info!(
        role = rid,
        actor = kind.actor,
        actor_id = who,
        user = ident.username(),
        "role assignment removed"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_assignment_delete(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    assignment_delete(&state, &ident, USER_KIND, &raw).await
}

async fn team_assignment_delete(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    assignment_delete(&state, &ident, TEAM_KIND, &raw).await
}

/// OPTIONS of an assignment list, for awxkit's CLI: the list's filters and what a create
/// takes. DAB offers the create to anyone signed in (the object's admin role decides); here
/// only to those who administer something (superusers, organization admins), so an outsider
/// is offered no write.
fn assignments_options(kind: Kind, actor: &Actor) -> Json<Value> {
    let mut get = json!({
        "id": {"type": "integer", "label": "ID"},
        "role_definition": {"type": "id", "label": "Role definition"},
        "object_id": {"type": "string", "label": "Object id"},
        "content_type": {"type": "string", "label": "Content type"},
        "created": {"type": "datetime", "label": "Created"},
    });
    get[kind.actor] = json!({"type": "id", "label": kind.actor_res.verbose});
    let mut out = json!({
        "name": if kind.actor == "user" { "Role User Assignment List" } else { "Role Team Assignment List" },
        "renders": ["application/json"],
        "parses": ["application/json"],
        "actions": {"GET": get},
    });
    if !actor.read_only_token && (actor.is_superuser || !actor.admin_of.is_empty()) {
        let mut post = json!({
            "role_definition": {"type": "id", "required": true, "label": "Role definition",
                "help_text": "The role definition which defines permissions conveyed by this assignment"},
            "object_id": {"type": "string", "required": false, "label": "Object id",
                "help_text": "Primary key of the object this assignment applies to, null value indicates system-wide assignment"},
        });
        post[kind.actor] =
            json!({"type": "id", "required": false, "label": kind.actor_res.verbose});
        out["actions"]["POST"] = post;
    }
    Json(out)
}

async fn user_assignments_options(Auth(ident): Auth) -> Json<Value> {
    assignments_options(USER_KIND, &ident.actor)
}

async fn team_assignments_options(Auth(ident): Auth) -> Json<Value> {
    assignments_options(TEAM_KIND, &ident.actor)
}
