//! AWX's views over an inventory's structure (`awx/api/views/__init__.py`): a smart
//! inventory's hosts answered from its `host_filter`, `/hosts/?host_filter=`,
//! `/inventories/N/script/` (`Inventory.get_script_data`), `/tree/`, `/root_groups/`,
//! `/groups/N/all_hosts/` and `/potential_children/`, `/hosts/N/all_groups/`,
//! `/smart_inventories/` and `/ansible_facts/`, and the three `variable_data` endpoints
//! (JSON or YAML both ways, `BaseVariableData`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{self, fetch_visible, json_body, page_response, page_response_as};
use crate::resource::Routes;
use crate::view::Renderer;
use crate::{write, AppState};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use rawx_model::filter::{Cond, Filter, Step};
use rawx_model::resources::{GROUPS, GROUP_CHILDREN, GROUP_HOSTS, HOSTS, INVENTORIES};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::smart::SmartError;
use rawx_model::validate::parse_vars;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

fn id_in(ids: impl IntoIterator<Item = i64>) -> Filter {
    Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(ids.into_iter().map(|i| json!(i)).collect()),
    }
}

/// A `host_filter` refused, as the inventory serializer words it.
pub(crate) fn host_filter_error(e: SmartError) -> ApiError {
    match e {
        SmartError::Syntax(_) => ApiError::field("host_filter", e.to_string()),
        // `ValidationError({'host_filter': …})` raised inside the field's validator.
        SmartError::FactsLookup(_) => ApiError::Status(
            StatusCode::BAD_REQUEST,
            json!({"host_filter": {"host_filter": [e.to_string()]}}),
        ),
        SmartError::Query(q) => q.into(),
    }
}

/// The hosts of a smart inventory (`None` for other kinds): its filter within its
/// organization, one per name.
pub(crate) fn smart_hosts(inv: &Row) -> Option<ApiResult<Filter>> {
    if text(inv, "kind") != "smart" {
        return None;
    }
    let hf = inv.get("host_filter").and_then(Value::as_str).unwrap_or("");
    if hf.is_empty() {
        return Some(Ok(Filter::Any(vec![])));
    }
    Some(
        rawx_model::smart::inventory_hosts(hf, int(inv, "organization")).map_err(host_filter_error),
    )
}

/// The hosts an inventory answers with, whatever its kind.
pub(crate) fn hosts_of(inv: &Row) -> ApiResult<Filter> {
    smart_hosts(inv).unwrap_or_else(|| {
        Ok(Filter::eq(
            "inventory",
            ColumnType::Int,
            json!(int(inv, "id").unwrap_or_default()),
        ))
    })
}

fn params(raw: &Option<String>) -> HashMap<String, String> {
    raw.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Python's `bool(request.query_params.get(name, ''))`: any non-empty value is true.
fn flag(p: &HashMap<String, String>, name: &str) -> bool {
    p.get(name).is_some_and(|v| !v.is_empty())
}

fn vars_of(row: &Row) -> Map<String, Value> {
    parse_vars(text(row, "variables")).unwrap_or_default()
}

/// Groups reached from `start` along `GROUP_CHILDREN`: its descendants (`down`) or ancestors.
async fn reach(state: &AppState, start: &[i64], down: bool) -> ApiResult<BTreeSet<i64>> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<i64> = start.to_vec();
    while let Some(g) = todo.pop() {
        for next in state.store.linked(&GROUP_CHILDREN, down, g).await? {
            if seen.insert(next) {
                todo.push(next);
            }
        }
    }
    Ok(seen)
}

// ---- inventories ----

async fn inventory_hosts(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    match smart_hosts(&inv) {
        // AWX's `InventoryHostsList` does not filter by the hosts' own read permission.
        Some(f) => Ok(
            page_response_as(&state, &ident.actor, &HOSTS, f?, &uri, &q, false)
                .await?
                .into_response(),
        ),
        None => Ok(handlers::sub_list(
            State(state),
            Auth(ident),
            Path(("inventories".into(), raw, "hosts".into())),
            uri,
            RawQuery(q),
        )
        .await?
        .into_response()),
    }
}

