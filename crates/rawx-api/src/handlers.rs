//! The generic resource handlers: list, create, retrieve, replace, patch, delete, OPTIONS and
//! related sub-lists for every resource of the schema. What differs by resource is asked of its
//! `ResourceApi` (`state.api(res)`), never decided here by its key; permission checks are made
//! here, once, on every path, with the questions that trait answers.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::named::resolve_named;
use crate::options;
use crate::view::{url_of, Renderer};
use crate::write;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::filter::{parse_list_query, Cond, Filter, ListQuery, Step};
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{by_key, ROLES};
use rawx_model::schema::Relation;
use rawx_model::schema::{ColumnType, Kind, Resource, Scope, SubList};
use rawx_model::validate::{validate, FieldErrors, Mode};
use rawx_model::Row;
use rawx_store::DbError;
use serde_json::{json, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub fn resource(key: &str) -> ApiResult<&'static Resource> {
    by_key(key)
        .filter(|r| r.is_public() && !rawx_model::resources::is_parent_table(r))
        .ok_or(ApiError::NotFound)
}

/// The request body as JSON, or AWX's parse and media-type errors.
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<Value> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !ct.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType(ct.to_string()));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("JSON parse error - {e}")))
}

fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn with_visibility(state: &AppState, res: &'static Resource, actor: &Actor, f: Filter) -> Filter {
    match state.api(res).read_filter(actor) {
        Some(v) => f.and(v),
        None => f,
    }
}

/// Resolves an id or a named URL (`Lab++Default`) to an id.
async fn resolve_id(state: &AppState, res: &'static Resource, raw: &str) -> ApiResult<i64> {
    if let Ok(id) = raw.parse::<i64>() {
        return Ok(id);
    }
    resolve_named(state, res, raw)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The object, if the caller may see it: 404 when it does not exist, 403 when it is hidden.
pub async fn fetch_visible(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    raw: &str,
) -> ApiResult<Row> {
    let id = resolve_id(state, res, raw).await?;
    let by_id = Filter::eq("id", ColumnType::Int, json!(id));
    if let Some(row) = state
        .store
        .find(res, &with_visibility(state, res, actor, by_id.clone()))
        .await?
    {
        return Ok(row);
    }
    match state.store.find(res, &by_id).await? {
        Some(_) if raw.parse::<i64>().is_ok() => Err(ApiError::forbidden()),
        _ => Err(ApiError::NotFound),
    }
}

pub(crate) async fn page_response(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    base: Filter,
    uri: &OriginalUri,
    raw: &Option<String>,
) -> ApiResult<Json<Value>> {
    page_response_as(state, actor, res, base, uri, raw, true).await
}

/// `page_response`, with the resource's read filter (`visible`) or without it: a list AWX shows
/// to whoever may see its parent (a smart inventory's hosts, `filter_read_permission = False`).
pub(crate) async fn page_response_as(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    base: Filter,
    uri: &OriginalUri,
    raw: &Option<String>,
    visible: bool,
) -> ApiResult<Json<Value>> {
    let (params, q, page) = if visible {
        page_rows(state, actor, res, base, raw).await?
    } else {
        let params = query_pairs(raw);
        let mut q = parse_list_query(res, &params)?;
        q.filter = base.and(q.filter);
        let page = state.store.list(res, &q).await?;
        if q.page > page.count.div_ceil(q.page_size).max(1) {
            return Err(rawx_model::filter::QueryError::InvalidPage.into());
        }
        (params, q, page)
    };
    let mut r = Renderer::new(state, actor);
    r.list_view = true;
    r.truncate_stdout = !params.iter().any(|(k, _)| k == "no_truncate");
    let mut results = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        // For a non-superuser each row's capabilities compare it with its stored self: the
        // page is that (one query per row less: issue 19's list latency).
        r.known(res.key, row);
        results.push(r.render(res, row).await?);
    }
    Ok(page_json(uri, &params, &q, page.count, results))
}

