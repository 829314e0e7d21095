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
use rawx_model::filter::{Cond, Filter};
use rawx_model::rbac::{self, has_roles, role_defs, Parent};
use rawx_model::resources::{
    by_key, ALL, ORGANIZATIONS, ORG_ADMINS, ORG_MEMBERS, ROLES, ROLE_ANCESTORS, ROLE_PARENTS,
    ROLE_USERS, TEAMS, TEAM_MEMBERS,
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
    for d in role_defs(res.key) {
        let rid = ids[d.field];
        let mut want = BTreeSet::new();
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

/// Removes an object's roles (with their grants and closure rows, by cascade) and rebuilds
/// what inherited from them (the roles granted to a deleted team).
pub async fn delete_object(store: &dyn Store, res: &'static Resource, id: i64) -> DomainResult<()> {
    if !has_roles(res) {
        return Ok(());
    }
    let _one = store.exclusive(ROLE_LOCK).await?;
    let mine: Vec<i64> = object_roles(store, res.key, id)
        .await?
        .into_values()
        .collect();
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
    store.delete_where(&ROLES, &ids_in("id", mine)).await?;
    rebuild(store, &below).await
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
    Ok(())
}
