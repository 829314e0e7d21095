//! `rawx manage import`: reads what `awx export` or `rawx manage export` wrote and creates or
//! updates each object by its natural key, as `awx import` does. Every write is an API request
//! served in process as a superuser (`rawx_api::admin`), so validation, password hashing and
//! sealing are the API's own.
//!
//! Before anything is written the whole file is checked (sections, fields, references, secrets,
//! field types), so a bad file changes nothing. The store has no transaction spanning requests:
//! if the API then refuses an object, the objects before it stay applied and the output lists
//! them; the refused one is unchanged.

use std::collections::HashSet;
use std::fmt::Write as _;

use anyhow::bail;
mod plan;

use plan::{canonical, describe, messages, plan, refusal, resource_of_type, Step};
use rawx_api::admin::{is_password_hash, Admin, Method};
use rawx_model::filter::{Cond, Filter};
use rawx_model::schema::{int, ColumnType, Kind, Resource, SubList};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::validate::{validate, Mode};
use serde_json::{json, Map, Value};

/// What happened to one object or link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

pub struct Importer {
    admin: Admin,
    /// Natural keys of objects the file creates (a reference to one is not missing).
    planned: HashSet<String>,
    applied: Vec<String>,
    counts: [usize; 3],
}

impl Importer {
    pub fn new(admin: Admin) -> Self {
        Importer {
            admin,
            planned: HashSet::new(),
            applied: Vec::new(),
            counts: [0; 3],
        }
    }

    fn store(&self) -> &rawx_store::DynStore {
        &self.admin.state().store
    }

    /// The id of the object a natural key names, `None` when there is none.
    async fn find(&self, key: &Value) -> anyhow::Result<Option<i64>> {
        // A whole object (a label exported in full) is found by its natural key.
        let key = match key.get("natural_key") {
            Some(k) if k.is_object() => k,
            _ => key,
        };
        if key["type"] == "role" {
            return self.find_role(key).await;
        }
        let Some(res) = key["type"].as_str().and_then(resource_of_type) else {
            return Ok(None);
        };
        let Some(name_field) = res.name_field else {
            return Ok(None);
        };
        let mut filter = Filter::eq(name_field, ColumnType::Text, key[name_field].clone());
        for p in res.named_url_parents {
            let v = &key[*p];
            match res.field(p).map(|f| f.kind) {
                Some(Kind::Fk(_)) if v.is_null() => {
                    filter = filter.and(Filter::On {
                        path: vec![],
                        column: p,
                        ctype: ColumnType::Int,
                        cond: Cond::IsNull(true),
                    })
                }
                Some(Kind::Fk(_)) => match Box::pin(self.find(v)).await? {
                    Some(id) => filter = filter.and(Filter::eq(p, ColumnType::Int, json!(id))),
                    None => return Ok(None),
                },
                _ => filter = filter.and(Filter::eq(p, ColumnType::Text, v.clone())),
            }
        }
        let row = self
            .store()
            .find(res, &filter)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(row.and_then(|r| int(&r, "id")))
    }

    /// The role a natural key names (awxkit's `{"name": "Execute", "content_object": {…},
    /// "type": "role"}`): the object's role whose AWX name matches, or a system role.
    async fn find_role(&self, key: &Value) -> anyhow::Result<Option<i64>> {
        let name = key["name"].as_str().unwrap_or("");
        let roles = rawx_model::resources::by_key("roles").expect("roles resource");
        let filter = match key.get("content_object").filter(|o| o.is_object()) {
            Some(obj) => {
                let Some(res) = obj["type"].as_str().and_then(resource_of_type) else {
                    return Ok(None);
                };
                let Some(field) = rawx_model::rbac::object_roles(res.key)
                    .into_iter()
                    .find(|f| rawx_model::rbac::role_name(f) == name)
                else {
                    return Ok(None);
                };
                let Some(id) = Box::pin(self.find(obj)).await? else {
                    return Ok(None);
                };
                Filter::eq("content_type", ColumnType::Text, json!(res.key))
                    .and(Filter::eq("object_id", ColumnType::Int, json!(id)))
                    .and(Filter::eq("role_field", ColumnType::Text, json!(field)))
            }
            None => {
                let Some(single) = rawx_model::rbac::SINGLETONS
                    .iter()
                    .find(|f| rawx_model::rbac::role_name(f) == name)
                else {
                    return Ok(None);
                };
                Filter::eq("singleton_name", ColumnType::Text, json!(single))
            }
        };
        let row = self
            .store()
            .find(roles, &filter)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(row.and_then(|r| int(&r, "id")))
    }

