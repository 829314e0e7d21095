//! Keeps AWX's role tables in step with the objects (`rawx_model::resources::roles`): makes an
//! object's roles when it is made, sets their implicit parents from its foreign keys, grants
//! roles to teams (the team's member role becomes a parent), and maintains the ancestor
//! closure the permission filters read. Also answers "does this user hold this role".
//!
//! The closure is rebuilt for the roles whose parents changed and everything below them
//! (AWX's `rebuild_role_ancestor_list`): a role's ancestors are itself and its parents'
//! ancestors. Rebuilds run one at a time database-wide (`Store::exclusive`), so two nodes
//! changing the graph together cannot leave it half-updated.

use crate::DomainResult;
use rawx_model::dab;
use rawx_model::filter::{Cond, Filter};
use rawx_model::rbac::{self, has_roles, role_defs, Parent};
use rawx_model::resources::{
    by_key, ALL, ORGANIZATIONS, ORG_ADMINS, ORG_MEMBERS, ROLES, ROLE_ANCESTORS, ROLE_DEFINITIONS,
    ROLE_PARENTS, ROLE_TEAM_ASSIGNMENTS, ROLE_USERS, ROLE_USER_ASSIGNMENTS, TEAMS, TEAM_MEMBERS,
    USERS,
};
use rawx_model::schema::{int, text, ColumnType, Kind, Resource};
use rawx_model::Row;
use rawx_store::{DbError, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The database-wide lock every change of the role graph holds.
const ROLE_LOCK: i64 = 0x7261_7778_726f_6c65;

fn int_eq(col: &'static str, v: i64) -> Filter {
    Filter::eq(col, ColumnType::Int, json!(v))
}

fn ids_in(col: &'static str, ids: impl IntoIterator<Item = i64>) -> Filter {
    Filter::On {
        path: vec![],
        column: col,
        ctype: ColumnType::Int,
        cond: Cond::In(ids.into_iter().map(Value::from).collect()),
    }
}

/// The roles of an object, by field.
pub async fn object_roles(
    store: &dyn Store,
    content_type: &str,
    id: i64,
) -> DomainResult<BTreeMap<String, i64>> {
    let f = Filter::eq("content_type", ColumnType::Text, json!(content_type))
        .and(int_eq("object_id", id));
    let rows = store.list_all(&ROLES, &f, &[("id", false)]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((text(r, "role_field").to_string(), int(r, "id")?)))
        .collect())
}

/// One role of an object.
pub async fn role_of(
    store: &dyn Store,
    content_type: &str,
    id: i64,
    field: &str,
) -> DomainResult<Option<i64>> {
    Ok(object_roles(store, content_type, id)
        .await?
        .get(field)
        .copied())
}

