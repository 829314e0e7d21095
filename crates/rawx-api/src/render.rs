//! Stored rows rendered in AWX's object shape: `id, type, url, related, summary_fields,
//! created, modified`, then the fields. Secrets never leave here in the clear: sealed values
//! read `$encrypted$`, token strings read as stars.

use crate::error::ApiResult;
use crate::AppState;
use rawx_model::filter::Filter;
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{by_key, INVENTORIES, JT_CREDENTIALS, PROJECTS};
use rawx_model::schema::int;
use rawx_model::schema::{ColumnType, Kind, Resource, Scope};
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

    async fn summary(&mut self, target: &'static str, id: i64) -> ApiResult<Option<Value>> {
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
        let pick = |keys: &[&str]| {
            let mut m = Map::new();
            m.insert("id".into(), json!(id));
            for k in keys {
                m.insert((*k).into(), r.get(*k).cloned().unwrap_or(Value::Null));
            }
            Value::Object(m)
        };
        Ok(Some(match target {
            "users" => pick(&["username", "first_name", "last_name"]),
            "projects" => pick(&[
                "name",
                "description",
                "status",
                "scm_type",
                "allow_override",
            ]),
            "inventories" => {
                let mut v = pick(&[
                    "name",
                    "description",
                    "has_active_failures",
                    "total_hosts",
                    "hosts_with_active_failures",
                    "total_groups",
                    "has_inventory_sources",
                    "total_inventory_sources",
                    "inventory_sources_with_failures",
                    "kind",
                ]);
                v["organization_id"] = r.get("organization").cloned().unwrap_or(Value::Null);
                v
            }
            "credentials" => {
                let mut v = pick(&["name", "description", "kind", "cloud", "kubernetes"]);
                v["credential_type_id"] = r.get("credential_type").cloned().unwrap_or(Value::Null);
                v
            }
            _ => pick(&["name", "description"]),
        }))
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

    pub async fn render(&mut self, res: &'static Resource, row: &Row) -> ApiResult<Value> {
        let id = int(row, "id").unwrap_or_default();
        let mut out = Map::new();
        out.insert("id".into(), json!(id));
        out.insert("type".into(), json!(res.type_name));
        out.insert("url".into(), json!(url_of(res, id)));

        let mut related = Map::new();
        let mut summary = Map::new();
        for col in ["created_by", "modified_by"] {
            if let Some(uid) = int(row, col) {
                related.insert(col.into(), json!(format!("/api/v2/users/{uid}/")));
                if let Some(s) = self.summary("users", uid).await? {
                    summary.insert(col.into(), s);
                }
            }
        }
        if let Some(named) = self.named_url(res, row).await? {
            related.insert(
                "named_url".into(),
                json!(format!("/api/v2/{}/{}/", res.key, named)),
            );
        }
        for f in res.fields.iter().filter(|f| f.shown()) {
            if let (Kind::Fk(target), Some(fid)) = (f.kind, int(row, f.name)) {
                related.insert(f.name.into(), json!(format!("/api/v2/{target}/{fid}/")));
                if let Some(s) = self.summary(target, fid).await? {
                    summary.insert(f.name.into(), s);
                }
            }
        }
        for sub in res.subs {
            related.insert(
                sub.name.into(),
                json!(format!("/api/v2/{}/{}/{}/", res.key, id, sub.name)),
            );
        }
        crate::jobs::related(res, row, &mut related);
        if res.key == "jobs" {
            crate::jobs::job_summary(self, row, &mut summary).await?;
        }
        if res.key == "job_events" {
            crate::jobs::event_summary(self, row, &mut summary).await?;
        }
        if res.key == "job_templates" {
            let mut creds = Vec::new();
            for cid in self.state.store.linked(&JT_CREDENTIALS, true, id).await? {
                if let Some(s) = self.summary("credentials", cid).await? {
                    creds.push(s);
                }
            }
            summary.insert("credentials".into(), Value::Array(creds));
        }
        let editable = self.may_write(res, row).await?;
        summary.insert(
            "user_capabilities".into(),
            json!({"edit": editable, "delete": editable}),
        );
        out.insert("related".into(), Value::Object(related));
        out.insert("summary_fields".into(), Value::Object(summary));
        out.insert(
            "created".into(),
            row.get("created").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "modified".into(),
            row.get("modified").cloned().unwrap_or(Value::Null),
        );

        for f in res
            .fields
            .iter()
            .filter(|f| f.shown() && !(f.detail_only && self.list_view))
        {
            let v = row.get(f.name).cloned().unwrap_or(Value::Null);
            let v = match (f.kind, v) {
                (Kind::Json, Value::String(s)) => {
                    let mut parsed = serde_json::from_str(&s).unwrap_or(Value::Object(Map::new()));
                    mask_secrets(&mut parsed);
                    parsed
                }
                (_, Value::String(_))
                    if res.key == "tokens" && matches!(f.name, "token" | "refresh_token") =>
                {
                    json!("************")
                }
                (_, v) => v,
            };
            out.insert(f.name.into(), v);
        }
        self.computed(res, row, &mut out).await?;
        if matches!(res.key, "jobs" | "ad_hoc_commands") {
            crate::jobs::job_fields(self, row, &mut out).await?;
        }
        if matches!(res.key, "job_events" | "ad_hoc_command_events") && self.truncate_stdout {
            crate::jobs::truncate_event_stdout(&mut out);
        }
        Ok(Value::Object(out))
    }

    /// Fields AWX derives rather than stores.
    async fn computed(
        &mut self,
        res: &'static Resource,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        if std::ptr::eq(res, &INVENTORIES) {
            let by_inv = Filter::eq("inventory", ColumnType::Int, json!(id));
            let hosts = self
                .state
                .store
                .count(by_key("hosts").expect("hosts"), &by_inv)
                .await?;
            let groups = self
                .state
                .store
                .count(by_key("groups").expect("groups"), &by_inv)
                .await?;
            out.insert("total_hosts".into(), json!(hosts));
            out.insert("total_groups".into(), json!(groups));
        }
        if res.key == "instance_groups" {
            crate::instances::group_figures(self.state, row, out).await?;
        }
        if std::ptr::eq(res, &PROJECTS) && row.get("scm_type").and_then(Value::as_str) == Some("") {
            let path = row
                .get("local_path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let present = !path.is_empty() && self.state.config.projects_dir.join(path).is_dir();
            out.insert(
                "status".into(),
                json!(if present { "ok" } else { "missing" }),
            );
        }
        Ok(())
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
