//! The import of an inventory update: `ansible-inventory --list` JSON applied to an
//! inventory's hosts, groups, variables and children in one transaction, with AWX 24.6.1's
//! rules (`awx/main/management/commands/inventory_import.py` and `utils/mem_inventory.py`):
//! `overwrite` removes the hosts and groups this source brought in that left it (and their
//! memberships), `overwrite_vars` replaces variables instead of merging them,
//! `enabled_var`/`enabled_value` decide a host's `enabled`, `instance_id_var` matches hosts
//! across renames, `host_filter`/`group_filter` keep only matching names.
//!
//! Speed: the inventory is read once (a few column-only queries), the change is computed in
//! memory, and written as one [`Write`] batch of multi-row statements, so 10,000 hosts cost a
//! handful of statements rather than one per host (`bench/inventory_import.sh`).

use rawx_model::filter::Filter;
use rawx_model::resources::{
    GROUPS, GROUP_CHILDREN, GROUP_HOSTS, HOSTS, INVENTORIES, INVENTORY_SOURCES,
    INVENTORY_SOURCE_GROUPS, INVENTORY_SOURCE_HOSTS,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::parse_vars;
use rawx_model::Row;
use rawx_store::{DbError, Key, Store, Write};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// The import's options (AWX's `perform_update` options).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub overwrite: bool,
    pub overwrite_vars: bool,
    pub enabled_var: Option<String>,
    pub enabled_value: Option<String>,
    /// A regular expression host names must match from their start (Python's `re.match`).
    pub host_filter: Option<String>,
    pub group_filter: Option<String>,
    pub exclude_empty_groups: bool,
    /// Host variable(s) holding a stable instance id (`foo.bar`, several comma-separated).
    pub instance_id_var: Option<String>,
    /// 0 warnings only, 1 info (AWX's default), 2 debug: which lines `ImportReport::log` gets.
    pub verbosity: u8,
}

/// What an import did, and the log lines AWX's import writes (its job output).
#[derive(Debug, Default)]
pub struct ImportReport {
    pub groups: usize,
    pub hosts: usize,
    pub hosts_added: usize,
    pub hosts_updated: usize,
    pub hosts_deleted: usize,
    pub groups_added: usize,
    pub groups_deleted: usize,
    pub log: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(String),
    #[error("store: {0}")]
    Db(#[from] DbError),
}

#[derive(Debug)]
struct MemHost {
    name: String,
    vars: Map<String, Value>,
    /// Set from `instance_id_var` (AWX's `_build_mem_instance_id_map`).
    instance_id: String,
}

#[derive(Debug, Default)]
struct MemGroup {
    name: String,
    vars: Map<String, Value>,
    hosts: Vec<usize>,
    children: Vec<usize>,
    parents: Vec<usize>,
}

/// AWX's `MemInventory`: the `all` group apart (its vars are the inventory's), every other
/// group and host by name.
#[derive(Debug, Default)]
struct Mem {
    all_vars: Map<String, Value>,
    hosts: Vec<MemHost>,
    host_ix: HashMap<String, usize>,
    groups: Vec<MemGroup>,
    group_ix: HashMap<String, usize>,
    removed: HashSet<usize>,
    warnings: Vec<String>,
}

enum G {
    All,
    Group(usize),
}

struct Filters {
    host: regex::Regex,
    group: regex::Regex,
}

fn anchored(pattern: &str, what: &str) -> Result<regex::Regex, ImportError> {
    // Python's `re.match` anchors at the start only.
    regex::Regex::new(&format!("^(?:{pattern})"))
        .map_err(|_| ImportError::Invalid(format!("invalid regular expression for --{what}")))
}

impl Mem {
    fn get_host(&mut self, raw: &str, f: &Filters) -> Option<usize> {
        static IPV6_PORT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let ipv6 = IPV6_PORT
            .get_or_init(|| regex::Regex::new(r"^\[([A-Fa-f0-9:]{3,})\]:(\d+?)$").unwrap());
        let (name, port) = if let Some(c) = ipv6.captures(raw) {
            (c[1].to_string(), c[2].parse::<i64>().ok())
        } else if raw.matches(':').count() == 1 {
            let (h, p) = raw.split_once(':').unwrap_or((raw, ""));
            let port = p.parse::<i64>().ok();
            if port.is_none() {
                self.warnings
                    .push(format!("Invalid port \"{p}\" for host \"{h}\""));
            }
            (h.to_string(), port)
        } else {
            (raw.to_string(), None)
        };
        if !f.host.is_match(&name) {
            return None;
        }
        if let Some(i) = self.host_ix.get(&name) {
            return Some(*i);
        }
        let mut vars = Map::new();
        if let Some(p) = port {
            vars.insert("ansible_port".into(), json!(p));
        }
        self.hosts.push(MemHost {
            name: name.clone(),
            vars,
            instance_id: String::new(),
        });
        self.host_ix.insert(name, self.hosts.len() - 1);
        Some(self.hosts.len() - 1)
    }