/// Groups of the inventory that are no other group's child (`Inventory.root_groups`).
fn root_groups(inv_id: i64) -> Filter {
    let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inv_id));
    let has_parent = Filter::On {
        path: vec![Step::Link {
            relation: &GROUP_CHILDREN,
            from_left: false,
        }],
        column: "inventory",
        ctype: ColumnType::Int,
        cond: Cond::In(vec![json!(inv_id)]),
    };
    by_inv.and(Filter::Not(Box::new(has_parent)))
}

async fn inventory_root_groups(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    let f = if smart_hosts(&inv).is_some() {
        Filter::Any(vec![])
    } else {
        root_groups(int(&inv, "id").unwrap_or_default())
    };
    page_response(&state, &ident.actor, &GROUPS, f, &uri, &q).await
}

/// `/inventories/N/script/`: AWX's `get_script_data` (`?hostvars=1`, `?towervars=1`,
/// `?all=1`), or one host's variables (`?host=NAME`).
async fn inventory_script(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    let p = params(&q);
    let show_all = flag(&p, "all");
    if let Some(subset) = p.get("subset").filter(|s| !s.is_empty()) {
        if !subset.starts_with("slice") {
            return Err(ApiError::BadRequest(
                "Subset does not use any supported syntax.".into(),
            ));
        }
    }
    let mut hosts_f = hosts_of(&inv)?;
    if !show_all {
        hosts_f = hosts_f.and(Filter::eq("enabled", ColumnType::Bool, json!(true)));
    }
    if let Some(name) = p.get("host").filter(|h| !h.is_empty()) {
        let f = hosts_f.and(Filter::eq("name", ColumnType::Text, json!(name)));
        let host = state
            .store
            .find(&HOSTS, &f)
            .await?
            .ok_or(ApiError::NotFound)?;
        return Ok(Json(Value::Object(vars_of(&host))));
    }
    let data = script_data(
        &state,
        &inv,
        hosts_f,
        flag(&p, "hostvars"),
        flag(&p, "towervars"),
    )
    .await?;
    Ok(Json(data))
}

pub(crate) async fn script_data(
    state: &AppState,
    inv: &Row,
    hosts_f: Filter,
    hostvars: bool,
    towervars: bool,
) -> ApiResult<Value> {
    let inv_id = int(inv, "id").unwrap_or_default();
    // Only what the script shows: a host row also carries its facts.
    let hosts = state
        .store
        .project(
            &HOSTS,
            &hosts_f,
            &["id", "name", "variables", "enabled"],
            &[("name", false), ("id", false)],
        )
        .await?;
    let mut data = Map::new();
    let mut all = Map::new();
    let inv_vars = vars_of(inv);
    if !inv_vars.is_empty() {
        all.insert("vars".into(), Value::Object(inv_vars));
    }
    if text(inv, "kind") == "smart" {
        all.insert(
            "hosts".into(),
            json!(hosts.iter().map(|h| text(h, "name")).collect::<Vec<_>>()),
        );
    } else {
        let names: HashMap<i64, &str> = hosts
            .iter()
            .filter_map(|h| Some((int(h, "id")?, text(h, "name"))))
            .collect();
        let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inv_id));
        let groups = state
            .store
            .list_all(&GROUPS, &by_inv, &[("name", false), ("id", false)])
            .await?;
        let group_names: HashMap<i64, &str> = groups
            .iter()
            .filter_map(|g| Some((int(g, "id")?, text(g, "name"))))
            .collect();
        let mut grouped = HashSet::new();
        let mut all_names = Vec::new();
        for g in &groups {
            let gid = int(g, "id").unwrap_or_default();
            let mut info = Map::new();
            let mut members: Vec<&str> = state
                .store
                .linked(&GROUP_HOSTS, true, gid)
                .await?
                .into_iter()
                .filter_map(|h| names.get(&h).copied())
                .collect();
            members.sort_unstable();
            if !members.is_empty() {
                grouped.extend(members.iter().copied());
                info.insert("hosts".into(), json!(members));
            }
            let mut children: Vec<&str> = state
                .store
                .linked(&GROUP_CHILDREN, true, gid)
                .await?
                .into_iter()
                .filter_map(|c| group_names.get(&c).copied())
                .collect();
            children.sort_unstable();
            if !children.is_empty() {
                info.insert("children".into(), json!(children));
            }
            let gv = vars_of(g);
            if !gv.is_empty() {
                info.insert("vars".into(), Value::Object(gv));
            }
            if !info.is_empty() {
                data.insert(text(g, "name").into(), Value::Object(info));
            }
            all_names.push(text(g, "name"));
        }
        let ungrouped: Vec<&str> = hosts
            .iter()
            .map(|h| text(h, "name"))
            .filter(|n| !grouped.contains(n))
            .collect();
        all.insert("hosts".into(), json!(ungrouped));
        if !all_names.is_empty() {
            all.insert("children".into(), json!(all_names));
        }
    }
    data.insert("all".into(), Value::Object(all));
    if hostvars {
        let mut hv = Map::new();
        for h in &hosts {
            let mut v = vars_of(h);
            if towervars {
                let enabled = h.get("enabled") != Some(&json!(false));
                for prefix in ["host", "tower"] {
                    v.insert(
                        format!("remote_{prefix}_enabled"),
                        json!(enabled.to_string()),
                    );
                    v.insert(format!("remote_{prefix}_id"), h["id"].clone());
                }
            }
            hv.insert(text(h, "name").into(), Value::Object(v));
        }
        data.insert("_meta".into(), json!({ "hostvars": hv }));
    }
    Ok(Value::Object(data))
}

