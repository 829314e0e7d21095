//! `rawx manage export`: the JSON `awx export` writes, read from the store, so a backup or a
//! move to AWX works with the server down. Each object carries the fields a client may write
//! (its OPTIONS `POST`), foreign keys and the object itself named by AWX's natural keys
//! (`{"name": …, "organization": {…}, "type": …}`), secrets as `$encrypted$` (which `awx import`
//! drops), and no user passwords.

use std::collections::HashMap;

use rawx_model::filter::Filter;
use rawx_model::resources::by_key;
use rawx_model::schema::{int, ColumnType, Kind, Resource, SubList};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};

/// `awx export`'s sections, in its order, with the resource behind each. `awx export` writes
/// `null` for AWX's resources rawx does not have (`None`, or a resource not in the schema).
/// Execution environments are exported as `awx export` writes them (the managed one left out);
/// `manage import` skips them (`import::plan`).
pub const SECTIONS: &[(&str, Option<&str>)] = &[
    ("users", Some("users")),
    ("organizations", Some("organizations")),
    ("teams", Some("teams")),
    ("credential_types", Some("credential_types")),
    ("credentials", Some("credentials")),
    ("notification_templates", Some("notification_templates")),
    ("projects", Some("projects")),
    ("inventory", Some("inventories")),
    ("inventory_sources", Some("inventory_sources")),
    ("job_templates", Some("job_templates")),
    ("workflow_job_templates", Some("workflow_job_templates")),
    ("execution_environments", Some("execution_environments")),
    ("applications", None),
    ("schedules", Some("schedules")),
];

/// Sub-lists awxkit exports as whole objects under their parent (its `DEPENDENT_EXPORT`).
const DEPENDENT: &[(&str, &str)] = &[
    ("inventories", "hosts"),
    ("inventories", "groups"),
    ("job_templates", "schedules"),
    ("workflow_job_templates", "schedules"),
];

/// The resource behind a section, when the schema has it.
pub fn served(key: Option<&str>) -> Option<&'static Resource> {
    key.and_then(by_key).filter(|r| r.is_public())
}

/// Linked sub-lists awxkit exports as natural keys: those whose members are of these
/// resources (its `EXPORTABLE_RELATIONS` that rawx has). `roles` is a user's direct grants
/// (`/users/N/roles/`, which awxkit exports because its POST takes an `id`).
const LINKED_EXPORTS: &[&str] = &[
    "credentials",
    "hosts",
    "groups",
    "roles",
    "notification_templates",
];

/// Linked sub-lists awxkit exports as whole objects, not natural keys (its `DEPENDENT_EXPORT`
/// pairs whose child is linked rather than owned: a template's labels).
const LINKED_IN_FULL: &[&str] = &["labels"];

fn db(e: rawx_store::DbError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn res(key: &str) -> &'static Resource {
    by_key(key).expect("a resource of the schema")
}

/// Replaces every sealed string in a JSON tree with `$encrypted$`.
fn mask(v: &mut Value) {
    match v {
        Value::String(s) if is_sealed(s) => *v = json!(ENCRYPTED),
        Value::Array(a) => a.iter_mut().for_each(mask),
        Value::Object(o) => o.values_mut().for_each(mask),
        _ => {}
    }
}

pub struct Exporter<'a> {
    store: &'a DynStore,
    keys: HashMap<(&'static str, i64), Value>,
    /// Sealed values as stored and users' password hashes, instead of leaving them out.
    with_secrets: bool,
}

impl<'a> Exporter<'a> {
    pub fn new(store: &'a DynStore, with_secrets: bool) -> Self {
        Exporter {
            store,
            keys: HashMap::new(),
            with_secrets,
        }
    }

    /// The natural key of row `id` of `res` (awxkit's `get_natural_key`): its name field and
    /// the named-URL parents, a parent itself by its natural key; null when it is gone.
    pub async fn natural_key(&mut self, res: &'static Resource, id: i64) -> anyhow::Result<Value> {
        if let Some(k) = self.keys.get(&(res.key, id)) {
            return Ok(k.clone());
        }
        let row = match self.store.get(res, id).await {
            Ok(r) => r,
            Err(rawx_store::DbError::NotFound) => return Ok(Value::Null),
            Err(e) => return Err(db(e)),
        };
        let key = self.key_of(res, &row).await?;
        self.keys.insert((res.key, id), key.clone());
        Ok(key)
    }