    fn get_group(&mut self, name: &str, f: &Filters) -> Option<G> {
        if name == "all" || name == "ungrouped" {
            return Some(G::All);
        }
        if !f.group.is_match(name) {
            return None;
        }
        if let Some(i) = self.group_ix.get(name) {
            return Some(G::Group(*i));
        }
        self.groups.push(MemGroup {
            name: name.to_string(),
            ..MemGroup::default()
        });
        self.group_ix
            .insert(name.to_string(), self.groups.len() - 1);
        Some(G::Group(self.groups.len() - 1))
    }

    fn add_host(&mut self, g: &G, h: usize) {
        if let G::Group(g) = g {
            let hosts = &mut self.groups[*g].hosts;
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }

    fn add_child(&mut self, parent: &G, child: usize) {
        if let G::Group(p) = parent {
            if !self.groups[*p].children.contains(&child) {
                self.groups[*p].children.push(child);
            }
            if !self.groups[child].parents.contains(p) {
                self.groups[child].parents.push(*p);
            }
        }
    }

    /// AWX's `dict_to_mem_data`.
    fn load(data: &Map<String, Value>, f: &Filters) -> Mem {
        let mut m = Mem::default();
        for (k, v) in data {
            if k == "_meta" {
                continue;
            }
            let Some(group) = m.get_group(k, f) else {
                continue;
            };
            match v {
                Value::Object(o) => {
                    match o.get("hosts") {
                        Some(Value::Object(hosts)) => {
                            for (hk, hv) in hosts {
                                let Some(h) = m.get_host(hk, f) else { continue };
                                match hv {
                                    Value::Object(vars) => m.hosts[h]
                                        .vars
                                        .extend(vars.iter().map(|(a, b)| (a.clone(), b.clone()))),
                                    _ => m.warnings.push(format!(
                                        "Expected dict of vars for host \"{hk}\", got {} instead",
                                        py_type(hv)
                                    )),
                                }
                                m.add_host(&group, h);
                            }
                        }
                        Some(Value::Array(hosts)) => {
                            for hk in hosts {
                                let Some(h) = m.get_host(&py_str(hk), f) else {
                                    continue;
                                };
                                m.add_host(&group, h);
                            }
                        }
                        None => {}
                        Some(other) => m.warnings.push(format!(
                            "Expected dict or list of \"hosts\" for group \"{k}\", got {} instead",
                            py_type(other)
                        )),
                    }
                    match o.get("vars") {
                        Some(Value::Object(vars)) => {
                            let target = match group {
                                G::All => &mut m.all_vars,
                                G::Group(g) => &mut m.groups[g].vars,
                            };
                            target.extend(vars.iter().map(|(a, b)| (a.clone(), b.clone())));
                        }
                        None => {}
                        Some(other) => m.warnings.push(format!(
                            "Expected dict of vars for group \"{k}\", got {} instead",
                            py_type(other)
                        )),
                    }
                    match o.get("children") {
                        Some(Value::Array(children)) => {
                            for c in children {
                                let c = py_str(c);
                                if let Some(G::Group(child)) = m.get_group(&c, f) {
                                    m.add_child(&group, child);
                                }
                            }
                        }
                        None => {}
                        Some(other) => m.warnings.push(format!(
                            "Expected list of children for group \"{k}\", got {} instead",
                            py_type(other)
                        )),
                    }
                }
                Value::Array(hosts) => {
                    for hk in hosts {
                        let Some(h) = m.get_host(&py_str(hk), f) else {
                            continue;
                        };
                        m.add_host(&group, h);
                    }
                }
                other => m.warnings.push(format!(
                    "Expected dict or list for group \"{k}\", got {} instead",
                    py_type(other)
                )),
            }
        }
        if let Some(Value::Object(meta)) = data.get("_meta") {
            if let Some(Value::Object(hostvars)) = meta.get("hostvars") {
                for h in m.hosts.iter_mut() {
                    match hostvars.get(&h.name) {
                        Some(Value::Object(vars)) => {
                            h.vars
                                .extend(vars.iter().map(|(a, b)| (a.clone(), b.clone())));
                        }
                        None => {}
                        Some(other) => m.warnings.push(format!(
                            "Expected dict of vars for host \"{}\", got {} instead",
                            h.name,
                            py_type(other)
                        )),
                    }
                }
            }
        }
        m
    }

    /// `delete_empty_groups`: one pass, as AWX's.
    fn delete_empty_groups(&mut self) {
        for i in 0..self.groups.len() {
            let g = &self.groups[i];
            if g.children.is_empty() && g.hosts.is_empty() && g.vars.is_empty() {
                for p in g.parents.clone() {
                    self.groups[p].children.retain(|c| *c != i);
                }
                self.removed.insert(i);
            }
        }
    }

    fn live_groups(&self) -> impl Iterator<Item = (usize, &MemGroup)> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.removed.contains(i))
    }
}