/// `/inventories/N/tree/`: the root groups by name, each as the group's own JSON with its
/// `children` nested the same way.
async fn inventory_tree(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    let inv_id = int(&inv, "id").unwrap_or_default();
    let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inv_id));
    let groups = state
        .store
        .list_all(&GROUPS, &by_inv, &[("name", false), ("id", false)])
        .await?;
    let mut r = Renderer::new(&state, &ident.actor);
    let mut rendered: BTreeMap<i64, (String, Value)> = BTreeMap::new();
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for g in &groups {
        let gid = int(g, "id").unwrap_or_default();
        rendered.insert(
            gid,
            (text(g, "name").to_string(), r.render(&GROUPS, g).await?),
        );
        children.insert(gid, state.store.linked(&GROUP_CHILDREN, true, gid).await?);
    }
    let roots = state
        .store
        .list_all(
            &GROUPS,
            &root_groups(inv_id),
            &[("name", false), ("id", false)],
        )
        .await?;
    fn build(
        gid: i64,
        rendered: &BTreeMap<i64, (String, Value)>,
        children: &HashMap<i64, Vec<i64>>,
        path: &mut Vec<i64>,
    ) -> Value {
        let Some((_, v)) = rendered.get(&gid) else {
            return Value::Null;
        };
        let mut v = v.clone();
        let mut kids: Vec<i64> = children
            .get(&gid)
            .map(|k| {
                k.iter()
                    .copied()
                    .filter(|k| rendered.contains_key(k))
                    .collect()
            })
            .unwrap_or_default();
        kids.sort_by(|a, b| rendered[a].0.cmp(&rendered[b].0));
        path.push(gid);
        let mut nested = Vec::new();
        for k in kids {
            // A cycle (which the API refuses to make) would not end.
            if !path.contains(&k) {
                nested.push(build(k, rendered, children, path));
            }
        }
        path.pop();
        v["children"] = Value::Array(nested);
        v
    }
    let tree: Vec<Value> = roots
        .iter()
        .filter_map(|g| int(g, "id"))
        .map(|gid| build(gid, &rendered, &children, &mut Vec::new()))
        .collect();
    Ok(Json(Value::Array(tree)))
}

// ---- groups ----