    async fn key_of(&mut self, res: &'static Resource, row: &Row) -> anyhow::Result<Value> {
        if res.key == "roles" {
            return self.role_key(row).await;
        }
        let mut key = Map::new();
        let parts = res
            .name_field
            .into_iter()
            .chain(res.named_url_parents.iter().copied());
        for name in parts {
            let v = row.get(name).cloned().unwrap_or(Value::Null);
            let v = match res.field(name).map(|f| f.kind) {
                Some(Kind::Fk(target)) => match v.as_i64() {
                    Some(id) => Box::pin(self.natural_key(self::res(target), id)).await?,
                    None => Value::Null,
                },
                _ => v,
            };
            key.insert(name.into(), v);
        }
        key.insert("type".into(), json!(res.type_name));
        Ok(Value::Object(key))
    }

    /// A role's natural key as awxkit's `Role.get_natural_key` makes it: AWX's role name,
    /// `type`, and the natural key of the object it is a role of (none for the singletons).
    async fn role_key(&mut self, row: &Row) -> anyhow::Result<Value> {
        let field = match row.get("singleton_name").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => s,
            _ => row.get("role_field").and_then(Value::as_str).unwrap_or(""),
        };
        let mut key = Map::new();
        key.insert("name".into(), json!(rawx_model::rbac::role_name(field)));
        key.insert("type".into(), json!("role"));
        let object = row
            .get("content_type")
            .and_then(Value::as_str)
            .and_then(by_key)
            .zip(int(row, "object_id"));
        if let Some((res, id)) = object {
            let obj = Box::pin(self.natural_key(res, id)).await?;
            key.insert("content_object".into(), obj);
        }
        Ok(Value::Object(key))
    }

    /// One object as `awx export` writes it, without `related` (the caller adds that).
    async fn object(
        &mut self,
        res: &'static Resource,
        row: &Row,
    ) -> anyhow::Result<Map<String, Value>> {
        let mut out = Map::new();
        let mut fks = Map::new();
        for f in res.fields.iter().filter(|f| f.writable() && f.shown()) {
            let v = row.get(f.name).cloned().unwrap_or(Value::Null);
            match (f.kind, v) {
                (Kind::Fk(target), Value::Number(n)) => {
                    let id = n.as_i64().unwrap_or_default();
                    fks.insert(
                        f.name.into(),
                        self.natural_key(self::res(target), id).await?,
                    );
                }
                (Kind::Json, Value::String(s)) => {
                    let mut parsed = serde_json::from_str(&s).unwrap_or(json!({}));
                    if !self.with_secrets {
                        mask(&mut parsed);
                    }
                    out.insert(f.name.into(), parsed);
                }
                (_, mut v) => {
                    if !self.with_secrets {
                        mask(&mut v);
                    }
                    out.insert(f.name.into(), v);
                }
            }
        }
        if self.with_secrets {
            if let Some(hash) = res
                .field("password")
                .filter(|f| f.kind == Kind::Password)
                .and_then(|_| row.get("password"))
                .filter(|h| h.as_str().is_some_and(|h| !h.is_empty()))
            {
                out.insert("password".into(), hash.clone());
            }
        }
        out.extend(fks);
        Ok(out)
    }

    async fn rows(&self, res: &'static Resource, filter: Filter) -> anyhow::Result<Vec<Row>> {
        // The API's default order, so the output is `awx export`'s.
        let (column, desc) = match res.order.strip_prefix('-') {
            Some(c) => (c, true),
            None => (res.order, false),
        };
        self.store
            .list_all(res, &filter, &[(column, desc), ("id", false)])
            .await
            .map_err(db)
    }

    async fn finish(
        &mut self,
        res: &'static Resource,
        row: &Row,
        mut obj: Map<String, Value>,
        related: Map<String, Value>,
    ) -> anyhow::Result<Value> {
        if !related.is_empty() {
            obj.insert("related".into(), Value::Object(related));
        }
        let id = int(row, "id").unwrap_or_default();
        obj.insert("natural_key".into(), self.natural_key(res, id).await?);
        Ok(Value::Object(obj))
    }

    async fn keys_of(
        &mut self,
        res: &'static Resource,
        ids: Vec<i64>,
    ) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for id in ids {
            out.push(self.natural_key(res, id).await?);
        }
        Ok(out)
    }

    /// What `awx export` writes under an object's `related`: the `DEPENDENT` sub-lists in full
    /// (an inventory's hosts and groups, a template's schedules), and the members of linked lists (a template's credentials, a group's hosts and
    /// children, a host's groups) as natural keys.
    async fn related(
        &mut self,
        res: &'static Resource,
        id: i64,
    ) -> anyhow::Result<Map<String, Value>> {
        let mut related = Map::new();
        for sub in res.subs {
            match sub.list {
                SubList::Children { resource, fk } if DEPENDENT.contains(&(res.key, resource)) => {
                    let child = self::res(resource);
                    let of_parent = Filter::eq(fk, ColumnType::Int, json!(id));
                    let mut list = Vec::new();
                    for row in self.rows(child, of_parent).await? {
                        let cid = int(&row, "id").unwrap_or_default();
                        let o = self.object(child, &row).await?;
                        let rel = Box::pin(self.related(child, cid)).await?;
                        list.push(self.finish(child, &row, o, rel).await?);
                    }
                    related.insert(sub.name.into(), Value::Array(list));
                }
                SubList::Linked {
                    relation,
                    from_left,
                } => {
                    let other = if from_left {
                        relation.right.0
                    } else {
                        relation.left.0
                    };
                    let in_full = LINKED_IN_FULL.contains(&other);
                    if !LINKED_EXPORTS.contains(&other) && !in_full {
                        continue;
                    }
                    let ids = self
                        .store
                        .linked(relation, from_left, id)
                        .await
                        .map_err(db)?;
                    let list = if in_full {
                        let member = self::res(other);
                        let mut list = Vec::new();
                        for mid in ids {
                            let row = self.store.get(member, mid).await.map_err(db)?;
                            let o = self.object(member, &row).await?;
                            list.push(self.finish(member, &row, o, Map::new()).await?);
                        }
                        list
                    } else {
                        self.keys_of(self::res(other), ids).await?
                    };
                    related.insert(sub.name.into(), Value::Array(list));
                }
                // Grants are not exported (as rawx never exported memberships).
                SubList::Children { .. } | SubList::Role { .. } | SubList::Activity => {}
            }
        }
        Ok(related)
    }

    /// One section: every object of the resource, except those rawx manages itself (built-in
    /// credential types, as `awx export` leaves out `managed` objects).
    pub async fn section(&mut self, key: &str) -> anyhow::Result<Vec<Value>> {
        let res = res(key);
        let mut out = Vec::new();
        for row in self.rows(res, Filter::All(vec![])).await? {
            if row.get("managed") == Some(&json!(true)) {
                continue;
            }
            let id = int(&row, "id").unwrap_or_default();
            let obj = self.object(res, &row).await?;
            let related = self.related(res, id).await?;
            out.push(self.finish(res, &row, obj, related).await?);
        }
        Ok(out)
    }
}

/// Every section `awx export` writes, as one JSON document (`null` for resources rawx does
/// not have, as `awx export` writes them against rawx).
pub async fn export(store: &DynStore, with_secrets: bool) -> anyhow::Result<Value> {
    let mut ex = Exporter::new(store, with_secrets);
    let mut doc = Map::new();
    for (section, key) in SECTIONS {
        let v = match served(*key) {
            Some(res) => Value::Array(ex.section(res.key).await?),
            None => Value::Null,
        };
        doc.insert((*section).into(), v);
    }
    Ok(Value::Object(doc))
}