/// The page of `res` a list request asks for: its query parameters, the parsed query and the
/// rows (filtered by the caller's query, `base` and the resource's read filter).
pub(crate) async fn page_rows(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    base: Filter,
    raw: &Option<String>,
) -> ApiResult<(Vec<(String, String)>, ListQuery, rawx_store::Page)> {
    let params = query_pairs(raw);
    let mut q = parse_list_query(res, &params)?;
    q.filter = with_visibility(state, res, actor, base.and(q.filter));
    let page = state.store.list(res, &q).await?;
    let last = page.count.div_ceil(q.page_size).max(1);
    if q.page > last {
        return Err(rawx_model::filter::QueryError::InvalidPage.into());
    }
    Ok((params, q, page))
}

/// A list answer in AWX's shape: `count`, `next`/`previous` links keeping the query, results.
pub(crate) fn page_json(
    uri: &OriginalUri,
    params: &[(String, String)],
    q: &ListQuery,
    count: u64,
    results: Vec<Value>,
) -> Json<Value> {
    let last = count.div_ceil(q.page_size).max(1);
    let link = |n: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.iter().filter(|(k, _)| k != "page") {
            s.append_pair(k, v);
        }
        s.append_pair("page", &n.to_string());
        json!(format!("{}?{}", uri.path(), s.finish()))
    };
    Json(json!({
        "count": count,
        "next": if q.page < last { link(q.page + 1) } else { Value::Null },
        "previous": if q.page > 1 { link(q.page - 1) } else { Value::Null },
        "results": results,
    }))
}

pub async fn list(
    State(state): Ctx,
    Auth(id): Auth,
    Path(key): Path<String>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let res = resource(&key)?;
    page_response(&state, &id.actor, res, Filter::All(vec![]), &uri, &raw).await
}

/// Whether the caller may create objects of `res` at all (for OPTIONS): AWX's `can_add` with
/// no data, "holds the role creating one needs somewhere" (`Organization.accessible_objects(
/// user, 'execution_environment_admin_role').exists()`).
async fn may_create_some(
    state: &AppState,
    res: &'static Resource,
    actor: &Actor,
) -> ApiResult<bool> {
    // OPTIONS offers what the API takes: awxkit's export and import go by it.
    if actor.read_only_token || res.read_only_api {
        return Ok(false);
    }
    Ok(match res.scope {
        Scope::Via(_) => {
            actor.is_superuser
                || !actor.admin_of.is_empty()
                || res.field("user").is_some()
                || holds_somewhere(state, res, actor).await?
        }
        _ => rbac::may_create_top_level(res, actor),
    })
}

