//! One request's view of the store for rendering and permission answers: `Renderer` remembers
//! every row it looked up, every summary and named URL it built, and answers "may the caller
//! write this" by following the object's scope to its organization. `render.rs` assembles the
//! JSON from it.

use crate::error::ApiResult;
use crate::AppState;
use rawx_model::rbac::{self, Actor, Need};
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
    /// The roles the caller holds (content type, object, role field), read on first use.
    held: Option<std::collections::HashSet<(String, i64, String)>>,
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
            held: None,
            list_view: false,
            truncate_stdout: false,
        }
    }

    /// Remembers a row just read from the store (a list's page), so the questions asked while
    /// rendering it (`may_write` compares a row with its stored self) cost no query.
    pub fn known(&mut self, key: &'static str, row: &Row) {
        if let Some(id) = int(row, "id") {
            self.cache.insert((key, id), Some(Arc::new(row.clone())));
        }
    }

    pub async fn lookup(&mut self, key: &'static str, id: i64) -> ApiResult<Option<Arc<Row>>> {
        if let Some(hit) = self.cache.get(&(key, id)) {
            return Ok(hit.clone());
        }
        let res = rawx_model::resources::table_by_key(key).expect("lookup of a known resource");
        let row = match self.state.store.get(res, id).await {
            Ok(r) => Some(Arc::new(r)),
            Err(rawx_store::DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        self.cache.insert((key, id), row.clone());
        Ok(row)
    }

    /// The user an object is owned by, for user-scoped permission answers.
    pub fn owner_of(res: &Resource, row: &Row) -> Option<i64> {
        match res.scope {
            Scope::User => int(row, "id"),
            Scope::Owner(col) => int(row, col),
            _ => int(row, "user"),
        }
    }

    /// Does the caller hold one of `fields` roles of the object (superusers hold every role)?
    pub async fn holds(
        &mut self,
        content_type: &'static str,
        id: i64,
        fields: &[&'static str],
    ) -> ApiResult<bool> {
        if self.actor.is_superuser {
            return Ok(true);
        }
        if self.held.is_none() {
            // Every role the caller holds, read once per request: a page of 200 hosts across
            // 50 inventories asks 50 questions and costs one query.
            let rows = self
                .state
                .store
                .project(
                    &rawx_model::resources::ROLES,
                    &rbac::held_roles(self.actor.user_id),
                    &["content_type", "object_id", "role_field"],
                    &[("id", false)],
                )
                .await?;
            self.held = Some(
                rows.iter()
                    .filter_map(|r| {
                        Some((
                            rawx_model::schema::text(r, "content_type").to_string(),
                            int(r, "object_id")?,
                            rawx_model::schema::text(r, "role_field").to_string(),
                        ))
                    })
                    .collect(),
            );
        }
        let held = self.held.as_ref().expect("loaded above");
        Ok(fields
            .iter()
            .any(|f| held.contains(&(content_type.to_string(), id, (*f).to_string()))))
    }

    /// Does the caller hold `field` on the object `row[column]` names?
    async fn holds_fk(
        &mut self,
        res: &Resource,
        row: &Row,
        column: &str,
        field: &'static str,
    ) -> ApiResult<bool> {
        let (Some(Kind::Fk(target)), Some(id)) =
            (res.field(column).map(|f| f.kind), int(row, column))
        else {
            return Ok(false);
        };
        self.holds(target, id, &[field]).await
    }

    /// `can_change` and `can_delete` (AWX's `access.py`): the object's admin role (or the
    /// admin role of what it belongs to, for hosts, groups, labels, schedules, jobs); a
    /// foreign key moved to another object needs the role creating there needs (an
    /// inventory moved to another organization: its inventory admin role). Users change
    /// themselves; organization admins change the users of their organizations.
    pub async fn may_write(&mut self, res: &'static Resource, row: &Row) -> ApiResult<bool> {
        if self.actor.read_only_token {
            return Ok(false);
        }
        if self.actor.is_superuser {
            return Ok(true);
        }
        let Some(id) = int(row, "id") else {
            return Ok(false);
        };
        let stored = self.lookup(res.key, id).await?;
        let moved = |col: &str| {
            stored
                .as_deref()
                .is_some_and(|s| s.get(col) != row.get(col) && int(row, col).is_some())
        };
        let allowed = match rbac::change_needs(res) {
            Some(Need::Own(field)) => self.holds(res.key, id, &[field]).await?,
            Some(Need::Fk(col, field)) => {
                let now = self.holds_fk(res, row, col, field).await?;
                match stored.as_deref() {
                    Some(s) if moved(col) => now && self.holds_fk(res, s, col, field).await?,
                    _ => now,
                }
            }
            None => match res.scope {
                Scope::User => self.may_admin_user(row, false).await?,
                Scope::Owner(_) => Self::owner_of(res, row) == Some(self.actor.user_id),
                _ => false,
            },
        };
        if !allowed {
            return Ok(false);
        }
        for (col, field) in rbac::add_needs(res) {
            if moved(col) && !self.holds_fk(res, row, col, field).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `UserAccess.can_change`: themselves; otherwise an admin of every organization the
    /// user is a member of (not superusers nor system auditors). A user of no organization
    /// only when `allow_orphans` (granting them a first membership: AWX's `can_admin(...,
    /// allow_orphans=True)`, which also compares the roles both hold).
    pub async fn may_admin_user(&mut self, row: &Row, allow_orphans: bool) -> ApiResult<bool> {
        let Some(id) = int(row, "id") else {
            return Ok(false);
        };
        if id == self.actor.user_id {
            return Ok(true);
        }
        if self.actor.admin_of.is_empty()
            || row.get("is_superuser") == Some(&json!(true))
            || row.get("is_system_auditor") == Some(&json!(true))
        {
            return Ok(false);
        }
        let orgs = rawx_domain::roles::objects_held(
            &*self.state.store,
            id,
            "organizations",
            &["member_role"],
        )
        .await?;
        if orgs.is_empty() {
            return Ok(allow_orphans);
        }
        Ok(orgs.iter().all(|o| self.actor.admin_of.contains(o)))
    }

    /// `can_add`: the roles each foreign key of the new object must allow
    /// (`rbac::add_needs`: a project's organization's project admin role, a template's
    /// project and inventory use roles, …). A credential of no organization is its owner's.
    pub async fn may_add(&mut self, res: &'static Resource, row: &Row) -> ApiResult<bool> {
        if self.actor.read_only_token {
            return Ok(false);
        }
        if self.actor.is_superuser {
            return Ok(true);
        }
        let needs = rbac::add_needs(res);
        if needs.is_empty() {
            return Ok(rbac::may_create_top_level(res, self.actor));
        }
        let mut any = false;
        for (col, field) in needs {
            if int(row, col).is_none() {
                continue;
            }
            any = true;
            if !self.holds_fk(res, row, col, field).await? {
                return Ok(false);
            }
        }
        if !any {
            // No organization: a personal credential, its creator's or the named user's.
            return Ok(res.field("user").is_some()
                && Self::owner_of(res, row).is_none_or(|u| u == self.actor.user_id));
        }
        Ok(true)
    }

    /// `summary_fields.object_roles` of an object with roles: each role's id, name and
    /// description (`role_summary_fields_generator`).
    pub async fn object_roles_summary(
        &mut self,
        res: &'static Resource,
        id: i64,
    ) -> ApiResult<Option<Value>> {
        if !rbac::has_roles(res) {
            return Ok(None);
        }
        let ids = rawx_domain::roles::object_roles(&*self.state.store, res.key, id).await?;
        let model = rbac::model_name(res);
        let mut out = Map::new();
        for field in rbac::object_roles(res.key) {
            let Some(rid) = ids.get(field) else { continue };
            out.insert(
                field.into(),
                json!({
                    "description": rbac::role_description(field, Some(&model)),
                    "name": rbac::role_name(field),
                    "id": rid,
                }),
            );
        }
        Ok(Some(Value::Object(out)))
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
