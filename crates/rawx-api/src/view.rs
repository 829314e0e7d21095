//! One request's view of the store for rendering and permission answers: `Renderer` remembers
//! every row it looked up, every summary and named URL it built, and answers "may the caller
//! write this" by following the object's scope to its organization. `render.rs` assembles the
//! JSON from it.

use crate::error::ApiResult;
use crate::AppState;
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::by_key;
use rawx_model::schema::int;
use rawx_model::schema::{Kind, Resource, Scope};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Renders rows for one request, remembering every row it looked up (a page of 200 hosts in
/// one inventory reads that inventory once).
pub struct Renderer<'a> {
    pub state: &'a AppState,
    pub actor: &'a Actor,
    cache: HashMap<(&'static str, i64), Option<Arc<Row>>>,
    /// Rendered `summary_fields` entries and named URLs by object: a page of 200 hosts in one
    /// inventory builds each once.
    summaries: HashMap<(&'static str, i64), Option<Value>>,
    named: HashMap<(&'static str, i64), Option<String>>,
    /// Rendering a list: fields AWX shows on detail views only are left out.
    pub list_view: bool,
    /// Cut event stdout to 1024 characters, as AWX's event lists do without `no_truncate`.
    pub truncate_stdout: bool,
}

/// A resource's entry in other objects' `summary_fields`: `id`, these fields, and these
/// `(key, column)` foreign keys by id.
#[derive(Clone, Copy)]
pub struct Summary {
    pub fields: &'static [&'static str],
    pub ids: &'static [(&'static str, &'static str)],
}

impl Summary {
    pub const NAME: Summary = Summary {
        fields: &["name", "description"],
        ids: &[],
    };
}

pub fn url_of(res: &Resource, id: i64) -> String {
    format!("/api/v2/{}/{}/", res.key, id)
}

impl<'a> Renderer<'a> {
    pub fn new(state: &'a AppState, actor: &'a Actor) -> Self {
        Renderer {
            state,
            actor,
            cache: HashMap::new(),
            summaries: HashMap::new(),
            named: HashMap::new(),
            list_view: false,
            truncate_stdout: false,
        }
    }

    pub async fn lookup(&mut self, key: &'static str, id: i64) -> ApiResult<Option<Arc<Row>>> {
        if let Some(hit) = self.cache.get(&(key, id)) {
            return Ok(hit.clone());
        }
        let res = by_key(key).expect("lookup of a known resource");
        let row = match self.state.store.get(res, id).await {
            Ok(r) => Some(Arc::new(r)),
            Err(rawx_store::DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        self.cache.insert((key, id), row.clone());
        Ok(row)
    }

    /// The organization an object belongs to, following its scope's foreign keys.
    pub async fn org_of(&mut self, res: &Resource, row: &Row) -> ApiResult<Option<i64>> {
        match res.scope {
            Scope::Organization => Ok(int(row, "id")),
            Scope::Via(path) => {
                let mut current: Option<Arc<Row>> = None;
                let mut current_res: &Resource = res;
                for (i, col) in path.iter().enumerate() {
                    let from = current.as_deref().unwrap_or(row);
                    let Some(next) = int(from, col) else {
                        return Ok(None);
                    };
                    if i + 1 == path.len() {
                        return Ok(Some(next));
                    }
                    let Some(Kind::Fk(target)) = current_res.field(col).map(|f| f.kind) else {
                        return Ok(None);
                    };
                    let Some(r) = self.lookup(target, next).await? else {
                        return Ok(None);
                    };
                    current = Some(r);
                    current_res = by_key(target).expect("fk target");
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// The user an object is owned by, for user-scoped permission answers.
    pub fn owner_of(res: &Resource, row: &Row) -> Option<i64> {
        match res.scope {
            Scope::User => int(row, "id"),
            Scope::Owner(col) => int(row, col),
            _ => int(row, "user"),
        }
    }

    pub async fn may_write(&mut self, res: &Resource, row: &Row) -> ApiResult<bool> {
        let org = self.org_of(res, row).await?;
        Ok(rbac::may_write(
            res,
            self.actor,
            org,
            Self::owner_of(res, row),
        ))
    }

    pub async fn summary(&mut self, target: &'static str, id: i64) -> ApiResult<Option<Value>> {
        if let Some(hit) = self.summaries.get(&(target, id)) {
            return Ok(hit.clone());
        }
        let made = self.make_summary(target, id).await?;
        self.summaries.insert((target, id), made.clone());
        Ok(made)
    }

    async fn make_summary(&mut self, target: &'static str, id: i64) -> ApiResult<Option<Value>> {
        let Some(r) = self.lookup(target, id).await? else {
            return Ok(None);
        };
        let shape = self.state.api_of(target).summary();
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        for k in shape.fields {
            m.insert((*k).into(), r.get(*k).cloned().unwrap_or(Value::Null));
        }
        for (k, col) in shape.ids {
            m.insert((*k).into(), r.get(*col).cloned().unwrap_or(Value::Null));
        }
        Ok(Some(Value::Object(m)))
    }

    /// The named URL path segment (`Lab++Default`), when every part has a name.
    pub async fn named_url(
        &mut self,
        res: &'static Resource,
        row: &Row,
    ) -> ApiResult<Option<String>> {
        let key = (res.key, int(row, "id").unwrap_or_default());
        if let Some(hit) = self.named.get(&key) {
            return Ok(hit.clone());
        }
        let made = self.make_named_url(res, row).await?;
        self.named.insert(key, made.clone());
        Ok(made)
    }

    async fn make_named_url(
        &mut self,
        res: &'static Resource,
        row: &Row,
    ) -> ApiResult<Option<String>> {
        let Some(name_field) = res.name_field else {
            return Ok(None);
        };
        let Some(name) = row.get(name_field).and_then(Value::as_str) else {
            return Ok(None);
        };
        let mut out = escape_name(name);
        for parent in res.named_url_parents {
            match (res.field(parent).map(|f| f.kind), row.get(*parent)) {
                (Some(Kind::Fk(target)), Some(Value::Number(n))) => {
                    let Some(prow) = self.lookup(target, n.as_i64().unwrap_or_default()).await?
                    else {
                        return Ok(None);
                    };
                    let pres = by_key(target).expect("fk target");
                    match Box::pin(self.named_url(pres, &prow)).await? {
                        Some(p) => out.push_str(&format!("++{p}")),
                        None => return Ok(None),
                    }
                }
                (Some(Kind::Fk(_)), _) => out.push_str("++"),
                // A plain column joins with one `+` (credential types: `Machine+ssh`).
                (_, Some(Value::String(s))) => out.push_str(&format!("+{}", escape_name(s))),
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

/// Replaces every sealed string in a JSON tree with `$encrypted$`.
pub fn mask_secrets(v: &mut Value) {
    match v {
        Value::String(s) if is_sealed(s) => *v = json!(ENCRYPTED),
        Value::Object(m) => m.values_mut().for_each(mask_secrets),
        Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// A name as a named-URL part: `+` is written `[+]`, reserved characters %-escaped.
pub fn escape_name(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'/')
        .add(b'?')
        .add(b'#')
        .add(b'%')
        .add(b'"')
        .add(b'<')
        .add(b'>');
    percent_encoding::utf8_percent_encode(&name.replace('+', "[+]"), SET).to_string()
}