/// Does the caller hold, on any object, a role one of `res`'s foreign keys asks for a create?
async fn holds_somewhere(
    state: &AppState,
    res: &'static Resource,
    actor: &Actor,
) -> ApiResult<bool> {
    for (col, field) in rbac::add_needs(res) {
        let Some(Kind::Fk(target)) = res.field(col).map(|f| f.kind) else {
            continue;
        };
        let f = rbac::held_roles(actor.user_id)
            .and(Filter::eq("content_type", ColumnType::Text, json!(target)))
            .and(Filter::eq("role_field", ColumnType::Text, json!(field)));
        if state.store.count(&ROLES, &f).await? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn list_options(
    State(state): Ctx,
    Auth(id): Auth,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let res = resource(&key)?;
    Ok(options::list(
        res,
        may_create_some(&state, res, &id.actor).await?,
    ))
}

pub async fn detail_options(
    State(state): Ctx,
    Auth(id): Auth,
    Path((key, raw)): Path<(String, String)>,
) -> ApiResult<Response> {
    let res = resource(&key)?;
    let may_edit = match fetch_visible(&state, &id.actor, res, &raw).await {
        Ok(_) if res.read_only_api => false,
        Ok(row) => {
            state
                .api(res)
                .can_change(&mut Renderer::new(&state, &id.actor), &row)
                .await?
        }
        // AWX answers about id 1 even when it does not exist; say what the caller could do
        // to such an object.
        Err(ApiError::NotFound) => may_create_some(&state, res, &id.actor).await?,
        Err(e) => return Err(e),
    };
    Ok(options::detail(res, may_edit))
}

/// Checks that every foreign key names an object the caller can see.
async fn check_references(
    state: &AppState,
    actor: &Actor,
    res: &'static Resource,
    row: &Row,
) -> ApiResult<()> {
    let mut errors = FieldErrors::default();
    for f in res.fields.iter().filter(|f| !f.internal) {
        let (Kind::Fk(target), Some(fid)) = (f.kind, row.get(f.name).and_then(Value::as_i64))
        else {
            continue;
        };
        let tres = by_key(target).expect("fk target");
        let f_id = Filter::eq("id", ColumnType::Int, json!(fid));
        if state
            .store
            .find(tres, &with_visibility(state, tres, actor, f_id))
            .await?
            .is_none()
        {
            errors.add(
                f.name,
                format!("Invalid pk \"{fid}\" - object does not exist."),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Fields(errors))
    }
}

/// AWX's words for a unique violation.
fn unique_error(res: &Resource, cols: &[String]) -> ApiError {
    let labels: Vec<&str> = cols
        .iter()
        .map(|c| res.field(c).map(|f| f.label).unwrap_or(c.as_str()))
        .collect();
    match cols {
        [one] => ApiError::field(
            one,
            format!("{} with this {} already exists.", res.verbose, labels[0]),
        ),
        _ => ApiError::field(
            "__all__",
            format!(
                "{} with this {} already exists.",
                res.verbose,
                labels.join(" and ")
            ),
        ),
    }
}

pub(crate) fn db_write_error(res: &Resource, e: DbError) -> ApiError {
    match e {
        DbError::Unique(cols) => unique_error(res, &cols),
        DbError::ForeignKey(m) => ApiError::field(
            "__all__",
            format!("A referenced object does not exist: {m}"),
        ),
        other => other.into(),
    }
}

/// The create path every POST that makes an object goes through: the new id and its body.
pub async fn create_row(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    body: Value,
) -> ApiResult<(i64, Value)> {
    let actor = &ident.actor;
    let api = state.api(res);
    let mut row = validate(res, &body, Mode::Create).map_err(ApiError::Fields)?;
    check_references(state, actor, res, &row).await?;
    api.prepare(state, ident, &mut row, None).await?;
    let mut r = Renderer::new(state, actor);
    if !api.can_add(&mut r, &row).await? {
        return Err(ApiError::forbidden());
    }
    row.insert("created_by".into(), json!(actor.user_id));
    row.insert("modified_by".into(), json!(actor.user_id));
    let id = write::create(state, ident, res, &row)
        .await
        .map_err(|e| db_write_error(res, e))?;
    api.created(state, id);
    api.saved(state, ident, id, None).await?;
    let stored = state.store.get(res, id).await?;
    let body = r.render(res, &stored).await?;
    Ok((id, body))
}

/// 201 with `Location` and the new object.
pub(crate) fn created(res: &Resource, id: i64, body: Value) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, url_of(res, id))],
        Json(body),
    )
        .into_response()
}

pub async fn create_object(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    body: Value,
) -> ApiResult<Response> {
    let (id, body) = create_row(state, ident, res, body).await?;
    Ok(created(res, id, body))
}

pub async fn create(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let res = resource(&key)?;
    if res.read_only_api {
        return Err(ApiError::MethodNotAllowed("POST".into()));
    }
    let api = state.api(res);
    let mut body = json_body(&headers, &body)?;
    api.clean_body(&mut body);
    if let Some(made) = api.create(&state, &ident, None, &body).await? {
        return Ok(made);
    }
    create_object(&state, &ident, res, body).await
}

pub async fn retrieve(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let res = resource(&key)?;
    let row = fetch_visible(&state, &ident.actor, res, &raw).await?;
    Ok(Json(
        Renderer::new(&state, &ident.actor)
            .render(res, &row)
            .await?,
    ))
}

