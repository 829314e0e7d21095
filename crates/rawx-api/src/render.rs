//! Stored rows rendered in AWX's object shape: `id, type, url, related, summary_fields,
//! created, modified`, then the fields. Secrets never leave here in the clear: sealed values
//! read `$encrypted$`, fields a resource masks read as stars. What a resource adds (links,
//! summaries, derived fields) comes from its `ResourceApi`.

use crate::error::ApiResult;
use crate::view::{mask_secrets, url_of, Renderer};
use rawx_model::schema::int;
use rawx_model::schema::{Kind, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

impl Renderer<'_> {
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
        if let Some(roles) = self.object_roles_summary(res, id).await? {
            summary.insert("object_roles".into(), roles);
            for sub in ["object_roles", "access_list"] {
                related.insert(
                    sub.into(),
                    json!(format!("/api/v2/{}/{}/{}/", res.key, id, sub)),
                );
            }
        }
        let api = self.state.api(res);
        api.related(row, &mut related);
        api.summary_fields(self, row, &mut summary).await?;
        let editable = api.can_change(self, row).await?;
        let mut caps = Map::new();
        caps.insert("edit".into(), json!(editable));
        caps.insert("delete".into(), json!(editable));
        api.user_capabilities(self, row, &mut caps).await?;
        if let Some(shown) = show_capabilities(res.key) {
            caps.retain(|k, _| shown.contains(&k.as_str()));
        }
        summary.insert("user_capabilities".into(), Value::Object(caps));
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
                (_, Value::String(_)) if api.masked(f.name) => json!("************"),
                (_, v) => v,
            };
            out.insert(f.name.into(), v);
        }
        api.derived(self, row, &mut out).await?;
        Ok(Value::Object(out))
    }
}

/// The capabilities each of AWX's serializers shows (`show_capabilities` in
/// awx/api/serializers.py); `None` for AWX's default (`edit`, `delete`).
fn show_capabilities(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        // `UnifiedJobSerializer`: a job is relaunched or deleted, never edited.
        "jobs" | "ad_hoc_commands" | "workflow_jobs" => &["start", "delete"],
        "projects" | "job_templates" | "workflow_job_templates" => {
            &["start", "schedule", "copy", "edit", "delete"]
        }
        "inventories" => &["edit", "delete", "adhoc", "copy"],
        "groups" => &["copy", "edit", "delete"],
        "credentials" => &["edit", "delete", "copy", "use"],
        "execution_environments" => &["edit", "delete", "copy"],
        "instances" => &["edit"],
        _ => return None,
    })
}