/// Python's `type()` name of a JSON value, for AWX's warnings.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// Python's `str()` of a JSON scalar.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Python's truth value of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// AWX's `_get_instance_id`: the first of the comma-separated (dotted) variables that is set.
fn instance_id(vars: &Map<String, Value>, spec: Option<&str>) -> String {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return String::new();
    };
    let mut found = Value::String(String::new());
    for single in spec.split(',') {
        let mut from = Value::Object(vars.clone());
        found = Value::String(String::new());
        for key in single.split('.') {
            match from.as_object() {
                Some(o) => {
                    found = o.get(key).cloned().unwrap_or(Value::String(String::new()));
                    from = found.clone();
                }
                None => {
                    found = Value::String(String::new());
                    break;
                }
            }
        }
        if truthy(&found) {
            break;
        }
    }
    py_str(&found)
}

/// AWX's `_get_enabled`: `None` when the variable is not there.
fn enabled(vars: &Map<String, Value>, var: Option<&str>, value: Option<&str>) -> Option<bool> {
    let var = var.filter(|s| !s.is_empty())?;
    let mut from = Some(Value::Object(vars.clone()));
    let mut found: Option<Value> = None;
    for key in var.split('.') {
        match from.as_ref().and_then(Value::as_object) {
            Some(o) => {
                found = o.get(key).cloned();
                from = found.clone();
            }
            None => {
                found = None;
                break;
            }
        }
    }
    let found = found?;
    Some(match value {
        Some(v) => v.to_lowercase() == py_str(&found).to_lowercase(),
        None => truthy(&found),
    })
}

fn vars_of(row: &Row) -> Map<String, Value> {
    parse_vars(text(row, "variables")).unwrap_or_default()
}

fn to_text(vars: &Map<String, Value>) -> String {
    Value::Object(vars.clone()).to_string()
}

/// The `Store::exclusive` key of an inventory's import (AWX's
/// `advisory_lock('inventory_{id}_perform_update')`).
fn lock_key(inventory: i64) -> i64 {
    0x1_5EED_0000_0000 + inventory
}