pub(crate) async fn update(
    state: &AppState,
    ident: &crate::Identity,
    key: &str,
    raw: &str,
    body: Value,
    mode: Mode,
) -> ApiResult<Json<Value>> {
    let res = resource(key)?;
    if res.read_only_api {
        let m = if mode == Mode::Patch { "PATCH" } else { "PUT" };
        return Err(ApiError::MethodNotAllowed(m.into()));
    }
    let actor = &ident.actor;
    let api = state.api(res);
    let existing = fetch_visible(state, actor, res, raw).await?;
    let mut r = Renderer::new(state, actor);
    if !api.can_change(&mut r, &existing).await? {
        return Err(ApiError::forbidden());
    }
    let mut row = validate(res, &body, mode).map_err(ApiError::Fields)?;
    check_references(state, actor, res, &row).await?;
    api.prepare(state, ident, &mut row, Some(&existing)).await?;
    // Moving an object to another organization needs rights there too.
    let mut merged = existing.clone();
    merged.extend(row.clone());
    if !api.can_change(&mut r, &merged).await? {
        return Err(ApiError::forbidden());
    }
    let id = existing["id"].as_i64().unwrap_or_default();
    row.insert("modified_by".into(), json!(actor.user_id));
    write::update(state, ident, res, id, &row)
        .await
        .map_err(|e| db_write_error(res, e))?;
    api.saved(state, ident, id, Some(&existing)).await?;
    let stored = state.store.get(res, id).await?;
    Ok(Json(
        Renderer::new(state, actor).render(res, &stored).await?,
    ))
}

pub async fn replace(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = json_body(&headers, &body)?;
    update(&state, &ident, &key, &raw, body, Mode::Replace).await
}

pub async fn patch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = json_body(&headers, &body)?;
    update(&state, &ident, &key, &raw, body, Mode::Patch).await
}

pub async fn destroy(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let res = resource(&key)?;
    let api = state.api(res);
    let existing = fetch_visible(&state, &ident.actor, res, &raw).await?;
    if !api
        .can_delete(&mut Renderer::new(&state, &ident.actor), &existing)
        .await?
    {
        return Err(ApiError::forbidden());
    }
    let id = existing["id"].as_i64().unwrap_or_default();
    api.before_delete(&state, &ident, &existing).await?;
    if let Some(column) = api.used_by_jobs_as() {
        let active = rawx_domain::launch::active_jobs_using(&*state.store, column, id).await?;
        if !active.is_empty() {
            let jobs: Vec<Value> = active
                .iter()
                .map(|id| json!({"type": "job", "id": id}))
                .collect();
            return Err(ApiError::Status(
                StatusCode::CONFLICT,
                json!({"error": "Resource is being used by running jobs.", "active_jobs": jobs}),
            ));
        }
    }
    match write::delete(&state, &ident, res, id).await {
        Ok(()) => {
            api.deleted(&state, &existing);
            Ok(StatusCode::NO_CONTENT)
        }
        Err(DbError::ForeignKey(_)) => Err(api.in_use()),
        Err(e) => Err(e.into()),
    }
}

/// The filter selecting the members of a sub-list of `parent`.
fn sub_filter(parent: &Resource, list: SubList, parent_id: i64) -> (&'static Resource, Filter) {
    match list {
        SubList::Activity => (
            &rawx_model::resources::ACTIVITY_STREAM,
            rawx_model::resources::activity_of(parent, parent_id),
        ),
        SubList::Children { resource, fk } => {
            let child = by_key(resource).expect("child resource");
            (child, Filter::eq(fk, ColumnType::Int, json!(parent_id)))
        }
        SubList::Linked {
            relation,
            from_left,
        } => {
            let other = by_key(if from_left {
                relation.right.0
            } else {
                relation.left.0
            })
            .expect("linked resource");
            let f = Filter::On {
                path: vec![Step::Link {
                    relation,
                    from_left: !from_left,
                }],
                column: "id",
                ctype: ColumnType::Int,
                cond: Cond::In(vec![json!(parent_id)]),
            };
            (other, f)
        }
        SubList::Role {
            content_type,
            role_field,
            on_object: true,
        } => (
            &rawx_model::resources::USERS,
            rbac::holders_of(content_type, role_field, parent_id),
        ),
        SubList::Role {
            content_type,
            role_field,
            on_object: false,
        } => (
            by_key(content_type).expect("role content type"),
            rbac::directly_held(content_type, role_field, parent_id),
        ),
    }
}

async fn sub_parts(
    state: &AppState,
    actor: &Actor,
    key: &str,
    raw: &str,
    sub: &str,
) -> ApiResult<(&'static Resource, Row, &'static rawx_model::schema::Sub)> {
    let res = resource(key)?;
    let sub = res.sub(sub).ok_or(ApiError::NotFound)?;
    let parent = fetch_visible(state, actor, res, raw).await?;
    if let SubList::Children { resource, .. } = sub.list {
        if !state.api_of(resource).may_list_under(actor, &parent) {
            return Err(ApiError::forbidden());
        }
    }
    Ok((res, parent, sub))
}