async fn group_all_hosts(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let g = fetch_visible(&state, &ident.actor, &GROUPS, &raw).await?;
    let gid = int(&g, "id").unwrap_or_default();
    let mut groups = reach(&state, &[gid], true).await?;
    groups.insert(gid);
    let f = Filter::On {
        path: vec![Step::Link {
            relation: &GROUP_HOSTS,
            from_left: false,
        }],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(groups.into_iter().map(|i| json!(i)).collect()),
    };
    page_response(&state, &ident.actor, &HOSTS, f, &uri, &q).await
}

async fn group_potential_children(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let g = fetch_visible(&state, &ident.actor, &GROUPS, &raw).await?;
    let gid = int(&g, "id").unwrap_or_default();
    let mut except = reach(&state, &[gid], true).await?;
    except.extend(reach(&state, &[gid], false).await?);
    except.insert(gid);
    let f = Filter::eq("inventory", ColumnType::Int, g["inventory"].clone())
        .and(Filter::Not(Box::new(id_in(except))));
    page_response(&state, &ident.actor, &GROUPS, f, &uri, &q).await
}

// ---- hosts ----

/// `/hosts/?host_filter=…` (AWX's `HostList`): the filter on top of the usual list; a
/// filter that does not parse answers 400 `{"error": …}`.
async fn host_list(
    state: Ctx,
    auth: Auth,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = params(&q);
    let Some(hf) = p.get("host_filter").filter(|h| !h.is_empty()) else {
        return Ok(
            handlers::list(state, auth, Path("hosts".into()), uri, RawQuery(q))
                .await?
                .into_response(),
        );
    };
    let f = match rawx_model::smart::parse(hf) {
        Ok(f) => f,
        Err(e) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            )
                .into_response())
        }
    };
    let (State(state), Auth(ident)) = (state, auth);
    // Spans across links (`groups__name=`) would repeat a host; the list is of distinct ones.
    let distinct = Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::InSelect {
            table: HOSTS.key,
            column: "id",
            filter: Box::new(f),
        },
    };
    Ok(
        page_response(&state, &ident.actor, &HOSTS, distinct, &uri, &q)
            .await?
            .into_response(),
    )
}

async fn host_create(
    state: Ctx,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    handlers::create(state, auth, Path("hosts".into()), headers, body).await
}

async fn host_list_options(state: Ctx, auth: Auth) -> ApiResult<Response> {
    handlers::list_options(state, auth, Path("hosts".into())).await
}

async fn host_all_groups(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let h = fetch_visible(&state, &ident.actor, &HOSTS, &raw).await?;
    let hid = int(&h, "id").unwrap_or_default();
    let direct = state.store.linked(&GROUP_HOSTS, false, hid).await?;
    let mut groups = reach(&state, &direct, false).await?;
    groups.extend(direct);
    page_response(&state, &ident.actor, &GROUPS, id_in(groups), &uri, &q).await
}

/// The smart inventories whose filter takes this host (AWX keeps them in
/// `SmartInventoryMembership`, refreshed after changes; here they are asked of each filter).
pub(crate) async fn smart_inventories_of(state: &AppState, host: &Row) -> ApiResult<Vec<i64>> {
    let hid = int(host, "id").unwrap_or_default();
    let Some(inv) = state
        .store
        .find(
            &INVENTORIES,
            &Filter::eq("id", ColumnType::Int, host["inventory"].clone()),
        )
        .await?
    else {
        return Ok(Vec::new());
    };
    let smart = Filter::eq("kind", ColumnType::Text, json!("smart")).and(Filter::eq(
        "organization",
        ColumnType::Int,
        inv["organization"].clone(),
    ));
    let mut out = Vec::new();
    for s in state
        .store
        .list_all(&INVENTORIES, &smart, &[("id", false)])
        .await?
    {
        let Some(Ok(f)) = smart_hosts(&s) else {
            continue;
        };
        let one = f.and(Filter::eq("id", ColumnType::Int, json!(hid)));
        if state.store.count(&HOSTS, &one).await? > 0 {
            out.push(int(&s, "id").unwrap_or_default());
        }
    }
    Ok(out)
}

