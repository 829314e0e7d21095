//! AWX's activity stream, written: every change `write.rs` makes becomes one entry (AWX's
//! `activity_stream_create/update/delete/associate` signals), unless `ACTIVITY_STREAM_ENABLED`
//! is off. What an entry says follows AWX 24.6.1's `model_to_dict` and `model_instance_diff`:
//! the fields a client may write (and `id`), each shown as AWX shows it — a foreign key as
//! `name-id`, a mapping as JSON text, a password or an encrypted value as `hidden`, a secret
//! inside a mapping as `$encrypted$` — so nothing secret ever reaches an entry.
//!
//! Recording never fails the change it records: the change is stored already, and an entry
//! that cannot be written is logged instead (`write.rs` stores it).

use crate::{AppState, Identity};
use rawx_domain::settings::ACTIVITY_STREAM_ENABLED;
use rawx_model::resources::{by_key, INVENTORY_SOURCES, ROLES, ROLE_USERS};
use rawx_model::schema::{int, text, Kind, Relation, Resource, SubList};
use rawx_model::Row;
use serde_json::{json, Map, Value};

/// What one entry is about.
pub(crate) enum Activity<'a> {
    Create {
        res: &'static Resource,
        after: &'a Row,
    },
    Update {
        res: &'static Resource,
        before: &'a Row,
        after: &'a Row,
    },
    Delete {
        res: &'static Resource,
        before: &'a Row,
    },
    Link {
        relation: &'static Relation,
        left: i64,
        right: i64,
        associate: bool,
    },
    /// A role granted to (or taken from) a team, which AWX records on the role's object.
    TeamRole { role: i64, team: i64, on: bool },
}

/// Whether entries are recorded at all; checked before reading rows only entries need.
pub(crate) async fn enabled(state: &AppState) -> bool {
    state.settings().get(ACTIVITY_STREAM_ENABLED).await
}

/// The entry for `what`, for `write.rs` to store once it checked that the stream is on (none
/// for an update that changed no field a client writes).
pub(crate) async fn entry_for(
    state: &AppState,
    ident: &Identity,
    what: Activity<'_>,
) -> Option<Row> {
    let mut row = entry(state, what).await?;
    row.insert("timestamp".into(), json!(rawx_model::now_string()));
    row.insert("actor".into(), json!(ident.actor.user_id));
    row.insert(
        "deleted_actor".into(),
        json!({
            "id": ident.actor.user_id,
            "username": ident.username(),
            "first_name": text(&ident.user, "first_name"),
            "last_name": text(&ident.user, "last_name"),
        }),
    );
    row.insert("action_node".into(), json!(state.config.node_name));
    Some(row)
}

async fn entry(state: &AppState, what: Activity<'_>) -> Option<Row> {
    let mut row = Row::new();
    let op = |row: &mut Row, op: &str, res: &Resource, id: Option<i64>| {
        row.insert("operation".into(), json!(op));
        row.insert("object1".into(), json!(res.type_name));
        row.insert("object1_id".into(), json!(id));
        row.insert("object2".into(), json!(""));
    };
    match what {
        Activity::Create { res, after } => {
            op(&mut row, "create", res, int(after, "id"));
            row.insert(
                "changes".into(),
                Value::Object(as_dict(state, res, after).await),
            );
        }
        Activity::Update { res, before, after } => {
            let mut diff = Map::new();
            for f in writable(res) {
                let (old, new) = (field(before, f.name), field(after, f.name));
                if old != new {
                    diff.insert(
                        f.name.into(),
                        json!([
                            display(state, res, f, &old).await,
                            display(state, res, f, &new).await
                        ]),
                    );
                }
            }
            if diff.is_empty() {
                return None;
            }
            op(&mut row, "update", res, int(after, "id"));
            row.insert("changes".into(), Value::Object(diff));
        }
        Activity::Delete { res, before } => {
            // AWX links no object to a delete entry (it is gone); rawx keeps its id so the
            // entry still lists under the id's `activity_stream` until the id is reused.
            op(&mut row, "delete", res, int(before, "id"));
            row.insert(
                "changes".into(),
                Value::Object(as_dict(state, res, before).await),
            );
        }
        Activity::Link {
            relation,
            left,
            right,
            associate,
        } => {
            let action = if associate {
                "associate"
            } else {
                "disassociate"
            };
            if relation.table == ROLE_USERS.table {
                return grant(state, &mut row, action, left, "user", right).await;
            }
            let (l, r) = (by_key(relation.left.0)?, by_key(relation.right.0)?);
            // AWX leaves inventory sources' links out of the stream.
            if [l, r].iter().any(|x| x.key == INVENTORY_SOURCES.key) {
                return None;
            }
            let sub = l
                .subs
                .iter()
                .find(|s| {
                    matches!(s.list, SubList::Linked { relation: rel, from_left: true }
                             if rel.table == relation.table)
                })
                .map_or(relation.table, |s| s.name);
            // AWX names the relation by its through model: `<module>.<Model>_<field>`.
            let rel = format!("awx.main.models.{}_{sub}", class(l.type_name));
            row.insert("operation".into(), json!(action));
            row.insert("object1".into(), json!(l.type_name));
            row.insert("object1_id".into(), json!(left));
            row.insert("object2".into(), json!(r.type_name));
            row.insert("object2_id".into(), json!(right));
            row.insert("object_relationship_type".into(), json!(rel));
            row.insert(
                "changes".into(),
                json!({"object1": l.type_name, "object1_pk": left, "object2": r.type_name,
                       "object2_pk": right, "action": action, "relationship": rel}),
            );
        }
        Activity::TeamRole { role, team, on } => {
            let action = if on { "associate" } else { "disassociate" };
            return grant(state, &mut row, action, role, "team", team).await;
        }
    }
    Some(row)
}

