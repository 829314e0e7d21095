//! `/api/v2/activity_stream/` and every object's `activity_stream` sub-list, read (entries are
//! written by `activity.rs`): AWX 24.6.1's `ActivityStreamSerializer` and
//! `ActivityStreamAccess`.

use crate::error::ApiResult;
use crate::resource::ResourceApi;
use crate::view::Renderer;
use rawx_model::filter::{Cond, Filter};
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{activity_of, ACTIVITY_STREAM, ALL, USERS};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct ActivityStream;

/// The resource an entry's object type names.
fn of_type(type_name: &str) -> Option<&'static Resource> {
    ALL.iter().copied().find(|r| r.type_name == type_name)
}

#[async_trait::async_trait]
impl ResourceApi for ActivityStream {
    fn schema(&self) -> &'static Resource {
        &ACTIVITY_STREAM
    }

    /// `ActivityStreamAccess.filtered_queryset`: system administrators and auditors see every
    /// entry (those of deleted objects too); anyone else an entry naming an object they may
    /// read, or themselves.
    fn read_filter(&self, actor: &Actor) -> Option<Filter> {
        if actor.sees_all() {
            return None;
        }
        let mut any = vec![activity_of(&USERS, actor.user_id)];
        for res in ALL.iter().copied().filter(|r| r.is_public()) {
            if res.key == ACTIVITY_STREAM.key {
                continue;
            }
            let visible = rbac::read_filter(res, actor);
            for (k, kid) in [("object1", "object1_id"), ("object2", "object2_id")] {
                let mut f = Filter::eq(k, ColumnType::Text, json!(res.type_name));
                if let Some(visible) = &visible {
                    f = f.and(Filter::On {
                        path: vec![],
                        column: kid,
                        ctype: ColumnType::Int,
                        cond: Cond::InSelect {
                            table: res.key,
                            column: "id",
                            filter: Box::new(visible.clone()),
                        },
                    });
                }
                any.push(f);
            }
        }
        Some(Filter::Any(any))
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        // AWX's serializer leaves these out.
        for k in ["created", "modified"] {
            out.remove(k);
        }
        let mut related = Map::new();
        let mut summary = Map::new();
        if let Some(uid) = int(row, "actor") {
            if let Some(s) = r.summary(USERS.key, uid).await? {
                related.insert("actor".into(), json!(format!("/api/v2/users/{uid}/")));
                let pick = |k: &str| s.get(k).cloned().unwrap_or(json!(""));
                summary.insert(
                    "actor".into(),
                    json!({"id": uid, "username": pick("username"),
                           "first_name": pick("first_name"), "last_name": pick("last_name")}),
                );
            } else if let Some(Value::String(d)) = row.get("deleted_actor") {
                // The user is gone: AWX shows what it kept, without an id.
                let mut kept: Value = serde_json::from_str(d).unwrap_or(json!({}));
                kept["id"] = Value::Null;
                summary.insert("actor".into(), kept);
            }
        }
        let mut objects = vec![
            (text(row, "object1").to_string(), int(row, "object1_id")),
            (text(row, "object2").to_string(), int(row, "object2_id")),
        ];
        if let Some(role) = int(row, "role_id") {
            objects.push(("role".into(), Some(role)));
        }
        for (ty, id) in objects {
            let (Some(res), Some(id)) = (of_type(&ty), id) else {
                continue;
            };
            let Some(s) = r.summary(res.key, id).await? else {
                continue;
            };
            if let Some(a) = related
                .entry(ty.clone())
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                a.push(json!(format!("/api/v2/{}/{id}/", res.key)));
            }
            if let Some(a) = summary
                .entry(ty)
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                a.push(s);
            }
        }
        out.insert("related".into(), Value::Object(related));
        out.insert("summary_fields".into(), Value::Object(summary));
        let rel = text(row, "object_relationship_type");
        let (association, object_type) = if rel.is_empty() {
            (String::new(), String::new())
        } else if rel.ends_with("_role") {
            // `awx.main.models.organization.Organization.admin_role`: "role", "organization".
            let class = rel.rsplit('.').nth(1).unwrap_or_default();
            ("role".to_string(), underscore(class))
        } else {
            // `…Group_hosts`: what follows the model's name. AWX 24.6.1 gives no type here.
            let last = rel.rsplit('.').next().unwrap_or_default();
            let association = last.split_once('_').map(|(_, a)| a.to_string());
            (association.unwrap_or_default(), String::new())
        };
        out.insert("object_association".into(), json!(association));
        out.insert("object_type".into(), json!(object_type));
        Ok(())
    }
}

/// AWX's `camelcase_to_underscore` (`JobTemplate` → `job_template`).
fn underscore(class: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = class.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && chars[i - 1].is_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::underscore;

    #[test]
    fn class_names_become_awx_type_names() {
        assert_eq!(underscore("Organization"), "organization");
        assert_eq!(underscore("JobTemplate"), "job_template");
        assert_eq!(underscore("WorkflowJobTemplate"), "workflow_job_template");
    }
}