pub async fn sub_list(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw, sub)): Path<(String, String, String)>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let (res, parent, sub) = sub_parts(&state, &ident.actor, &key, &raw, &sub).await?;
    let (target, f) = sub_filter(res, sub.list, parent["id"].as_i64().unwrap_or_default());
    page_response(&state, &ident.actor, target, f, &uri, &q).await
}

pub async fn sub_options(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw, sub)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let res = resource(&key)?;
    let sub = res.sub(&sub).ok_or(ApiError::NotFound)?;
    let (target, _) = sub_filter(res, sub.list, 0);
    let may = match fetch_visible(&state, &ident.actor, res, &raw).await {
        Ok(parent) => {
            state
                .api(res)
                .can_change(&mut Renderer::new(&state, &ident.actor), &parent)
                .await?
        }
        Err(ApiError::NotFound) => false,
        Err(e) => return Err(e),
    };
    Ok(match sub.list {
        SubList::Linked { .. } | SubList::Role { .. } => options::attach_list(target, may),
        SubList::Children { .. } => options::list(target, may),
        SubList::Activity => options::list(target, false),
    })
}

pub async fn sub_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path((key, raw, sub)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let (res, parent, sub) = sub_parts(&state, actor, &key, &raw, &sub).await?;
    let parent_id = parent["id"].as_i64().unwrap_or_default();
    let mut body = json_body(&headers, &body)?;
    match sub.list {
        SubList::Activity => Err(ApiError::MethodNotAllowed("POST".into())),
        SubList::Children { resource, fk } => {
            let child = by_key(resource).expect("child resource");
            let api = state.api(child);
            api.clean_body(&mut body);
            if let Some(obj) = body.as_object_mut() {
                obj.insert(fk.into(), json!(parent_id));
            }
            if let Some(made) = api.create(&state, &ident, Some(&parent), &body).await? {
                return Ok(made);
            }
            create_object(&state, &ident, child, body).await
        }
        SubList::Linked {
            relation,
            from_left,
        } => {
            let other = by_key(if from_left {
                relation.right.0
            } else {
                relation.left.0
            })
            .expect("linked");
            if body.get("id").is_none() {
                return create_and_link(&state, &ident, res, &parent, relation, from_left, body)
                    .await;
            }
            let other_id = body["id"]
                .as_i64()
                .ok_or_else(|| ApiError::Msg("\"id\" must be an integer.".into()))?;
            let other_row = fetch_visible(&state, actor, other, &other_id.to_string())
                .await
                .map_err(|e| match e {
                    ApiError::NotFound | ApiError::Forbidden(_) => ApiError::Msg(format!(
                        "{} with id {other_id} does not exist.",
                        other.verbose
                    )),
                    e => e,
                })?;
            // The owning side (the relation's left: organization, team, group, template)
            // decides who may change its members.
            let (owner_res, owner_row) = if from_left {
                (res, &parent)
            } else {
                (other, &other_row)
            };
            if !state
                .api(owner_res)
                .can_attach(
                    &mut Renderer::new(&state, actor),
                    owner_row,
                    relation,
                    Some(if from_left { &other_row } else { &parent }),
                )
                .await?
            {
                return Err(ApiError::forbidden());
            }
            let (left, right) = if from_left {
                (parent_id, other_id)
            } else {
                (other_id, parent_id)
            };
            check_link(&state, relation, left, right).await?;
            write::link(&state, &ident, relation, left, right, !disassociate(&body)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        SubList::Role {
            content_type,
            role_field,
            on_object,
        } => {
            let (target, _) = sub_filter(res, sub.list, parent_id);
            if on_object && body.get("id").is_none() {
                // A new user made and granted in one request (`/organizations/N/users/`),
                // all or nothing.
                let (id, made) = create_row(&state, &ident, target, body).await?;
                let role =
                    rawx_domain::roles::role_of(&*state.store, content_type, parent_id, role_field)
                        .await?
                        .ok_or(ApiError::NotFound)?;
                let role_row = state.store.get(&ROLES, role).await?;
                let user_row = state.store.get(target, id).await?;
                if let Err(e) = grant_user(&state, &ident, &role_row, &user_row, true).await {
                    write::delete(&state, &ident, target, id).await?;
                    return Err(e);
                }
                return Ok(created(target, id, made));
            }
            let other_id = body["id"].as_i64().ok_or_else(|| {
                ApiError::Msg(format!(
                    "Send {{\"id\": N}} to associate an existing {} (add \"disassociate\": true to remove it).",
                    target.verbose.to_lowercase()
                ))
            })?;
            let other_row = fetch_visible(&state, actor, target, &other_id.to_string())
                .await
                .map_err(|e| match e {
                    ApiError::NotFound | ApiError::Forbidden(_) => ApiError::Msg(format!(
                        "{} with id {other_id} does not exist.",
                        target.verbose
                    )),
                    e => e,
                })?;
            let (object, user_row) = if on_object {
                (parent_id, &other_row)
            } else {
                (other_id, &parent)
            };
            let role = rawx_domain::roles::role_of(&*state.store, content_type, object, role_field)
                .await?
                .ok_or(ApiError::NotFound)?;
            let role_row = state.store.get(&ROLES, role).await?;
            grant_user(&state, &ident, &role_row, user_row, !disassociate(&body)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

fn disassociate(body: &Value) -> bool {
    body.get("disassociate")
        .is_some_and(|v| v.as_bool() != Some(false))
}

/// Grants a role to a user or revokes it, if the caller may (`RoleAccess.can_attach`, asked
/// of the roles' `ResourceApi`).
pub(crate) async fn grant_user(
    state: &AppState,
    ident: &crate::Identity,
    role: &Row,
    user: &Row,
    on: bool,
) -> ApiResult<()> {
    let relation = &rawx_model::resources::ROLE_USERS;
    if !state
        .api(&ROLES)
        .can_attach(
            &mut Renderer::new(state, &ident.actor),
            role,
            relation,
            Some(user),
        )
        .await?
    {
        return Err(ApiError::forbidden());
    }
    let (r, u) = (
        role["id"].as_i64().unwrap_or_default(),
        user["id"].as_i64().unwrap_or_default(),
    );
    write::link(state, ident, relation, r, u, on).await?;
    Ok(())
}

/// POST of a new object to a linked sub-list (`/groups/N/hosts/ {"name": …}`): AWX creates it
/// and links it in one request. Only the owning side may do this, and a refused link removes
/// the object again, so the request writes all or nothing.
async fn create_and_link(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    parent: &Row,
    relation: &'static rawx_model::Relation,
    from_left: bool,
    mut body: Value,
) -> ApiResult<Response> {
    let other = by_key(if from_left {
        relation.right.0
    } else {
        relation.left.0
    })
    .expect("linked");
    if !from_left {
        return Err(ApiError::Msg(format!(
            "Send {{\"id\": N}} to associate an existing {} (add \"disassociate\": true to remove it).",
            other.verbose.to_lowercase()
        )));
    }
    if !state
        .api(res)
        .can_attach(
            &mut Renderer::new(state, &ident.actor),
            parent,
            relation,
            None,
        )
        .await?
    {
        return Err(ApiError::forbidden());
    }
    // AWX's `EnforceParentRelationshipMixin`: hosts and groups made under a group belong to
    // the group's inventory, nodes made under a node to its workflow.
    for owner in ["inventory", "workflow_job_template"] {
        if let (Some(obj), Some(v)) = (body.as_object_mut(), parent.get(owner)) {
            if other.field(owner).is_some() && !obj.contains_key(owner) {
                obj.insert(owner.into(), v.clone());
            }
        }
    }
    let (id, made) = create_row(state, ident, other, body).await?;
    let parent_id = parent["id"].as_i64().unwrap_or_default();
    let linked = match check_link(state, relation, parent_id, id).await {
        Ok(()) => write::link(state, ident, relation, parent_id, id, true)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = linked {
        write::delete(state, ident, other, id).await?;
        return Err(e);
    }
    Ok(created(other, id, made))
}

/// A link's own rules, asked of the relation's owning (left) side.
async fn check_link(
    state: &AppState,
    relation: &'static Relation,
    left: i64,
    right: i64,
) -> ApiResult<()> {
    state
        .api_of(relation.left.0)
        .check_link(state, relation, left, right)
        .await
}