    /// Whether a reference can be met: the object exists or the file creates it (a role:
    /// its object does, and the role comes with it).
    async fn reachable(&self, key: &Value) -> anyhow::Result<bool> {
        let key = match key.get("natural_key") {
            Some(k) if k.is_object() => k,
            _ => key,
        };
        if key["type"] == "role" {
            if let Some(obj) = key.get("content_object").filter(|o| o.is_object()) {
                if Box::pin(self.reachable(obj)).await? {
                    return Ok(true);
                }
            }
        }
        Ok(self.planned.contains(&canonical(key)) || self.find(key).await?.is_some())
    }

    /// Everything that can be known before writing: references, secrets, field types.
    async fn check(&mut self, steps: &[Step<'_>]) -> anyhow::Result<Vec<String>> {
        for s in steps {
            if let Step::Object { obj, .. } = s {
                self.planned.insert(canonical(&obj["natural_key"]));
            }
        }
        let mut problems = Vec::new();
        for s in steps {
            match s {
                Step::Object { res, obj, parent } => {
                    let who = describe(&obj["natural_key"]);
                    let mut probe = Map::new();
                    for (name, v) in obj.iter() {
                        let Some(f) = res.field(name) else { continue };
                        if let Kind::Fk(target) = f.kind {
                            if v.is_object() {
                                let want = rawx_model::resources::by_key(target)
                                    .map(|r| r.type_name)
                                    .unwrap_or_default();
                                if v["type"] != json!(want) {
                                    problems.push(format!(
                                        "{who}: field {name:?} names a {} where a {want} belongs",
                                        v["type"]
                                    ));
                                } else if !self.reachable(v).await? {
                                    problems.push(format!(
                                        "{who}: field {name:?} names {}, which neither exists nor is in the file",
                                        describe(v)
                                    ));
                                }
                                probe.insert(name.clone(), json!(1));
                            } else {
                                probe.insert(name.clone(), Value::Null);
                            }
                            continue;
                        }
                        let mut v = v.clone();
                        self.unseal(&mut v, &who, name, &mut problems);
                        probe.insert(name.clone(), v);
                    }
                    if let Some((fk, _)) = parent {
                        probe.entry(*fk).or_insert(json!(1));
                    }
                    // The schema's own type and length checks; the API repeats them on write.
                    let mode = match self.find(&obj["natural_key"]).await? {
                        Some(_) => Mode::Patch,
                        None => Mode::Create,
                    };
                    if let Err(e) = validate(res, &Value::Object(probe), mode) {
                        let mut lines = Vec::new();
                        messages(&e.to_json(), "", &mut lines);
                        for l in lines {
                            problems.push(format!("{who}: {l}"));
                        }
                    }
                }
                Step::Link {
                    owner,
                    sub,
                    members,
                    ..
                } => {
                    for m in members.iter() {
                        if !m.is_object() || !self.reachable(m).await? {
                            problems.push(format!(
                                "{}: related {sub:?} names {}, which neither exists nor is in the file",
                                describe(owner),
                                if m.is_object() { describe(m) } else { m.to_string() }
                            ));
                        }
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Opens every sealed string of `v` in place (a `rawx manage export --with-secrets` file);
    /// one sealed under another key is a problem named by object and field.
    fn unseal(&self, v: &mut Value, who: &str, field: &str, problems: &mut Vec<String>) {
        match v {
            Value::String(s) if is_sealed(s) => match self.admin.state().key.open(s) {
                Ok(plain) => *s = plain,
                Err(e) => problems.push(format!("{who}: field {field:?}: {e}")),
            },
            Value::Array(a) => a
                .iter_mut()
                .for_each(|v| self.unseal(v, who, field, problems)),
            Value::Object(o) => o
                .values_mut()
                .for_each(|v| self.unseal(v, who, field, problems)),
            _ => {}
        }
    }

    /// The request body for an object: references as ids, sealed secrets opened, and
    /// `$encrypted$` dropped when there is no stored secret for it to stand for.
    async fn body(
        &self,
        res: &'static Resource,
        obj: &Map<String, Value>,
        parent: Option<(&'static str, &Value)>,
        exists: bool,
    ) -> anyhow::Result<Map<String, Value>> {
        let who = describe(&obj["natural_key"]);
        let mut body = Map::new();
        for (name, v) in obj {
            if matches!(name.as_str(), "natural_key" | "related" | "password") {
                continue;
            }
            let Some(f) = res.field(name) else { continue };
            let v = match (f.kind, v) {
                (Kind::Fk(_), Value::Object(_)) => match self.find(v).await? {
                    Some(id) => json!(id),
                    None => bail!("{who}: {name}: {} does not exist", describe(v)),
                },
                _ => {
                    let mut v = v.clone();
                    let mut problems = Vec::new();
                    self.unseal(&mut v, &who, name, &mut problems);
                    if let Some(p) = problems.pop() {
                        bail!("{p}");
                    }
                    if !exists {
                        drop_encrypted(&mut v);
                    }
                    v
                }
            };
            body.insert(name.clone(), v);
        }
        if let Some((fk, owner)) = parent {
            if !body.contains_key(fk) {
                match self.find(owner).await? {
                    Some(id) => body.insert(fk.into(), json!(id)),
                    None => bail!("{who}: {} does not exist", describe(owner)),
                };
            }
        }
        Ok(body)
    }

    /// The fields of `body` that differ from the stored object (as the API shows it; a
    /// secret is compared with the stored one, opened).
    async fn changes(
        &self,
        res: &'static Resource,
        id: i64,
        body: &Map<String, Value>,
    ) -> anyhow::Result<Map<String, Value>> {
        let shown = self
            .admin
            .call(Method::GET, &format!("/api/v2/{}/{id}/", res.key), None)
            .await?;
        if !shown.ok() {
            bail!("reading {} {id}: {}", res.type_name, refusal(&shown));
        }
        let row = self
            .store()
            .get(res, id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = Map::new();
        for (name, want) in body {
            let same = match res.field(name).map(|f| f.kind) {
                Some(Kind::Json) => {
                    let stored: Value = row
                        .get(name)
                        .and_then(Value::as_str)
                        .and_then(|s| serde_json::from_str(s).ok())
                        .unwrap_or(json!({}));
                    self.same_secrets(want, &stored) && {
                        let mut w = want.clone();
                        mask_like(&mut w, &shown.body[name.as_str()]);
                        w == shown.body[name.as_str()]
                    }
                }
                _ => &shown.body[name.as_str()] == want,
            };
            if !same {
                out.insert(name.clone(), want.clone());
            }
        }
        Ok(out)
    }

    /// Whether each secret given in `want` (in the clear) is the one `stored` holds sealed.
    fn same_secrets(&self, want: &Value, stored: &Value) -> bool {
        match (want, stored) {
            (Value::Object(w), Value::Object(s)) => w.iter().all(|(k, v)| match s.get(k) {
                Some(sv) => self.same_secrets(v, sv),
                None => true,
            }),
            (Value::String(w), Value::String(s)) if is_sealed(s) => {
                w == ENCRYPTED || self.admin.state().key.open(s).is_ok_and(|p| &p == w)
            }
            _ => true,
        }
    }

    async fn object(
        &mut self,
        res: &'static Resource,
        obj: &Map<String, Value>,
        parent: Option<(&'static str, &Value)>,
    ) -> anyhow::Result<(Outcome, String)> {
        let key = &obj["natural_key"];
        let existing = self.find(key).await?;
        let body = self.body(res, obj, parent, existing.is_some()).await?;
        let hash = obj
            .get("password")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        let (id, mut outcome, mut fields) = match existing {
            None => {
                let mut body = body;
                if let Some(p) = hash.filter(|p| !is_password_hash(p)) {
                    body.insert("password".into(), json!(p));
                }
                let a = self
                    .admin
                    .call(
                        Method::POST,
                        &format!("/api/v2/{}/", res.key),
                        Some(&Value::Object(body)),
                    )
                    .await?;
                if !a.ok() {
                    bail!("{}", refusal(&a));
                }
                let id = a.body["id"].as_i64().unwrap_or_default();
                (id, Outcome::Created, Vec::new())
            }
            Some(id) => {
                let mut diff = self.changes(res, id, &body).await?;
                if let Some(p) = hash.filter(|p| !is_password_hash(p)) {
                    diff.insert("password".into(), json!(p));
                }
                let fields: Vec<String> = diff.keys().cloned().collect();
                if diff.is_empty() {
                    (id, Outcome::Unchanged, fields)
                } else {
                    let a = self
                        .admin
                        .call(
                            Method::PATCH,
                            &format!("/api/v2/{}/{id}/", res.key),
                            Some(&Value::Object(diff)),
                        )
                        .await?;
                    if !a.ok() {
                        bail!("{}", refusal(&a));
                    }
                    (id, Outcome::Updated, fields)
                }
            }
        };
        if let Some(h) = hash.filter(|p| is_password_hash(p)) {
            let stored = self
                .store()
                .get(res, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if stored.get("password").and_then(Value::as_str) != Some(h) {
                self.admin
                    .set_password_hash(id, h)
                    .await
                    .map_err(|e| anyhow::anyhow!("password: {e}"))?;
                if outcome == Outcome::Unchanged {
                    outcome = Outcome::Updated;
                }
                fields.push("password".into());
            }
        }
        let mut note = String::new();
        if !fields.is_empty() && outcome == Outcome::Updated {
            let _ = write!(note, " ({})", fields.join(", "));
        }
        if outcome == Outcome::Created && res.key == "users" && hash.is_none() {
            note.push_str(" (no password: set one with `rawx manage update-password`)");
        }
        Ok((outcome, note))
    }

    async fn link(
        &mut self,
        res: &'static Resource,
        owner: &Value,
        sub: &str,
        members: &[Value],
    ) -> anyhow::Result<(Outcome, String)> {
        let Some(id) = self.find(owner).await? else {
            bail!("{} does not exist", describe(owner));
        };
        let Some(SubList::Linked {
            relation,
            from_left,
        }) = res.sub(sub).map(|s| s.list)
        else {
            bail!("{sub} is not a list of links");
        };
        let have = self
            .store()
            .linked(relation, from_left, id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut added = Vec::new();
        for m in members {
            let Some(mid) = self.find(m).await? else {
                bail!("{sub}: {} does not exist", describe(m));
            };
            if have.contains(&mid) {
                continue;
            }
            let a = self
                .admin
                .call(
                    Method::POST,
                    &format!("/api/v2/{}/{id}/{sub}/", res.key),
                    Some(&json!({"id": mid})),
                )
                .await?;
            if !a.ok() {
                bail!("{sub}: {}: {}", describe(m), refusal(&a));
            }
            added.push(describe(m));
        }
        if added.is_empty() {
            Ok((Outcome::Unchanged, String::new()))
        } else {
            Ok((Outcome::Updated, format!(" (linked {})", added.join(", "))))
        }
    }

    /// Checks the whole document, then applies it step by step, printing each outcome.
    pub async fn run(&mut self, doc: &Value) -> anyhow::Result<()> {
        let steps = plan(doc).map_err(|e| anyhow::anyhow!("{e}; nothing was imported"))?;
        let problems = self.check(&steps).await?;
        if !problems.is_empty() {
            for p in &problems {
                eprintln!("error: {p}");
            }
            bail!(
                "{} problem(s) in the file; nothing was imported",
                problems.len()
            );
        }
        for s in &steps {
            let (what, result) = match s {
                Step::Object { res, obj, parent } => (
                    describe(&obj["natural_key"]),
                    self.object(res, obj, *parent).await,
                ),
                Step::Link {
                    res,
                    owner,
                    sub,
                    members,
                } => (
                    format!("{} {sub}", describe(owner)),
                    self.link(res, owner, sub, members).await,
                ),
            };
            match result {
                Ok((outcome, note)) => {
                    let verb = match outcome {
                        Outcome::Created => "created",
                        Outcome::Updated => "updated",
                        Outcome::Unchanged => "unchanged",
                    };
                    self.counts[outcome as usize] += 1;
                    println!("{verb:<9} {what}{note}");
                    if outcome != Outcome::Unchanged {
                        self.applied.push(what);
                    }
                }
                Err(e) => {
                    let before = if self.applied.is_empty() {
                        "nothing was changed before it".to_string()
                    } else {
                        format!(
                            "{} change(s) before it stay applied: {}",
                            self.applied.len(),
                            self.applied.join("; ")
                        )
                    };
                    bail!("{what} was refused, and left as it was: {e}\n{before}");
                }
            }
        }
        let [c, u, n] = self.counts;
        println!("{c} created, {u} updated, {n} unchanged.");
        Ok(())
    }
}

/// Drops `$encrypted$` placeholders (a new object has no stored secret for them to keep).
fn drop_encrypted(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, v| v != ENCRYPTED);
            o.values_mut().for_each(drop_encrypted);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_encrypted),
        _ => {}
    }
}

/// Puts `$encrypted$` wherever `shown` has it, so a secret (compared apart) does not count as
/// a change of the JSON around it.
fn mask_like(want: &mut Value, shown: &Value) {
    match (want, shown) {
        (Value::Object(w), Value::Object(s)) => {
            for (k, v) in w.iter_mut() {
                match s.get(k) {
                    Some(Value::String(m)) if m == ENCRYPTED && v.is_string() => {
                        *v = json!(ENCRYPTED)
                    }
                    Some(sv) => mask_like(v, sv),
                    None => {}
                }
            }
        }
        (Value::Array(w), Value::Array(s)) => {
            for (v, sv) in w.iter_mut().zip(s) {
                mask_like(v, sv);
            }
        }
        _ => {}
    }
}

/// `rawx manage import`: seeds a new database (managed credential types, the first superuser),
/// then imports `doc` as that installation's oldest superuser.
pub async fn import(
    store: rawx_store::DynStore,
    data_dir: &std::path::Path,
    projects_dir: std::path::PathBuf,
    doc: &Value,
) -> anyhow::Result<()> {
    let seeded = rawx_api::seed(&store, None)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the database: {e}"))?;
    if let Some((user, password)) = &seeded.admin {
        println!("Created superuser {user} with password: {password}");
    }
    let key = crate::serve::secret_key(data_dir)?;
    let config = rawx_api::Config {
        node_name: "rawx-manage".into(),
        projects_dir,
        install_uuid: seeded.install_uuid,
    };
    let state = rawx_api::AppState::new(store, rawx_bus::InProcessBus::new(), key, config);
    let Some(admin) = Admin::as_superuser(state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        bail!("there is no superuser to import as: create one with `rawx manage create-superuser`");
    };
    Importer::new(admin).run(doc).await
}
