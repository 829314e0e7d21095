//! `rawx manage export`: the JSON `awx export` writes, read from the store, so a backup or a
//! move to AWX works with the server down. Each object carries the fields a client may write
//! (its OPTIONS `POST`), foreign keys and the object itself named by AWX's natural keys
//! (`{"name": …, "organization": {…}, "type": …}`), secrets as `$encrypted$` (which `awx import`
//! drops), and no user passwords.

use std::collections::HashMap;

use rawx_model::filter::Filter;
use rawx_model::resources::{by_key, GROUP_CHILDREN, GROUP_HOSTS, JT_CREDENTIALS};
use rawx_model::schema::{int, ColumnType, Kind, Resource};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};

/// `awx export`'s sections (the ones rawx serves), in its order, with the resource behind each.
pub const SECTIONS: &[(&str, &str)] = &[
    ("users", "users"),
    ("organizations", "organizations"),
    ("teams", "teams"),
    ("credential_types", "credential_types"),
    ("credentials", "credentials"),
    ("projects", "projects"),
    ("inventory", "inventories"),
    ("job_templates", "job_templates"),
];

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
}

impl<'a> Exporter<'a> {
    pub fn new(store: &'a DynStore) -> Self {
        Exporter {
            store,
            keys: HashMap::new(),
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
                    mask(&mut parsed);
                    out.insert(f.name.into(), parsed);
                }
                (_, mut v) => {
                    mask(&mut v);
                    out.insert(f.name.into(), v);
                }
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
            let mut related = Map::new();
            match key {
                "inventories" => {
                    let of_inv = || Filter::eq("inventory", ColumnType::Int, json!(id));
                    let (hosts, groups) = (self::res("hosts"), self::res("groups"));
                    let mut list = Vec::new();
                    for h in self.rows(hosts, of_inv()).await? {
                        let o = self.object(hosts, &h).await?;
                        list.push(self.finish(hosts, &h, o, Map::new()).await?);
                    }
                    related.insert("hosts".into(), Value::Array(list));
                    let mut list = Vec::new();
                    for g in self.rows(groups, of_inv()).await? {
                        let gid = int(&g, "id").unwrap_or_default();
                        let o = self.object(groups, &g).await?;
                        let mut rel = Map::new();
                        let members = self
                            .store
                            .linked(&GROUP_HOSTS, true, gid)
                            .await
                            .map_err(db)?;
                        rel.insert(
                            "hosts".into(),
                            Value::Array(self.keys_of(hosts, members).await?),
                        );
                        let children = self
                            .store
                            .linked(&GROUP_CHILDREN, true, gid)
                            .await
                            .map_err(db)?;
                        rel.insert(
                            "children".into(),
                            Value::Array(self.keys_of(groups, children).await?),
                        );
                        list.push(self.finish(groups, &g, o, rel).await?);
                    }
                    related.insert("groups".into(), Value::Array(list));
                }
                "job_templates" => {
                    let creds = self
                        .store
                        .linked(&JT_CREDENTIALS, true, id)
                        .await
                        .map_err(db)?;
                    let creds = self.keys_of(self::res("credentials"), creds).await?;
                    related.insert("credentials".into(), Value::Array(creds));
                }
                _ => {}
            }
            out.push(self.finish(res, &row, obj, related).await?);
        }
        Ok(out)
    }
}

/// Every section `awx export` writes that rawx serves, as one JSON document.
pub async fn export(store: &DynStore) -> anyhow::Result<Value> {
    let mut ex = Exporter::new(store);
    let mut doc = Map::new();
    for (section, key) in SECTIONS {
        doc.insert((*section).into(), Value::Array(ex.section(key).await?));
    }
    Ok(Value::Object(doc))
}
