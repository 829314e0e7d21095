//! `…/N/copy/`, AWX's `CopyAPIView` (awx/api/generics.py), shared by the resources AWX copies:
//! GET answers `{"can_copy": …}`, POST `{"name": …}` makes the copy. What is copied follows
//! AWX's `copy_model_obj`: the object's writable fields (secrets as stored, still sealed with
//! this installation's key), less the model's `FIELDS_TO_DISCARD_AT_COPY`, a null foreign key
//! left out; the many-to-many links of its `FIELDS_TO_PRESERVE_AT_COPY`; for an inventory its
//! hosts and groups with their memberships (AWX copies those in a background task; here they
//! are copied before the answer). The caller must be able to create the copy (`can_add` of
//! the same fields), as AWX's `can_access(model, 'add', create_kwargs)` asks.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{created, db_write_error, fetch_visible, json_body};
use crate::resource::Routes;
use crate::view::Renderer;
use crate::{write, AppState, Identity};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::{GROUPS, GROUP_CHILDREN, GROUP_HOSTS, HOSTS};
use rawx_model::schema::{ColumnType, Kind, Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// How one resource is copied.
pub struct CopySpec {
    pub res: &'static Resource,
    /// Its route, `/api/v2/<key>/{id}/copy/`.
    pub path: &'static str,
    /// `FIELDS_TO_DISCARD_AT_COPY`.
    pub discard: &'static [&'static str],
    /// The many-to-many links of `FIELDS_TO_PRESERVE_AT_COPY` (this resource on the left).
    pub links: &'static [&'static Relation],
    /// An inventory's `hosts` and `groups` (one-to-many, preserved).
    pub hosts_and_groups: bool,
}

/// The copy route of `spec`.
pub fn routes(spec: &'static CopySpec) -> Routes {
    vec![
        (
            spec.path,
            get(
                move |State(state): State<Arc<AppState>>,
                      Auth(ident): Auth,
                      Path(id): Path<String>| async move {
                    can_copy(&state, &ident, spec, &id).await
                },
            )
            .post(
                move |State(state): State<Arc<AppState>>,
                      Auth(ident): Auth,
                      Path(id): Path<String>,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    copy(&state, &ident, spec, &id, &headers, &body).await
                },
            ),
        ),
    ]
}

/// `related.copy`, which the collection's `copy_from` follows.
pub fn related(spec: &CopySpec, row: &Row, related: &mut serde_json::Map<String, Value>) {
    if let Some(id) = row.get("id").and_then(Value::as_i64) {
        related.insert(
            "copy".into(),
            json!(spec.path.replace("{id}", &id.to_string())),
        );
    }
}

/// The fields a copy takes from `row` (AWX's `_build_create_dict` and `copy_model_obj`).
fn copied_fields(res: &'static Resource, spec: &CopySpec, row: &Row) -> Row {
    let mut out = Row::new();
    for f in res.fields.iter() {
        if f.read_only || f.name == "id" || spec.discard.contains(&f.name) {
            continue;
        }
        if f.internal && !matches!(f.kind, Kind::Fk(_)) {
            // Owner columns stay; hashes and other bookkeeping do not.
            continue;
        }
        match row.get(f.name) {
            None | Some(Value::Null) if matches!(f.kind, Kind::Fk(_)) => {}
            Some(v) => {
                out.insert(f.name.into(), v.clone());
            }
            None => {}
        }
    }
    out
}

/// `can_copy` for `summary_fields.user_capabilities.copy`: may the caller create the copy.
pub(crate) async fn may_copy(
    r: &mut Renderer<'_>,
    spec: &'static CopySpec,
    row: &Row,
) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    let fields = copied_fields(spec.res, spec, row);
    r.state.api(spec.res).can_add(r, &fields).await
}

async fn can_copy(
    state: &AppState,
    ident: &Identity,
    spec: &'static CopySpec,
    raw: &str,
) -> ApiResult<Json<Value>> {
    let row = fetch_visible(state, &ident.actor, spec.res, raw).await?;
    let fields = copied_fields(spec.res, spec, &row);
    let mut r = Renderer::new(state, &ident.actor);
    let ok = !ident.actor.read_only_token && state.api(spec.res).can_add(&mut r, &fields).await?;
    Ok(Json(json!({"can_copy": ok})))
}

