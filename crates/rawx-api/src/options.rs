//! OPTIONS metadata as AWX renders it, generated from the same schema that validates requests.
//! The `awx` CLI builds its flags from this: `actions.GET` gives list filters, `actions.POST`
//! create/modify flags; any other key under `actions` would crash it.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::schema::{Field, Kind, Resource};
use serde_json::{json, Map, Value};

fn envelope_meta(res: &Resource) -> Vec<(&'static str, Value)> {
    let v = res.verbose.to_lowercase();
    vec![
        (
            "id",
            json!({"type": "integer", "label": "ID", "help_text": format!("Database ID for this {v}."), "filterable": true}),
        ),
        (
            "type",
            json!({"type": "choice", "label": "Type", "help_text": format!("Data type for this {v}."), "filterable": false, "choices": [[res.type_name, res.verbose]]}),
        ),
        (
            "url",
            json!({"type": "string", "label": "Url", "help_text": format!("URL for this {v}."), "filterable": false}),
        ),
        (
            "related",
            json!({"type": "object", "label": "Related", "help_text": "Data structure with URLs of related resources.", "filterable": false}),
        ),
        (
            "summary_fields",
            json!({"type": "object", "label": "Summary fields", "help_text": "Data structure with name/description for related resources.  The output for some objects may be limited for performance reasons.", "filterable": false}),
        ),
        (
            "created",
            json!({"type": "datetime", "label": "Created", "help_text": format!("Timestamp when this {v} was created."), "filterable": false}),
        ),
        (
            "modified",
            json!({"type": "datetime", "label": "Modified", "help_text": format!("Timestamp when this {v} was last modified."), "filterable": false}),
        ),
    ]
}

pub fn field_meta(f: &Field, write: bool) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(f.kind.meta_type()));
    if write {
        m.insert("required".into(), json!(f.required));
    }
    m.insert("label".into(), json!(f.label));
    if !f.help.is_empty() {
        m.insert("help_text".into(), json!(f.help));
    }
    match f.kind {
        Kind::Str { max } => {
            m.insert("max_length".into(), json!(max));
        }
        Kind::Int { min, max } => {
            if let Some(min) = min {
                m.insert("min_value".into(), json!(min));
            }
            if let Some(max) = max {
                m.insert("max_value".into(), json!(max));
            }
        }
        Kind::Choice(c) => {
            m.insert(
                "choices".into(),
                json!(c.iter().map(|(v, l)| json!([v, l])).collect::<Vec<_>>()),
            );
        }
        Kind::IntChoice(c) => {
            m.insert(
                "choices".into(),
                json!(c.iter().map(|(v, l)| json!([v, l])).collect::<Vec<_>>()),
            );
        }
        _ => {}
    }
    if !write {
        m.insert("filterable".into(), json!(f.kind != Kind::Password));
    } else {
        let d = f.default.value();
        if !d.is_null() {
            m.insert("default".into(), d);
        }
    }
    Value::Object(m)
}

pub fn get_actions(res: &Resource) -> Map<String, Value> {
    let mut get: Map<String, Value> = envelope_meta(res)
        .into_iter()
        .map(|(k, v)| (k.into(), v))
        .collect();
    for f in res.fields.iter().filter(|f| f.shown()) {
        get.insert(f.name.into(), field_meta(f, false));
    }
    get
}

pub fn write_actions(res: &Resource) -> Map<String, Value> {
    res.fields
        .iter()
        .filter(|f| f.writable())
        .map(|f| (f.name.to_string(), field_meta(f, true)))
        .collect()
}

/// `OPTIONS /api/v2/<res>/`: `POST` appears only when the caller may create.
pub fn list(res: &Resource, may_create: bool) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), Value::Object(get_actions(res)));
    if may_create {
        actions.insert("POST".into(), Value::Object(write_actions(res)));
    }
    let allow = if may_create {
        "GET, POST, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    respond(res, "List", actions, allow)
}

/// `OPTIONS` of a sub-list that attaches existing objects (`/groups/N/hosts/`): like `list`,
/// and `POST` also takes the `id` of the object to attach, as AWX says (awxkit's export reads
/// that `id` to write the members as natural keys).
pub fn attach_list(res: &Resource, may_attach: bool) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), Value::Object(get_actions(res)));
    if may_attach {
        let mut post = Map::new();
        post.insert(
            "id".into(),
            json!({"type": "integer", "required": false, "label": "ID",
                   "help_text": format!("Database ID for this {}.", res.verbose.to_lowercase())}),
        );
        post.extend(write_actions(res));
        actions.insert("POST".into(), Value::Object(post));
    }
    let allow = if may_attach {
        "GET, POST, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    respond(res, "List", actions, allow)
}

/// `OPTIONS /api/v2/<res>/<id>/`: AWX answers 200 with `Allow` even for an id that does not
/// exist (the CLI always asks about id 1).
pub fn detail(res: &Resource, may_edit: bool) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), Value::Object(get_actions(res)));
    if may_edit {
        actions.insert("PUT".into(), Value::Object(write_actions(res)));
    }
    let allow = if may_edit {
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    respond(res, "Detail", actions, allow)
}

fn respond(
    res: &Resource,
    what: &str,
    actions: Map<String, Value>,
    allow: &'static str,
) -> Response {
    let related_search: Vec<String> = res
        .fields
        .iter()
        .filter(|f| matches!(f.kind, Kind::Fk(_)) && f.shown())
        .map(|f| format!("{}__search", f.name))
        .collect();
    let body = json!({
        "name": format!("{} {}", res.verbose, what),
        "description": format!("# {} {}\n", what, res.key),
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": actions,
        "types": [res.type_name],
        "search_fields": res.search_fields,
        "related_search_fields": related_search,
        "max_page_size": rawx_model::filter::MAX_PAGE_SIZE,
        "object_roles": rawx_model::rbac::object_roles(res.key),
    });
    ([(header::ALLOW, allow)], Json(body)).into_response()
}