/// A role granted to a user or team: AWX's entry names the holder and the role's object, and
/// its relationship is the role (`awx.main.models.<Model>.<role_field>`).
async fn grant(
    state: &AppState,
    row: &mut Row,
    action: &str,
    role: i64,
    holder: &str,
    holder_id: i64,
) -> Option<Row> {
    let r = state.store.get(&ROLES, role).await.ok()?;
    let content = by_key(text(&r, "content_type"));
    let object2 = content.map_or("role", |c| c.type_name);
    let rel = format!(
        "awx.main.models.{}.{}",
        class(content.map_or("role", |c| c.type_name)),
        text(&r, "role_field")
    );
    row.insert("operation".into(), json!(action));
    row.insert("object1".into(), json!(holder));
    row.insert("object1_id".into(), json!(holder_id));
    row.insert("object2".into(), json!(object2));
    row.insert("object2_id".into(), json!(int(&r, "object_id")));
    row.insert("role_id".into(), json!(role));
    row.insert("object_relationship_type".into(), json!(rel));
    row.insert(
        "changes".into(),
        json!({"object1": holder, "object1_pk": holder_id, "object2": object2,
               "object2_pk": role, "action": action, "relationship": rel}),
    );
    Some(std::mem::take(row))
}

/// The fields AWX's `get_allowed_fields` keeps: those the serializer lets a client write.
fn writable(res: &'static Resource) -> impl Iterator<Item = &'static rawx_model::schema::Field> {
    res.fields
        .iter()
        .filter(|f| !f.read_only && !f.internal && f.name != "last_login")
}

fn field(row: &Row, name: &str) -> Value {
    row.get(name).cloned().unwrap_or(Value::Null)
}

/// AWX's `model_to_dict`: every writable field, and `id`.
async fn as_dict(state: &AppState, res: &'static Resource, row: &Row) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), field(row, "id"));
    for f in writable(res) {
        let v = display(state, res, f, &field(row, f.name)).await;
        out.insert(f.name.into(), v);
    }
    out
}

/// AWX's `_convert_model_field_for_display`.
async fn display(
    state: &AppState,
    res: &'static Resource,
    f: &rawx_model::schema::Field,
    v: &Value,
) -> Value {
    let hidden = matches!(f.kind, Kind::Password)
        || f.write_only
        || state.api(res).masked(f.name)
        || v.as_str().is_some_and(|s| s.starts_with("$encrypted$"));
    if hidden {
        return json!("hidden");
    }
    match (f.kind, v) {
        (_, Value::Null | Value::Bool(_)) => v.clone(),
        (Kind::Fk(target), Value::Number(n)) => {
            // `str()` of the object: AWX's models print as `name-id`.
            let id = n.as_i64().unwrap_or_default();
            let name = match by_key(target) {
                Some(t) => match (t.name_field, state.store.get(t, id).await) {
                    (Some(nf), Ok(r)) => Some(text(&r, nf).to_string()),
                    _ => None,
                },
                None => None,
            };
            match name {
                Some(n) => json!(format!("{n}-{id}")),
                None => json!(id.to_string()),
            }
        }
        (_, Value::Number(n)) if n.is_i64() => v.clone(),
        (Kind::Json, Value::String(s)) => {
            let mut parsed: Value = serde_json::from_str(s).unwrap_or(Value::String(s.clone()));
            mask(&mut parsed);
            json!(parsed.to_string())
        }
        (_, Value::Object(_) | Value::Array(_)) => {
            let mut m = v.clone();
            mask(&mut m);
            json!(m.to_string())
        }
        (_, Value::String(s)) => json!(s),
        (_, other) => json!(other.to_string()),
    }
}

/// Secrets inside a mapping (a credential's `inputs`) as AWX's `display_inputs` shows them.
fn mask(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("$encrypted$") => *s = "$encrypted$".into(),
        Value::Object(m) => m.values_mut().for_each(mask),
        Value::Array(a) => a.iter_mut().for_each(mask),
        _ => {}
    }
}

/// `job_template` → `JobTemplate` (the model's class name).
fn class(type_name: &str) -> String {
    type_name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{class, mask};
    use serde_json::json;

    #[test]
    fn class_names_and_masked_inputs_read_as_awx_writes_them() {
        assert_eq!(class("job_template"), "JobTemplate");
        assert_eq!(class("o_auth2_access_token"), "OAuth2AccessToken");
        let mut inputs = json!({"username": "u", "password": "$encrypted$UTF8$AESCBC$Z0FBQUFB"});
        mask(&mut inputs);
        assert_eq!(inputs, json!({"username": "u", "password": "$encrypted$"}));
    }
}