async fn host_smart_inventories(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let h = fetch_visible(&state, &ident.actor, &HOSTS, &raw).await?;
    let ids = smart_inventories_of(&state, &h).await?;
    page_response(&state, &ident.actor, &INVENTORIES, id_in(ids), &uri, &q).await
}

/// `/hosts/N/ansible_facts/`: the facts the last job with a fact cache stored.
async fn host_ansible_facts(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let h = fetch_visible(&state, &ident.actor, &HOSTS, &raw).await?;
    let facts = match h.get("ansible_facts") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    };
    Ok(Json(facts))
}

// ---- variable_data ----

/// Whether the client asked for YAML (`?format=yaml`, or `Accept` naming YAML before JSON).
fn wants_yaml(headers: &HeaderMap, q: &Option<String>) -> bool {
    let p = params(q);
    if let Some(f) = p.get("format") {
        return f == "yaml";
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (accept.find("yaml"), accept.find("json")) {
        (Some(y), Some(j)) => y < j,
        (Some(_), None) => true,
        _ => false,
    }
}

fn vars_response(vars: Map<String, Value>, yaml: bool) -> ApiResult<Response> {
    if !yaml {
        return Ok(Json(Value::Object(vars)).into_response());
    }
    let text = serde_norway::to_string(&Value::Object(vars))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], text).into_response())
}

async fn variable_data_get(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    raw: &str,
    headers: &HeaderMap,
    q: &Option<String>,
) -> ApiResult<Response> {
    let row = fetch_visible(state, &ident.actor, res, raw).await?;
    vars_response(vars_of(&row), wants_yaml(headers, q))
}

/// PUT and PATCH alike replace the variables with the body (AWX's serializer stores
/// `json.dumps(data)`), sent as JSON or YAML.
async fn variable_data_put(
    state: &AppState,
    ident: &crate::Identity,
    res: &'static Resource,
    raw: &str,
    headers: &HeaderMap,
    q: &Option<String>,
    body: &Bytes,
) -> ApiResult<Response> {
    let row = fetch_visible(state, &ident.actor, res, raw).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let data: Value = if ct.contains("yaml") {
        if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_norway::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("YAML parse error - {e}")))?
        }
    } else {
        json_body(headers, body)?
    };
    let vars = match data {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            let kind = match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Bool(_) => "bool",
                Value::Number(n) if n.is_f64() => "float",
                _ => "int",
            };
            return Err(ApiError::field(
                "variables",
                format!("Input type `{kind}` is not a dictionary"),
            ));
        }
    };
    let api = state.api(res);
    let mut changed = row.clone();
    let stored = Value::Object(vars.clone()).to_string();
    changed.insert("variables".into(), json!(stored));
    if !api
        .can_change(&mut Renderer::new(state, &ident.actor), &changed)
        .await?
    {
        return Err(ApiError::forbidden());
    }
    let mut update = Row::new();
    update.insert("variables".into(), json!(stored));
    update.insert("modified_by".into(), json!(ident.actor.user_id));
    let id = int(&row, "id").unwrap_or_default();
    write::update(state, ident, res, id, &update)
        .await
        .map_err(|e| handlers::db_write_error(res, e))?;
    vars_response(vars, wants_yaml(headers, q))
}

fn variable_data_route(res: &'static Resource, path: &'static str) -> Routes {
    let put = move |State(state): Ctx,
                    Auth(ident): Auth,
                    Path(raw): Path<String>,
                    RawQuery(q): RawQuery,
                    headers: HeaderMap,
                    body: Bytes| async move {
        variable_data_put(&state, &ident, res, &raw, &headers, &q, &body).await
    };
    vec![(
        path,
        get(
            move |State(state): Ctx,
                  Auth(ident): Auth,
                  Path(raw): Path<String>,
                  RawQuery(q): RawQuery,
                  headers: HeaderMap| async move {
                variable_data_get(&state, &ident, res, &raw, &headers, &q).await
            },
        )
        .put(put)
        .patch(put),
    )]
}