/// Does `user` hold one of `fields` of the object (directly, through a team, or through an
/// ancestor such as its organization's admin role)?
pub async fn holds(
    store: &dyn Store,
    user: i64,
    content_type: &'static str,
    id: i64,
    fields: &[&'static str],
) -> DomainResult<bool> {
    let f = rbac::roles_named(content_type, fields)
        .and(int_eq("object_id", id))
        .and(rbac::held_roles(user));
    Ok(store.count(&ROLES, &f).await? > 0)
}

/// The objects of `content_type` one of whose `fields` roles `user` holds.
pub async fn objects_held(
    store: &dyn Store,
    user: i64,
    content_type: &'static str,
    fields: &[&'static str],
) -> DomainResult<Vec<i64>> {
    let f = rbac::roles_named(content_type, fields).and(rbac::held_roles(user));
    let rows = store
        .project(&ROLES, &f, &["object_id"], &[("object_id", false)])
        .await?;
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| int(r, "object_id")).collect();
    ids.dedup();
    Ok(ids)
}

/// The teams a role is granted to.
pub async fn teams_granted(store: &dyn Store, role: i64) -> DomainResult<Vec<i64>> {
    let f = int_eq("role", role).and(Filter::eq("implicit", ColumnType::Bool, json!(false)));
    let parents: Vec<i64> = store
        .list_all(&ROLE_PARENTS, &f, &[("id", false)])
        .await?
        .iter()
        .filter_map(|r| int(r, "parent"))
        .collect();
    if parents.is_empty() {
        return Ok(vec![]);
    }
    let f = ids_in("id", parents).and(rbac::roles_named("teams", &["member_role"]));
    Ok(store
        .list_all(&ROLES, &f, &[("object_id", false)])
        .await?
        .iter()
        .filter_map(|r| int(r, "object_id"))
        .collect())
}

/// The roles granted to a team (those its member role is a parent of, by grant).
pub async fn team_grants(store: &dyn Store, team: i64) -> DomainResult<Vec<i64>> {
    let Some(member) = role_of(store, "teams", team, "member_role").await? else {
        return Ok(vec![]);
    };
    let f = int_eq("parent", member).and(Filter::eq("implicit", ColumnType::Bool, json!(false)));
    Ok(store
        .list_all(&ROLE_PARENTS, &f, &[("role", false)])
        .await?
        .iter()
        .filter_map(|r| int(r, "role"))
        .collect())
}

/// Grants `role` to a team (`on`) or revokes it: the team's member role becomes (or stops
/// being) a parent of `role`, so every member holds it.
pub async fn grant_team(store: &dyn Store, role: i64, team: i64, on: bool) -> DomainResult<()> {
    grant_team_by(store, role, team, on, None).await
}

/// `grant_team`, recording who granted it (`created_by` of the DAB assignment).
pub async fn grant_team_by(
    store: &dyn Store,
    role: i64,
    team: i64,
    on: bool,
    by: Option<i64>,
) -> DomainResult<()> {
    let row = store.get(&ROLES, role).await?;
    mirror_assignment(store, &ROLE_TEAM_ASSIGNMENTS, "team", &row, team, on, by).await?;
    let _one = store.exclusive(ROLE_LOCK).await?;
    let member = match role_of(store, "teams", team, "member_role").await? {
        Some(m) => m,
        None => {
            let row = store.get(&TEAMS, team).await?;
            make_roles(store, &TEAMS, &row).await?;
            role_of(store, "teams", team, "member_role")
                .await?
                .ok_or(DbError::NotFound)?
        }
    };
    let f = int_eq("role", role)
        .and(int_eq("parent", member))
        .and(Filter::eq("implicit", ColumnType::Bool, json!(false)));
    if on {
        if store.find(&ROLE_PARENTS, &f).await?.is_none() {
            let mut r = Row::new();
            r.insert("role".into(), json!(role));
            r.insert("parent".into(), json!(member));
            r.insert("implicit".into(), json!(false));
            match store.insert(&ROLE_PARENTS, &r).await {
                Ok(_) | Err(DbError::Unique(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        store.delete_where(&ROLE_PARENTS, &f).await?;
    }
    rebuild(store, &[role]).await
}

/// Makes the object's missing roles and sets their implicit parents from `row` (the object
/// as stored), then rebuilds the closure where anything changed. Called on every create and
/// update of a resource with roles.
pub async fn sync_object(store: &dyn Store, res: &'static Resource, row: &Row) -> DomainResult<()> {
    if !has_roles(res) {
        return Ok(());
    }
    let _one = store.exclusive(ROLE_LOCK).await?;
    let changed = make_roles(store, res, row).await?;
    rebuild(store, &changed).await
}

/// `sync_object` without the lock or the rebuild: the roles whose parents changed.
async fn make_roles(
    store: &dyn Store,
    res: &'static Resource,
    row: &Row,
) -> DomainResult<Vec<i64>> {
    let Some(id) = int(row, "id") else {
        return Ok(vec![]);
    };
    let mut ids = object_roles(store, res.key, id).await?;
    let mut changed = Vec::new();
    for d in role_defs(res.key) {
        if ids.contains_key(d.field) {
            continue;
        }
        let mut r = Row::new();
        r.insert("role_field".into(), json!(d.field));
        r.insert("content_type".into(), json!(res.key));
        r.insert("object_id".into(), json!(id));
        let rid = match store.insert(&ROLES, &r).await {
            Ok(rid) => rid,
            Err(DbError::Unique(_)) => role_of(store, res.key, id, d.field)
                .await?
                .ok_or(DbError::NotFound)?,
            Err(e) => return Err(e.into()),
        };
        ids.insert(d.field.to_string(), rid);
        changed.push(rid);
    }
    let custom = custom_parents(store, res, row, &ids).await?;
    for d in role_defs(res.key) {
        let rid = ids[d.field];
        let mut want: BTreeSet<i64> = custom.get(d.field).cloned().unwrap_or_default();
        for p in d.parents {
            let parent = match p {
                Parent::Own(f) => ids.get(*f).copied(),
                Parent::Via(path, f) => Box::pin(via_role(store, res, row, path, f)).await?,
            };
            want.extend(parent);
        }
        let f = int_eq("role", rid).and(Filter::eq("implicit", ColumnType::Bool, json!(true)));
        let have: BTreeSet<i64> = store
            .list_all(&ROLE_PARENTS, &f, &[("id", false)])
            .await?
            .iter()
            .filter_map(|r| int(r, "parent"))
            .collect();
        if have == want {
            continue;
        }
        let gone: Vec<i64> = have.difference(&want).copied().collect();
        if !gone.is_empty() {
            store
                .delete_where(&ROLE_PARENTS, &f.clone().and(ids_in("parent", gone)))
                .await?;
        }
        let rows: Vec<Row> = want
            .difference(&have)
            .map(|p| {
                let mut r = Row::new();
                r.insert("role".into(), json!(rid));
                r.insert("parent".into(), json!(p));
                r.insert("implicit".into(), json!(true));
                r
            })
            .collect();
        if !rows.is_empty() {
            store.insert_many(&ROLE_PARENTS, &rows).await?;
        }
        changed.push(rid);
    }
    Ok(changed)
}

/// The role `field` of the object `path`'s foreign keys lead to from `row`; its roles are
/// made if it has none yet.
async fn via_role(
    store: &dyn Store,
    res: &'static Resource,
    row: &Row,
    path: &[&'static str],
    field: &str,
) -> DomainResult<Option<i64>> {
    let mut cur_res = res;
    let mut cur = row.clone();
    for col in path {
        let Some(Kind::Fk(target)) = cur_res.field(col).map(|f| f.kind) else {
            return Ok(None);
        };
        let Some(next) = int(&cur, col) else {
            return Ok(None);
        };
        cur_res = by_key(target).expect("fk target");
        cur = match store.get(cur_res, next).await {
            Ok(r) => r,
            Err(DbError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    }
    let id = int(&cur, "id").unwrap_or_default();
    if let Some(r) = role_of(store, cur_res.key, id, field).await? {
        return Ok(Some(r));
    }
    make_roles(store, cur_res, &cur).await?;
    // Its closure rows come with the caller's rebuild of its own roles only if they are
    // parents; make them now so the caller's rebuild reads them.
    let made: Vec<i64> = object_roles(store, cur_res.key, id)
        .await?
        .into_values()
        .collect();
    rebuild(store, &made).await?;
    role_of(store, cur_res.key, id, field).await
}

/// Removes the roles of a deleted object and of every object the database removed with it
/// (an organization's inventories and teams go by cascade), with their grants and closure
/// rows, and rebuilds what inherited from them (the roles granted to a deleted team, the
/// templates of a deleted organization).
pub async fn delete_object(
    store: &dyn Store,
    res: &'static Resource,
    _id: i64,
) -> DomainResult<()> {
    if !rbac::takes_assignments(res) {
        return Ok(());
    }
    let _one = store.exclusive(ROLE_LOCK).await?;
    let mine = orphans(store).await?;
    if mine.is_empty() {
        return Ok(());
    }
    let below: Vec<i64> = store
        .list_all(
            &ROLE_ANCESTORS,
            &ids_in("ancestor", mine.clone()),
            &[("id", false)],
        )
        .await?
        .iter()
        .filter_map(|r| int(r, "descendent"))
        .filter(|d| !mine.contains(d))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in mine.chunks(5000) {
        store
            .delete_where(&ROLES, &ids_in("id", chunk.to_vec()))
            .await?;
    }
    rebuild(store, &below).await
}

/// The roles whose object no longer exists.
async fn orphans(store: &dyn Store) -> DomainResult<Vec<i64>> {
    let mut out = Vec::new();
    for r in ALL.iter().copied().filter(|r| rbac::takes_assignments(r)) {
        let f = text_eq("content_type", r.key).and(Filter::Not(Box::new(Filter::On {
            path: vec![],
            column: "object_id",
            ctype: ColumnType::Int,
            cond: rawx_model::filter::Cond::InSelect {
                table: r.key,
                column: "id",
                filter: Box::new(Filter::All(vec![])),
            },
        })));
        out.extend(
            store
                .project(&ROLES, &f, &["id"], &[("id", false)])
                .await?
                .iter()
                .filter_map(|r| int(r, "id")),
        );
    }
    Ok(out)
}

/// After an object changed: the roles of objects whose implicit parents run through it (a
/// template's read role inherits from its inventory's organization's auditor role) are set
/// again, so moving an inventory to another organization re-parents its templates.
pub async fn sync_dependents(
    store: &dyn Store,
    res: &'static Resource,
    id: i64,
) -> DomainResult<()> {
    let mut pairs = Vec::new();
    for dep in ALL.iter().copied().filter(|r| has_roles(r)) {
        let cols: BTreeSet<&'static str> = role_defs(dep.key)
            .iter()
            .flat_map(|d| d.parents.iter())
            .filter_map(|p| match p {
                Parent::Via(path, _) if path.len() > 1 => Some(path[0]),
                _ => None,
            })
            .filter(
                |col| matches!(dep.field(col).map(|f| f.kind), Some(Kind::Fk(t)) if t == res.key),
            )
            .collect();
        pairs.extend(cols.into_iter().map(|c| (dep, c)));
    }
    if pairs.is_empty() {
        return Ok(());
    }
    let mut changed = Vec::new();
    let _one = store.exclusive(ROLE_LOCK).await?;
    for (dep, col) in pairs {
        for row in store
            .list_all(dep, &int_eq(col, id), &[("id", false)])
            .await?
        {
            changed.extend(make_roles(store, dep, &row).await?);
        }
    }
    rebuild(store, &changed).await
}

/// Recomputes the closure of `roots` and every role below them.
async fn rebuild(store: &dyn Store, roots: &[i64]) -> DomainResult<()> {
    if roots.is_empty() {
        return Ok(());
    }
    let mut todo: BTreeSet<i64> = roots.iter().copied().collect();
    let below = store
        .list_all(
            &ROLE_ANCESTORS,
            &ids_in("ancestor", roots.to_vec()),
            &[("id", false)],
        )
        .await?;
    todo.extend(below.iter().filter_map(|r| int(r, "descendent")));
    let mut parents: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in store
        .list_all(
            &ROLE_PARENTS,
            &ids_in("role", todo.clone()),
            &[("id", false)],
        )
        .await?
    {
        if let (Some(c), Some(p)) = (int(&r, "role"), int(&r, "parent")) {
            parents.entry(c).or_default().push(p);
        }
    }
    let outside: BTreeSet<i64> = parents
        .values()
        .flatten()
        .filter(|p| !todo.contains(p))
        .copied()
        .collect();
    let mut anc: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    if !outside.is_empty() {
        for r in store
            .list_all(
                &ROLE_ANCESTORS,
                &ids_in("descendent", outside.clone()),
                &[("id", false)],
            )
            .await?
        {
            if let (Some(d), Some(a)) = (int(&r, "descendent"), int(&r, "ancestor")) {
                anc.entry(d).or_default().insert(a);
            }
        }
        for o in &outside {
            anc.entry(*o).or_default().insert(*o);
        }
    }
    fn compute(
        r: i64,
        parents: &HashMap<i64, Vec<i64>>,
        anc: &mut HashMap<i64, BTreeSet<i64>>,
        visiting: &mut BTreeSet<i64>,
    ) -> BTreeSet<i64> {
        if let Some(a) = anc.get(&r) {
            return a.clone();
        }
        let mut out = BTreeSet::from([r]);
        // A cycle (which AWX's model never makes) stops here instead of recursing forever.
        if visiting.insert(r) {
            for p in parents.get(&r).into_iter().flatten() {
                out.extend(compute(*p, parents, anc, visiting));
            }
            visiting.remove(&r);
        }
        anc.insert(r, out.clone());
        out
    }
    let mut visiting = BTreeSet::new();
    let mut want: BTreeSet<(i64, i64)> = BTreeSet::new();
    for r in &todo {
        for a in compute(*r, &parents, &mut anc, &mut visiting) {
            want.insert((*r, a));
        }
    }
    let current = store
        .list_all(
            &ROLE_ANCESTORS,
            &ids_in("descendent", todo.clone()),
            &[("id", false)],
        )
        .await?;
    let mut have = BTreeSet::new();
    let mut stale = Vec::new();
    for r in &current {
        let (Some(d), Some(a), Some(id)) = (int(r, "descendent"), int(r, "ancestor"), int(r, "id"))
        else {
            continue;
        };
        if want.contains(&(d, a)) {
            have.insert((d, a));
        } else {
            stale.push(id);
        }
    }
    if !stale.is_empty() {
        for chunk in stale.chunks(5000) {
            store
                .delete_where(&ROLE_ANCESTORS, &ids_in("id", chunk.to_vec()))
                .await?;
        }
    }
    let rows: Vec<Row> = want
        .difference(&have)
        .map(|(d, a)| {
            let mut r = Row::new();
            r.insert("descendent".into(), json!(d));
            r.insert("ancestor".into(), json!(a));
            r
        })
        .collect();
    if !rows.is_empty() {
        store.insert_many(&ROLE_ANCESTORS, &rows).await?;
    }
    Ok(())
}

/// Brings a database up to the role model, idempotently (run at every start, under the
/// seed's lock): the system singletons, the roles of every object that has none (objects
/// made before roles existed, or by the seed), and organization and team membership from
/// the tables that held it before (`organization_members`, `organization_admins`,
/// `team_members`), moved into member and admin role grants and removed there.
pub async fn backfill(store: &dyn Store) -> DomainResult<()> {
    for name in rbac::SINGLETONS {
        let f = Filter::eq("singleton_name", ColumnType::Text, json!(name));
        if store.find(&ROLES, &f).await?.is_none() {
            let mut r = Row::new();
            r.insert("role_field".into(), json!(name));
            r.insert("content_type".into(), json!(""));
            r.insert("singleton_name".into(), json!(name));
            store.insert(&ROLES, &r).await?;
        }
    }
    for res in ALL.iter().copied().filter(|r| has_roles(r)) {
        let f = Filter::eq("content_type", ColumnType::Text, json!(res.key));
        let with: BTreeSet<i64> = store
            .project(&ROLES, &f, &["object_id"], &[("object_id", false)])
            .await?
            .iter()
            .filter_map(|r| int(r, "object_id"))
            .collect();
        for row in store
            .list_all(res, &Filter::All(vec![]), &[("id", false)])
            .await?
        {
            if int(&row, "id").is_some_and(|id| !with.contains(&id)) {
                sync_object(store, res, &row).await?;
            }
        }
    }
    for (rel, content, field) in [
        (&ORG_MEMBERS, &ORGANIZATIONS, "member_role"),
        (&ORG_ADMINS, &ORGANIZATIONS, "admin_role"),
        (&TEAM_MEMBERS, &TEAMS, "member_role"),
    ] {
        for row in store
            .list_all(content, &Filter::All(vec![]), &[("id", false)])
            .await?
        {
            let id = int(&row, "id").unwrap_or_default();
            let users = store.linked(rel, true, id).await?;
            if users.is_empty() {
                continue;
            }
            let role = role_of(store, content.key, id, field)
                .await?
                .ok_or(DbError::NotFound)?;
            for u in users {
                store.link(&ROLE_USERS, role, u).await?;
                store.unlink(rel, id, u).await?;
            }
        }
    }
    seed_definitions(store).await?;
    backfill_assignments(store).await
}

/// The DAB side of grants made before it existed (or by an older rawx): an assignment for
/// every direct grant that has none, and the system roles' members from the users' flags.
async fn backfill_assignments(store: &dyn Store) -> DomainResult<()> {
    let flagged = Filter::Any(vec![
        Filter::eq("is_superuser", ColumnType::Bool, json!(true)),
        Filter::eq("is_system_auditor", ColumnType::Bool, json!(true)),
    ]);
    for u in store.list_all(&USERS, &flagged, &[("id", false)]).await? {
        sync_user_flags(store, int(&u, "id").unwrap_or_default()).await?;
    }
    let held = Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: rawx_model::filter::Cond::InSelect {
            table: "role_users",
            column: "role_id",
            filter: Box::new(Filter::All(vec![])),
        },
    };
    for role in store.list_all(&ROLES, &held, &[("id", false)]).await? {
        let rid = int(&role, "id").unwrap_or_default();
        let have: BTreeSet<i64> = store
            .list_all(
                &ROLE_USER_ASSIGNMENTS,
                &int_eq("object_role", rid),
                &[("id", false)],
            )
            .await?
            .iter()
            .filter_map(|r| int(r, "user"))
            .collect();
        for u in store.linked(&ROLE_USERS, true, rid).await? {
            if !have.contains(&u) {
                mirror_assignment(store, &ROLE_USER_ASSIGNMENTS, "user", &role, u, true, None)
                    .await?;
            }
        }
    }
    let grants = Filter::eq("implicit", ColumnType::Bool, json!(false));
    for g in store
        .list_all(&ROLE_PARENTS, &grants, &[("id", false)])
        .await?
    {
        let (Some(role), Some(parent)) = (int(&g, "role"), int(&g, "parent")) else {
            continue;
        };
        let p = store.get(&ROLES, parent).await?;
        let Some(team) = int(&p, "object_id").filter(|_| text(&p, "content_type") == TEAMS.key)
        else {
            continue;
        };
        let f = int_eq("object_role", role).and(int_eq("team", team));
        if store.find(&ROLE_TEAM_ASSIGNMENTS, &f).await?.is_none() {
            let row = store.get(&ROLES, role).await?;
            mirror_assignment(
                store,
                &ROLE_TEAM_ASSIGNMENTS,
                "team",
                &row,
                team,
                true,
                None,
            )
            .await?;
        }
    }
    Ok(())
}

// ---- AWX 24's role definitions and assignments (DAB RBAC) over the same grants ----

/// The role field of a custom definition's role on an object: `rd:<definition id>`.
pub fn custom_field(definition: i64) -> String {
    format!("rd:{definition}")
}

fn custom_def_of(field: &str) -> Option<i64> {
    field.strip_prefix("rd:")?.parse().ok()
}

/// Is this an old-model role field (not a custom definition's role)?
pub fn is_old_field(field: &str) -> bool {
    !field.starts_with("rd:")
}

/// A definition's permissions (stored as a JSON list).
pub fn definition_permissions(row: &Row) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text(row, "permissions")).unwrap_or_default()
}

fn text_eq(col: &'static str, v: &str) -> Filter {
    Filter::eq(col, ColumnType::Text, json!(v))
}

fn null_or_eq(col: &'static str, v: Option<&str>) -> Filter {
    match v {
        Some(v) => text_eq(col, v),
        None => Filter::On {
            path: vec![],
            column: col,
            ctype: ColumnType::Text,
            cond: rawx_model::filter::Cond::IsNull(true),
        },
    }
}

/// Makes AWX's managed definitions, or brings them back to what AWX defines (run at every
/// start).
pub async fn seed_definitions(store: &dyn Store) -> DomainResult<()> {
    for d in dab::managed() {
        let mut r = Row::new();
        r.insert("name".into(), json!(d.name));
        r.insert("description".into(), json!(d.description));
        r.insert("managed".into(), json!(true));
        r.insert(
            "content_type".into(),
            json!(d.content_type.map(|m| m.content_type())),
        );
        r.insert(
            "permissions".into(),
            json!(json!(d.permissions).to_string()),
        );
        r.insert("old_role".into(), json!(d.old_role));
        match store
            .find(&ROLE_DEFINITIONS, &text_eq("name", &d.name))
            .await?
        {
            None => {
                store.insert(&ROLE_DEFINITIONS, &r).await?;
            }
            Some(have) => {
                let same = [
                    "description",
                    "managed",
                    "content_type",
                    "permissions",
                    "old_role",
                ]
                .iter()
                .all(|k| have.get(*k).unwrap_or(&Value::Null) == &r[*k]);
                if !same {
                    store
                        .update(&ROLE_DEFINITIONS, int(&have, "id").unwrap_or_default(), &r)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// The definition a role's direct grants are assignments of: a custom role's own; the old
/// role's managed twin, or the "… Compat" definition AWX makes for it (made here the first
/// time, as AWX's `get_role_definition` does); the System Auditor for that singleton. `None`
/// for the system administrator, which DAB does not list.
pub async fn definition_for_role(store: &dyn Store, role: &Row) -> DomainResult<Option<i64>> {
    let field = text(role, "role_field");
    if let Some(d) = custom_def_of(field) {
        return Ok(Some(d));
    }
    if !role.get("singleton_name").is_none_or(Value::is_null) {
        if field != "system_auditor" {
            return Ok(None);
        }
        let f = text_eq("old_role", field).and(null_or_eq("content_type", None));
        return Ok(store
            .find(&ROLE_DEFINITIONS, &f)
            .await?
            .and_then(|r| int(&r, "id")));
    }
    let Some(model) = dab::model_of_key(text(role, "content_type")) else {
        return Ok(None);
    };
    let ct = model.content_type();
    let f = text_eq("old_role", field).and(text_eq("content_type", &ct));
    if let Some(r) = store.find(&ROLE_DEFINITIONS, &f).await? {
        return Ok(int(&r, "id"));
    }
    let Some(def) = role_defs(text(role, "content_type"))
        .iter()
        .find(|d| d.field == field)
    else {
        return Ok(None);
    };
    let perms: Vec<String> = dab::old_role_permissions(model.key.unwrap_or_default(), def.field)
        .into_iter()
        .collect();
    let (name, description) = dab::compat_name(model, field);
    let mut r = Row::new();
    r.insert("name".into(), json!(name));
    r.insert("description".into(), json!(description));
    // AWX makes it managed only where a custom definition would be refused (team roles).
    r.insert(
        "managed".into(),
        json!(dab::validate_custom(&perms, Some(model)).is_err()),
    );
    r.insert("content_type".into(), json!(ct));
    r.insert("permissions".into(), json!(json!(perms).to_string()));
    r.insert("old_role".into(), json!(field));
    match store.insert(&ROLE_DEFINITIONS, &r).await {
        Ok(id) => Ok(Some(id)),
        Err(DbError::Unique(_)) => Ok(store
            .find(&ROLE_DEFINITIONS, &text_eq("name", &name))
            .await?
            .and_then(|r| int(&r, "id"))),
        Err(e) => Err(e.into()),
    }
}

/// Writes or removes the assignment row mirroring one direct grant.
async fn mirror_assignment(
    store: &dyn Store,
    table: &'static Resource,
    actor_col: &'static str,
    role: &Row,
    actor: i64,
    on: bool,
    by: Option<i64>,
) -> DomainResult<()> {
    let rid = int(role, "id").unwrap_or_default();
    let f = int_eq(actor_col, actor).and(int_eq("object_role", rid));
    if !on {
        store.delete_where(table, &f).await?;
        return Ok(());
    }
    if store.find(table, &f).await?.is_some() {
        return Ok(());
    }
    let Some(def) = definition_for_role(store, role).await? else {
        return Ok(());
    };
    let mut r = Row::new();
    r.insert("role_definition".into(), json!(def));
    r.insert(actor_col.into(), json!(actor));
    r.insert("object_role".into(), json!(rid));
    let ct = text(role, "content_type");
    r.insert(
        "content_type".into(),
        if ct.is_empty() {
            Value::Null
        } else {
            json!(ct)
        },
    );
    r.insert(
        "object_id".into(),
        role.get("object_id").cloned().unwrap_or(Value::Null),
    );
    r.insert("created_by".into(), json!(by));
    match store.insert(table, &r).await {
        Ok(_) | Err(DbError::Unique(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Grants `role` to a user or revokes it: the one way a user's direct grant changes, so the
/// old view (`role_users`) and DAB's (`role_user_assignments`) stay one set. The system
/// roles are the user's flags: holding the administrator role is being a superuser, the
/// auditor role a system auditor.
pub async fn set_user(
    store: &dyn Store,
    role: i64,
    user: i64,
    on: bool,
    by: Option<i64>,
) -> DomainResult<()> {
    let row = store.get(&ROLES, role).await?;
    if on {
        store.link(&ROLE_USERS, role, user).await?;
    } else {
        store.unlink(&ROLE_USERS, role, user).await?;
    }
    mirror_assignment(store, &ROLE_USER_ASSIGNMENTS, "user", &row, user, on, by).await?;
    let flag = match row.get("singleton_name").and_then(Value::as_str) {
        Some("system_administrator") => Some("is_superuser"),
        Some("system_auditor") => Some("is_system_auditor"),
        _ => None,
    };
    if let Some(flag) = flag {
        let u = store.get(&USERS, user).await?;
        if u.get(flag).and_then(Value::as_bool).unwrap_or(false) != on {
            let mut r = Row::new();
            r.insert(flag.into(), json!(on));
            store.update(&USERS, user, &r).await?;
        }
    }
    Ok(())
}

/// After a user is made or changed: membership of the system roles follows the flags (AWX's
/// `sync_superuser_status_to_rbac` and the `is_system_auditor` setter).
pub async fn sync_user_flags(store: &dyn Store, user: i64) -> DomainResult<()> {
    let u = store.get(&USERS, user).await?;
    for (flag, name) in [
        ("is_superuser", "system_administrator"),
        ("is_system_auditor", "system_auditor"),
    ] {
        let Some(role) = store.find(&ROLES, &text_eq("singleton_name", name)).await? else {
            continue;
        };
        let rid = int(&role, "id").unwrap_or_default();
        let want = u.get(flag).and_then(Value::as_bool).unwrap_or(false);
        let has = store.linked(&ROLE_USERS, false, user).await?.contains(&rid);
        if want != has {
            if want {
                store.link(&ROLE_USERS, rid, user).await?;
            } else {
                store.unlink(&ROLE_USERS, rid, user).await?;
            }
            mirror_assignment(
                store,
                &ROLE_USER_ASSIGNMENTS,
                "user",
                &role,
                user,
                want,
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// The role of a custom definition on an object, made (and wired below the object's old
/// roles it covers) the first time it is granted.
pub async fn custom_role(
    store: &dyn Store,
    definition: i64,
    res: &'static Resource,
    object: i64,
) -> DomainResult<i64> {
    let field = custom_field(definition);
    if let Some(r) = role_of(store, res.key, object, &field).await? {
        return Ok(r);
    }
    let _one = store.exclusive(ROLE_LOCK).await?;
    let mut r = Row::new();
    r.insert("role_field".into(), json!(field));
    r.insert("content_type".into(), json!(res.key));
    r.insert("object_id".into(), json!(object));
    let rid = match store.insert(&ROLES, &r).await {
        Ok(rid) => rid,
        Err(DbError::Unique(_)) => role_of(store, res.key, object, &field)
            .await?
            .ok_or(DbError::NotFound)?,
        Err(e) => return Err(e.into()),
    };
    resync_under(store, res, object).await?;
    // Its own row of the closure: an object without old roles (an execution environment)
    // re-wires nothing above, so nothing else rebuilds it.
    rebuild(store, &[rid]).await?;
    Ok(rid)
}

/// Sets the implicit parents again of an object's roles and, for an organization, of every
/// object in it, then rebuilds the closure: after a custom role on it appears or its
/// definition changes. The caller holds the lock.
async fn resync_under(store: &dyn Store, res: &'static Resource, object: i64) -> DomainResult<()> {
    let mut changed = Vec::new();
    let row = store.get(res, object).await?;
    changed.extend(make_roles(store, res, &row).await?);
    if res.key == ORGANIZATIONS.key {
        for child in ALL.iter().copied().filter(|r| {
            has_roles(r) && r.key != ORGANIZATIONS.key && r.field("organization").is_some()
        }) {
            for row in store
                .list_all(child, &int_eq("organization", object), &[("id", false)])
                .await?
            {
                changed.extend(make_roles(store, child, &row).await?);
            }
        }
    }
    rebuild(store, &changed).await
}

/// After a custom definition's permissions change: every role of it is wired again.
pub async fn definition_changed(store: &dyn Store, definition: i64) -> DomainResult<()> {
    let field = custom_field(definition);
    let rows = store
        .list_all(&ROLES, &text_eq("role_field", &field), &[("id", false)])
        .await?;
    let _one = store.exclusive(ROLE_LOCK).await?;
    for r in rows {
        if let (Some(res), Some(oid)) = (by_key(text(&r, "content_type")), int(&r, "object_id")) {
            resync_under(store, res, oid).await?;
        }
    }
    Ok(())
}

/// Deletes a definition: every assignment of it is revoked first (so the old view loses
/// those grants too), then its roles and the definition go.
pub async fn delete_definition(store: &dyn Store, definition: i64) -> DomainResult<()> {
    let f = int_eq("role_definition", definition);
    for a in store
        .list_all(&ROLE_USER_ASSIGNMENTS, &f, &[("id", false)])
        .await?
    {
        if let (Some(role), Some(user)) = (int(&a, "object_role"), int(&a, "user")) {
            set_user(store, role, user, false, None).await?;
        }
    }
    for a in store
        .list_all(&ROLE_TEAM_ASSIGNMENTS, &f, &[("id", false)])
        .await?
    {
        if let (Some(role), Some(team)) = (int(&a, "object_role"), int(&a, "team")) {
            grant_team_by(store, role, team, false, None).await?;
        }
    }
    let field = custom_field(definition);
    let mine: Vec<i64> = store
        .list_all(&ROLES, &text_eq("role_field", &field), &[("id", false)])
        .await?
        .iter()
        .filter_map(|r| int(r, "id"))
        .collect();
    if !mine.is_empty() {
        let _one = store.exclusive(ROLE_LOCK).await?;
        let below: Vec<i64> = store
            .list_all(
                &ROLE_ANCESTORS,
                &ids_in("ancestor", mine.clone()),
                &[("id", false)],
            )
            .await?
            .iter()
            .filter_map(|r| int(r, "descendent"))
            .filter(|d| !mine.contains(d))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        store.delete_where(&ROLES, &ids_in("id", mine)).await?;
        rebuild(store, &below).await?;
    }
    store
        .delete_where(&ROLE_DEFINITIONS, &int_eq("id", definition))
        .await?;
    Ok(())
}

/// The custom roles that are parents of `res`'s role `field` for this object: custom roles
/// on the object itself and on its organization whose definition covers that role.
async fn custom_parents(
    store: &dyn Store,
    res: &'static Resource,
    row: &Row,
    own: &BTreeMap<String, i64>,
) -> DomainResult<BTreeMap<&'static str, BTreeSet<i64>>> {
    let mut rows: Vec<(&'static str, String, i64)> = own
        .iter()
        .filter(|(f, _)| !is_old_field(f))
        .map(|(f, id)| (res.key, f.clone(), *id))
        .collect();
    if res.key != ORGANIZATIONS.key {
        if let Some(org) = int(row, "organization").filter(|_| res.field("organization").is_some())
        {
            for (f, id) in object_roles(store, ORGANIZATIONS.key, org).await? {
                if !is_old_field(&f) {
                    rows.push((ORGANIZATIONS.key, f, id));
                }
            }
        }
    }
    let mut out: BTreeMap<&'static str, BTreeSet<i64>> = BTreeMap::new();
    for (key, field, rid) in rows {
        let Some(def) = custom_def_of(&field) else {
            continue;
        };
        let perms = match store.get(&ROLE_DEFINITIONS, def).await {
            Ok(d) => definition_permissions(&d),
            Err(DbError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        for (k, f) in dab::covers(key, &perms) {
            if k == res.key {
                out.entry(f).or_default().insert(rid);
            }
        }
    }
    Ok(out)
}