async fn copy(
    state: &AppState,
    ident: &Identity,
    spec: &'static CopySpec,
    raw: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let res = spec.res;
    let row = fetch_visible(state, &ident.actor, res, raw).await?;
    let mut fields = copied_fields(res, spec, &row);
    let mut r = Renderer::new(state, &ident.actor);
    if ident.actor.read_only_token || !state.api(res).can_add(&mut r, &fields).await? {
        return Err(ApiError::forbidden());
    }
    // AWX's CopySerializer: a name, not the original's.
    let body = json_body(headers, body)?;
    let name = match body.get("name") {
        None | Some(Value::Null) => return Err(ApiError::field("name", "This field is required.")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(ApiError::field("name", "This field may not be blank."))
        }
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(ApiError::field("name", "Not a valid string.")),
    };
    if row.get("name").and_then(Value::as_str) == Some(name.as_str()) {
        return Err(ApiError::field(
            "non_field_errors",
            format!("The original object is already named {name}, a copy from it cannot have the same name."),
        ));
    }
    fields.insert("name".into(), json!(name));
    fields.insert("created_by".into(), json!(ident.actor.user_id));
    fields.insert("modified_by".into(), json!(ident.actor.user_id));
    let old = row["id"].as_i64().unwrap_or_default();
    let new = write::create(state, ident, res, &fields)
        .await
        .map_err(|e| db_write_error(res, e))?;
    for rel in spec.links {
        for other in state.store.linked(rel, true, old).await? {
            write::link(state, ident, rel, new, other, true).await?;
        }
    }
    if spec.hosts_and_groups {
        copy_hosts_and_groups(state, ident, old, new).await?;
    }
    // What the model's save does next, as for any create (a copied git project updates).
    state.api(res).saved(state, ident, new, None).await?;
    let stored = state.store.get(res, new).await?;
    let out = r.render(res, &stored).await?;
    Ok(created(res, new, out))
}

/// An inventory's hosts and groups (AWX's Host and Group `FIELDS_TO_PRESERVE_AT_COPY`: their
/// own fields, the group's hosts and children), into the copy `new`.
async fn copy_hosts_and_groups(
    state: &AppState,
    ident: &Identity,
    old: i64,
    new: i64,
) -> ApiResult<()> {
    let of_old = Filter::eq("inventory", ColumnType::Int, json!(old));
    let mut ids: HashMap<(&str, i64), i64> = HashMap::new();
    for res in [&HOSTS, &GROUPS] {
        for row in state.store.list_all(res, &of_old, &[("id", false)]).await? {
            let mut copy = Row::new();
            for f in res.fields.iter().filter(|f| !f.read_only && !f.internal) {
                if let Some(v) = row.get(f.name).filter(|v| !v.is_null()) {
                    copy.insert(f.name.into(), v.clone());
                }
            }
            copy.insert("inventory".into(), json!(new));
            copy.insert("created_by".into(), json!(ident.actor.user_id));
            copy.insert("modified_by".into(), json!(ident.actor.user_id));
            let id = write::create(state, ident, res, &copy)
                .await
                .map_err(|e| db_write_error(res, e))?;
            ids.insert((res.key, row["id"].as_i64().unwrap_or_default()), id);
        }
    }
    let groups: Vec<(i64, i64)> = ids
        .iter()
        .filter(|((k, _), _)| *k == GROUPS.key)
        .map(|((_, o), n)| (*o, *n))
        .collect();
    for (old_group, new_group) in groups {
        for (rel, member) in [(&GROUP_HOSTS, HOSTS.key), (&GROUP_CHILDREN, GROUPS.key)] {
            for other in state.store.linked(rel, true, old_group).await? {
                if let Some(n) = ids.get(&(member, other)) {
                    write::link(state, ident, rel, new_group, *n, true).await?;
                }
            }
        }
    }
    Ok(())
}