/// POST and OPTIONS of a view whose GET lists its own way: those of the generic sub-list
/// `/inventories/N/<sub>/` (create there, or associate).
fn as_sub_list(
    route: MethodRouter<Arc<AppState>>,
    sub: &'static str,
) -> MethodRouter<Arc<AppState>> {
    route
        .post(
            move |s: Ctx, a: Auth, Path(raw): Path<String>, h: HeaderMap, b: Bytes| {
                handlers::sub_post(s, a, Path(("inventories".into(), raw, sub.into())), h, b)
            },
        )
        .options(move |s: Ctx, a: Auth, Path(raw): Path<String>| {
            handlers::sub_options(s, a, Path(("inventories".into(), raw, sub.into())))
        })
}

/// The inventory's routes.
pub(crate) fn inventory_routes() -> Routes {
    let mut r: Routes = vec![
        (
            "/api/v2/inventories/{id}/hosts/",
            as_sub_list(get(inventory_hosts), "hosts"),
        ),
        (
            "/api/v2/inventories/{id}/root_groups/",
            as_sub_list(get(inventory_root_groups), "groups"),
        ),
        ("/api/v2/inventories/{id}/script/", get(inventory_script)),
        ("/api/v2/inventories/{id}/tree/", get(inventory_tree)),
    ];
    r.extend(variable_data_route(
        &INVENTORIES,
        "/api/v2/inventories/{id}/variable_data/",
    ));
    r
}

/// A group's routes.
pub(crate) fn group_routes() -> Routes {
    let mut r: Routes = vec![
        ("/api/v2/groups/{id}/all_hosts/", get(group_all_hosts)),
        (
            "/api/v2/groups/{id}/potential_children/",
            get(group_potential_children),
        ),
    ];
    r.extend(variable_data_route(
        &GROUPS,
        "/api/v2/groups/{id}/variable_data/",
    ));
    r
}

/// A host's routes.
pub(crate) fn host_routes() -> Routes {
    let mut r: Routes = vec![
        (
            "/api/v2/hosts/",
            get(host_list).post(host_create).options(host_list_options),
        ),
        ("/api/v2/hosts/{id}/all_groups/", get(host_all_groups)),
        (
            "/api/v2/hosts/{id}/smart_inventories/",
            get(host_smart_inventories),
        ),
        ("/api/v2/hosts/{id}/ansible_facts/", get(host_ansible_facts)),
    ];
    r.extend(variable_data_route(
        &HOSTS,
        "/api/v2/hosts/{id}/variable_data/",
    ));
    r
}

fn link(res: &Resource, row: &Row, related: &mut Map<String, Value>, names: &[&str]) {
    let id = int(row, "id").unwrap_or_default();
    for name in names {
        related.insert(
            (*name).into(),
            json!(format!("/api/v2/{}/{id}/{name}/", res.key)),
        );
    }
}

/// The links AWX's `InventorySerializer` adds (a smart inventory has no groups, root groups
/// or tree).
pub(crate) fn inventory_related(row: &Row, related: &mut Map<String, Value>) {
    link(&INVENTORIES, row, related, &["variable_data", "script"]);
    if text(row, "kind") == "smart" {
        related.remove("groups");
    } else {
        link(&INVENTORIES, row, related, &["root_groups", "tree"]);
    }
}

/// The links AWX's `GroupSerializer` adds.
pub(crate) fn group_related(row: &Row, related: &mut Map<String, Value>) {
    link(
        &GROUPS,
        row,
        related,
        &["variable_data", "all_hosts", "potential_children"],
    );
}

/// The links AWX's `HostSerializer` adds.
pub(crate) fn host_related(row: &Row, related: &mut Map<String, Value>) {
    link(
        &HOSTS,
        row,
        related,
        &[
            "variable_data",
            "all_groups",
            "smart_inventories",
            "ansible_facts",
        ],
    );
}