/// Applies `data` (the JSON `ansible-inventory --list` printed) to inventory `inventory_id`
/// for inventory source `source_id`, in one transaction.
pub async fn import(
    store: &dyn Store,
    inventory_id: i64,
    source_id: i64,
    data: &Value,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let begin = Instant::now();
    let mut report = ImportReport::default();
    let info = opts.verbosity >= 1;
    let debug = opts.verbosity >= 2;
    let Some(data) = data.as_object() else {
        return Err(ImportError::Invalid(format!(
            "Returned JSON must be a dictionary, got {} instead",
            py_type(data)
        )));
    };
    let filters = Filters {
        host: anchored(
            opts.host_filter
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or(".+$"),
            "host-filter",
        )?,
        group: anchored(
            opts.group_filter
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or(".+$"),
            "group-filter",
        )?,
    };
    let _lock = store.exclusive(lock_key(inventory_id)).await?;
    let inventory = store.get(&INVENTORIES, inventory_id).await?;
    let source = store.get(&INVENTORY_SOURCES, source_id).await?;
    let constructed = text(&inventory, "kind") == "constructed";
    let iid_var = opts.instance_id_var.as_deref().filter(|s| !s.is_empty());

    if info {
        report.log.push("Processing JSON output...".into());
    }
    let mut mem = Mem::load(data, &filters);
    report.log.append(&mut mem.warnings);
    if info {
        report.log.push(format!(
            "Loaded {} groups, {} hosts",
            mem.groups.len(),
            mem.hosts.len()
        ));
    }
    if opts.exclude_empty_groups {
        mem.delete_empty_groups();
    }

    // What the inventory holds now.
    let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inventory_id));
    let db_hosts = store
        .project(
            &HOSTS,
            &by_inv,
            &["id", "name", "instance_id", "variables", "enabled"],
            &[("id", false)],
        )
        .await?;
    let db_groups = store
        .project(
            &GROUPS,
            &by_inv,
            &["id", "name", "variables"],
            &[("id", false)],
        )
        .await?;
    let by_source = Filter::eq("id", ColumnType::Int, json!(source_id));
    let source_hosts: HashSet<i64> = store
        .pairs(&INVENTORY_SOURCE_HOSTS, &by_source)
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    let source_groups: HashSet<i64> = store
        .pairs(&INVENTORY_SOURCE_GROUPS, &by_source)
        .await?
        .into_iter()
        .map(|(_, g)| g)
        .collect();
    let host_row: HashMap<i64, &Row> = db_hosts
        .iter()
        .filter_map(|h| Some((int(h, "id")?, h)))
        .collect();
    let group_by_name: HashMap<&str, &Row> =
        db_groups.iter().map(|g| (text(g, "name"), g)).collect();
    let group_name: HashMap<i64, &str> = db_groups
        .iter()
        .filter_map(|g| Some((int(g, "id")?, text(g, "name"))))
        .collect();

    // `_build_db_instance_id_map`: the source's hosts without an instance id that have one in
    // their variables.
    let mut db_iid: HashMap<String, i64> = HashMap::new();
    if iid_var.is_some() {
        for pk in &source_hosts {
            let Some(h) = host_row.get(pk) else { continue };
            if !text(h, "instance_id").is_empty() {
                continue;
            }
            let iid = instance_id(&vars_of(h), iid_var);
            if !iid.is_empty() {
                db_iid.insert(iid, *pk);
            }
        }
        // `_build_mem_instance_id_map`.
        for h in mem.hosts.iter_mut() {
            h.instance_id = instance_id(&h.vars, iid_var);
            if h.instance_id.is_empty() {
                report.log.push(format!(
                    "Host \"{}\" has no \"{}\" variable(s)",
                    h.name,
                    iid_var.unwrap_or_default()
                ));
            }
        }
    }

    // `_build_pk_mem_host_map`: which stored host each imported host is.
    // Imported host name → stored host; a later rule overwrites an earlier one, as AWX's
    // dict does.
    let mut name_pk: HashMap<String, i64> = HashMap::new();
    {
        let mut by_pk: HashMap<i64, usize> = HashMap::new();
        let mut by_iid: HashMap<&str, usize> = HashMap::new();
        for (i, h) in mem.hosts.iter().enumerate() {
            let iid = instance_id(&h.vars, iid_var);
            if let Some(pk) = db_iid.get(&iid) {
                by_pk.insert(*pk, i);
            } else if !iid.is_empty() {
                by_iid.insert(&h.instance_id, i);
            }
        }
        let mut updated: HashSet<i64> = HashSet::new();
        let mut pks: Vec<i64> = by_pk.keys().copied().collect();
        pks.sort_unstable();
        for pk in pks {
            if host_row.contains_key(&pk) && updated.insert(pk) {
                name_pk.insert(mem.hosts[by_pk[&pk]].name.clone(), pk);
            }
        }
        if !by_iid.is_empty() {
            for h in &db_hosts {
                let pk = int(h, "id").unwrap_or_default();
                if let Some(i) = by_iid.get(text(h, "instance_id")) {
                    if updated.insert(pk) {
                        name_pk.insert(mem.hosts[*i].name.clone(), pk);
                    }
                }
            }
        }
        for h in &db_hosts {
            let pk = int(h, "id").unwrap_or_default();
            if mem.host_ix.contains_key(text(h, "name")) && !updated.contains(&pk) {
                updated.insert(pk);
                name_pk.insert(text(h, "name").to_string(), pk);
            }
        }
    }
    // Stored host → imported host name (AWX's `pk_mem_host_map`).
    let pk_mem: HashMap<i64, String> = name_pk.iter().map(|(n, p)| (*p, n.clone())).collect();

    let mut steps: Vec<Write> = Vec::new();
    let mut deleted_hosts: HashSet<i64> = HashSet::new();
    let mut deleted_groups: HashSet<i64> = HashSet::new();
    let live_names: HashSet<&str> = mem.live_groups().map(|(_, g)| g.name.as_str()).collect();
    if opts.overwrite {
        // `_delete_hosts`: this source's hosts that are no longer in it.
        let mut del: Vec<i64> = source_hosts
            .iter()
            .filter(|pk| !pk_mem.contains_key(pk) && host_row.contains_key(pk))
            .copied()
            .collect();
        del.sort_unstable();
        for pk in &del {
            if debug {
                report
                    .log
                    .push(format!("Deleted host \"{}\"", text(host_row[pk], "name")));
            }
        }
        report.hosts_deleted = del.len();
        deleted_hosts.extend(&del);
        if !del.is_empty() {
            steps.push(Write::Delete(&HOSTS, del));
        }
        // `_delete_groups`.
        let mut del: Vec<i64> = source_groups
            .iter()
            .filter(|pk| group_name.get(pk).is_some_and(|n| !live_names.contains(n)))
            .copied()
            .collect();
        del.sort_unstable();
        for pk in &del {
            if debug {
                report
                    .log
                    .push(format!("Group \"{}\" deleted", group_name[pk]));
            }
        }
        report.groups_deleted = del.len();
        deleted_groups.extend(&del);
        if !del.is_empty() {
            steps.push(Write::Delete(&GROUPS, del));
        }
        // `_delete_group_children_and_hosts`: memberships of this source's groups that the
        // import no longer has, among what this source manages.
        let remaining: Vec<i64> = source_groups
            .iter()
            .filter(|g| group_name.contains_key(g) && !deleted_groups.contains(g))
            .copied()
            .collect();
        if !remaining.is_empty() {
            let inv_groups = Filter::eq("inventory", ColumnType::Int, json!(inventory_id));
            let children = store.pairs(&GROUP_CHILDREN, &inv_groups).await?;
            let members = store.pairs(&GROUP_HOSTS, &inv_groups).await?;
            let remaining: HashSet<i64> = remaining.into_iter().collect();
            let mut unchild = Vec::new();
            for (parent, child) in children {
                if !remaining.contains(&parent) || deleted_groups.contains(&child) {
                    continue;
                }
                let mg = &mem.groups[mem.group_ix[group_name[&parent]]];
                let cname = group_name.get(&child).copied().unwrap_or_default();
                let kept = mg.children.iter().any(|c| mem.groups[*c].name == cname);
                if !kept && live_names.contains(cname) {
                    if debug {
                        report.log.push(format!(
                            "Group \"{cname}\" removed from group \"{}\"",
                            group_name[&parent]
                        ));
                    }
                    unchild.push((parent, child));
                }
            }
            let mut unhost = Vec::new();
            for (g, h) in members {
                if !remaining.contains(&g)
                    || !source_hosts.contains(&h)
                    || deleted_hosts.contains(&h)
                {
                    continue;
                }
                let mg = &mem.groups[mem.group_ix[group_name[&g]]];
                let row = host_row[&h];
                let kept = mg.hosts.iter().any(|mh| {
                    let mh = &mem.hosts[*mh];
                    if mh.instance_id.is_empty() {
                        mh.name == text(row, "name")
                    } else {
                        mh.instance_id == text(row, "instance_id")
                            || db_iid.get(&mh.instance_id) == Some(&h)
                    }
                });
                if !kept {
                    if debug {
                        report.log.push(format!(
                            "Host \"{}\" removed from group \"{}\"",
                            text(row, "name"),
                            group_name[&g]
                        ));
                    }
                    unhost.push((g, h));
                }
            }
            if !unchild.is_empty() {
                steps.push(Write::Unlink(&GROUP_CHILDREN, unchild));
            }
            if !unhost.is_empty() {
                steps.push(Write::Unlink(&GROUP_HOSTS, unhost));
            }
        }
    }

    // `_update_inventory`: the `all` group's variables are the inventory's.
    let inv_vars = vars_of(&inventory);
    let new_inv_vars = if constructed && opts.overwrite_vars {
        mem.all_vars.clone()
    } else {
        let mut v = inv_vars.clone();
        v.extend(mem.all_vars.iter().map(|(a, b)| (a.clone(), b.clone())));
        v
    };
    if new_inv_vars != inv_vars {
        let mut row = Row::new();
        row.insert("variables".into(), json!(to_text(&new_inv_vars)));
        steps.push(Write::Update(&INVENTORIES, inventory_id, row));
        if debug {
            report
                .log
                .push("Inventory variables updated from \"all\" group".into());
        }
    }

    // `_create_update_groups`.
    let mut group_key: HashMap<String, Key> = HashMap::new();
    let mut new_groups: Vec<Row> = Vec::new();
    let mut new_group_names: Vec<String> = Vec::new();
    let mut source_group_links: Vec<(Key, Key)> = Vec::new();
    let mut names: Vec<(usize, &MemGroup)> = mem.live_groups().collect();
    names.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (_, mg) in &names {
        match group_by_name.get(mg.name.as_str()) {
            Some(row) if !deleted_groups.contains(&int(row, "id").unwrap_or_default()) => {
                let pk = int(row, "id").unwrap_or_default();
                let db = vars_of(row);
                let vars = if opts.overwrite_vars {
                    mg.vars.clone()
                } else {
                    let mut v = db.clone();
                    v.extend(mg.vars.iter().map(|(a, b)| (a.clone(), b.clone())));
                    v
                };
                if vars != db {
                    let mut r = Row::new();
                    r.insert("variables".into(), json!(to_text(&vars)));
                    steps.push(Write::Update(&GROUPS, pk, r));
                    if debug {
                        report
                            .log
                            .push(format!("Group \"{}\" variables updated", mg.name));
                    }
                }
                group_key.insert(mg.name.clone(), Key::Id(pk));
                source_group_links.push((Key::Id(source_id), Key::Id(pk)));
            }
            _ => {
                let mut vars = mg.vars.clone();
                let desc = vars
                    .shift_remove("_awx_description")
                    .map(|v| py_str(&v))
                    .unwrap_or_else(|| "imported".into());
                let mut r = Row::new();
                r.insert("name".into(), json!(mg.name));
                r.insert("description".into(), json!(desc));
                r.insert("inventory".into(), json!(inventory_id));
                r.insert("variables".into(), json!(to_text(&vars)));
                new_groups.push(r);
                new_group_names.push(mg.name.clone());
                if debug {
                    report.log.push(format!("Group \"{}\" added", mg.name));
                }
            }
        }
    }
    report.groups_added = new_groups.len();
    if !new_groups.is_empty() {
        let step = steps.len();
        for (i, n) in new_group_names.iter().enumerate() {
            group_key.insert(n.clone(), Key::New(step, i));
            source_group_links.push((Key::Id(source_id), Key::New(step, i)));
        }
        steps.push(Write::Insert(&GROUPS, new_groups));
    }
    if !source_group_links.is_empty() {
        steps.push(Write::Link(&INVENTORY_SOURCE_GROUPS, source_group_links));
    }

    // `_create_update_hosts`.
    let strip_remote = |vars: &mut Map<String, Value>| {
        // A constructed inventory's hosts do not keep their input inventory's ids.
        for prefix in ["host", "tower"] {
            vars.shift_remove(&format!("remote_{prefix}_enabled"));
            vars.shift_remove(&format!("remote_{prefix}_id"));
        }
    };
    let mut host_by_name: HashMap<String, Key> = HashMap::new();
    let mut host_by_iid: HashMap<String, Vec<Key>> = HashMap::new();
    for h in &db_hosts {
        let pk = int(h, "id").unwrap_or_default();
        if deleted_hosts.contains(&pk) || pk_mem.contains_key(&pk) {
            continue;
        }
        host_by_name.insert(text(h, "name").to_string(), Key::Id(pk));
        if !text(h, "instance_id").is_empty() {
            host_by_iid
                .entry(text(h, "instance_id").to_string())
                .or_default()
                .push(Key::Id(pk));
        }
    }
    let mut source_host_links: Vec<(Key, Key)> = Vec::new();
    let mut pks: Vec<i64> = pk_mem.keys().copied().collect();
    pks.sort_unstable();
    let mut updated_names: HashSet<&str> = HashSet::new();
    for pk in pks {
        let row = host_row[&pk];
        let mh = &mem.hosts[mem.host_ix[&pk_mem[&pk]]];
        updated_names.insert(&mh.name);
        let mut mem_vars = mh.vars.clone();
        let mut r = Row::new();
        let iid = instance_id(&mem_vars, iid_var);
        if iid != text(row, "instance_id") {
            r.insert("instance_id".into(), json!(iid));
        }
        if constructed {
            strip_remote(&mut mem_vars);
        }
        let db = vars_of(row);
        let vars = if opts.overwrite_vars {
            mem_vars.clone()
        } else {
            let mut v = db.clone();
            v.extend(mem_vars.iter().map(|(a, b)| (a.clone(), b.clone())));
            v
        };
        if vars != db {
            r.insert("variables".into(), json!(to_text(&vars)));
        }
        if let Some(en) = enabled(
            &mem_vars,
            opts.enabled_var.as_deref(),
            opts.enabled_value.as_deref(),
        ) {
            if row.get("enabled") != Some(&json!(en)) {
                r.insert("enabled".into(), json!(en));
                if debug {
                    report.log.push(format!(
                        "Host \"{}\" is now {}",
                        mh.name,
                        if en { "enabled" } else { "disabled" }
                    ));
                }
            }
        }
        if mh.name != text(row, "name") {
            r.insert("name".into(), json!(mh.name));
            if debug {
                report.log.push(format!(
                    "Host renamed from \"{}\" to \"{}\"",
                    text(row, "name"),
                    mh.name
                ));
            }
        }
        if !r.is_empty() {
            r.insert("has_inventory_sources".into(), json!(true));
            steps.push(Write::Update(&HOSTS, pk, r));
            report.hosts_updated += 1;
        }
        host_by_name.insert(mh.name.clone(), Key::Id(pk));
        if !iid.is_empty() {
            host_by_iid.entry(iid).or_default().push(Key::Id(pk));
        }
        source_host_links.push((Key::Id(source_id), Key::Id(pk)));
    }
    let mut to_create: Vec<&MemHost> = mem
        .hosts
        .iter()
        .filter(|h| !updated_names.contains(h.name.as_str()))
        .collect();
    to_create.sort_by(|a, b| a.name.cmp(&b.name));
    let mut new_hosts: Vec<Row> = Vec::with_capacity(to_create.len());
    let mut new_host_names: Vec<(String, String)> = Vec::new();
    for mh in &to_create {
        if mh.name.contains("{{") || mh.name.contains("{%") {
            return Err(ImportError::Invalid(format!(
                "Inline Jinja variables are not allowed.: {}",
                mh.name
            )));
        }
        let mut vars = mh.vars.clone();
        let desc = vars
            .shift_remove("_awx_description")
            .map(|v| py_str(&v))
            .unwrap_or_else(|| "imported".into());
        let en = enabled(
            &vars,
            opts.enabled_var.as_deref(),
            opts.enabled_value.as_deref(),
        );
        let iid = if iid_var.is_some() {
            instance_id(&vars, iid_var)
        } else {
            String::new()
        };
        if constructed {
            strip_remote(&mut vars);
        }
        // A stored host of that name that no imported host claimed (it was matched to
        // another by instance id): AWX's `update_or_create` updates it.
        if let Some(Key::Id(pk)) = host_by_name.get(&mh.name).copied() {
            let mut r = Row::new();
            r.insert("description".into(), json!(desc));
            if let Some(en) = en {
                r.insert("enabled".into(), json!(en));
            }
            r.insert("instance_id".into(), json!(iid));
            r.insert("variables".into(), json!(to_text(&vars)));
            r.insert("has_inventory_sources".into(), json!(true));
            steps.push(Write::Update(&HOSTS, pk, r));
            source_host_links.push((Key::Id(source_id), Key::Id(pk)));
            report.hosts_updated += 1;
            continue;
        }
        let mut r = Row::new();
        r.insert("name".into(), json!(mh.name));
        r.insert("description".into(), json!(desc));
        r.insert("inventory".into(), json!(inventory_id));
        r.insert("enabled".into(), json!(en.unwrap_or(true)));
        r.insert("instance_id".into(), json!(iid));
        r.insert("variables".into(), json!(to_text(&vars)));
        r.insert("has_inventory_sources".into(), json!(true));
        new_hosts.push(r);
        new_host_names.push((mh.name.clone(), iid));
        if debug {
            report.log.push(if en == Some(false) {
                format!("Host \"{}\" added (disabled)", mh.name)
            } else {
                format!("Host \"{}\" added", mh.name)
            });
        }
    }
    report.hosts_added = new_hosts.len();
    if !new_hosts.is_empty() {
        let step = steps.len();
        for (i, (n, iid)) in new_host_names.iter().enumerate() {
            host_by_name.insert(n.clone(), Key::New(step, i));
            if !iid.is_empty() {
                host_by_iid
                    .entry(iid.clone())
                    .or_default()
                    .push(Key::New(step, i));
            }
            source_host_links.push((Key::Id(source_id), Key::New(step, i)));
        }
        steps.push(Write::Insert(&HOSTS, new_hosts));
    }
    if !source_host_links.is_empty() {
        steps.push(Write::Link(&INVENTORY_SOURCE_HOSTS, source_host_links));
    }

    // `_create_update_group_children` and `_create_update_group_hosts`: links that exist
    // already stay as they are.
    let mut child_links = Vec::new();
    let mut host_links = Vec::new();
    for (_, mg) in &names {
        let Some(gk) = group_key.get(&mg.name).copied() else {
            continue;
        };
        for c in &mg.children {
            if mem.removed.contains(c) {
                continue;
            }
            if let Some(ck) = group_key.get(&mem.groups[*c].name) {
                child_links.push((gk, *ck));
            }
        }
        for h in &mg.hosts {
            let mh = &mem.hosts[*h];
            if mh.instance_id.is_empty() {
                if let Some(hk) = host_by_name.get(&mh.name) {
                    host_links.push((gk, *hk));
                }
            } else if let Some(keys) = host_by_iid.get(&mh.instance_id) {
                host_links.extend(keys.iter().map(|hk| (gk, *hk)));
            }
        }
    }
    if !child_links.is_empty() {
        steps.push(Write::Link(&GROUP_CHILDREN, child_links));
    }
    if !host_links.is_empty() {
        steps.push(Write::Link(&GROUP_HOSTS, host_links));
    }

    store.apply(&steps).await?;
    report.groups = mem.live_groups().count();
    report.hosts = mem.hosts.len();
    if info {
        report.log.push(format!(
            "Inventory import completed for {} in {:.1}s",
            text(&source, "name"),
            begin.elapsed().as_secs_f64()
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters() -> Filters {
        Filters {
            host: anchored(".+$", "host-filter").unwrap(),
            group: anchored(".+$", "group-filter").unwrap(),
        }
    }

    #[test]
    fn loads_as_dict_to_mem_data_does() {
        let data = json!({
            "_meta": {"hostvars": {"web1": {"a": 1}, "db1": {"b": 2}}},
            "all": {"children": ["ungrouped", "web", "db"], "vars": {"env": "prod"}},
            "web": {"hosts": ["web1", "web2:2222"], "children": ["edge"]},
            "db": {"hosts": {"db1": {"c": 3}}},
            "edge": ["[fe80::1]:22"],
            "ungrouped": {"hosts": ["lone"]},
        });
        let m = Mem::load(data.as_object().unwrap(), &filters());
        assert_eq!(m.all_vars["env"], "prod");
        let names: Vec<&str> = m.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["web", "db", "edge"]);
        let web = &m.groups[m.group_ix["web"]];
        assert_eq!(web.children, vec![m.group_ix["edge"]]);
        let h = |n: &str| &m.hosts[m.host_ix[n]];
        assert_eq!(h("web1").vars["a"], 1);
        assert_eq!(h("web2").vars["ansible_port"], 2222);
        assert_eq!(h("db1").vars["b"], 2);
        assert_eq!(h("db1").vars["c"], 3);
        assert_eq!(h("fe80::1").vars["ansible_port"], 22);
        assert!(m.host_ix.contains_key("lone"));
    }

    #[test]
    fn enabled_and_instance_id_follow_awx() {
        let vars: Map<String, Value> = serde_json::from_value(
            json!({"status": {"power": "ON"}, "up": true, "id": 7, "x": {"id": ""}, "y": "i-2"}),
        )
        .unwrap();
        assert_eq!(enabled(&vars, Some("status.power"), Some("on")), Some(true));
        assert_eq!(
            enabled(&vars, Some("status.power"), Some("off")),
            Some(false)
        );
        assert_eq!(enabled(&vars, Some("up"), None), Some(true));
        assert_eq!(enabled(&vars, Some("up"), Some("true")), Some(true));
        assert_eq!(enabled(&vars, Some("missing"), Some("x")), None);
        assert_eq!(enabled(&vars, None, None), None);
        assert_eq!(instance_id(&vars, Some("id")), "7");
        assert_eq!(instance_id(&vars, Some("x.id,y")), "i-2");
        assert_eq!(instance_id(&vars, Some("nope")), "");
        assert_eq!(instance_id(&vars, None), "");
    }

    #[test]
    fn host_filter_matches_from_the_start() {
        let f = Filters {
            host: anchored("web", "host-filter").unwrap(),
            group: anchored(".+$", "group-filter").unwrap(),
        };
        let data = json!({"g": {"hosts": ["web1", "xweb"]}});
        let m = Mem::load(data.as_object().unwrap(), &f);
        assert!(m.host_ix.contains_key("web1"));
        assert!(!m.host_ix.contains_key("xweb"));
        assert!(anchored("(", "host-filter").is_err());
    }
}
