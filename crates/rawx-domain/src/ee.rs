//! Execution environments: which one a job runs in (AWX's `resolve_execution_environment`) and
//! what an `image` may be (`validate_container_image_name`).
//!
//! What an execution environment is to rawx: rawx runs no containers. Every job runs in the
//! node's own Python environment (`rawx-ee`: the operator's `ansible-runner`, or the virtualenv
//! rawx builds), which the two default execution environments describe (their `image` is its
//! path). The others are records, as AWX keeps them: a job still resolves to one, in AWX's
//! order, and shows it as its `execution_environment`, so templates, clients and reports read
//! what they read from AWX; the image is not pulled.

use crate::DomainResult;
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::{
    DEFAULT_EE_NAMES, EXECUTION_ENVIRONMENTS, INVENTORIES, INVENTORY_SOURCES, ORGANIZATIONS,
    PROJECTS, UNIFIED_JOB_TEMPLATES,
};
use rawx_model::schema::{int, ColumnType};
use rawx_model::Row;
use rawx_store::{DbError, Store};
use serde_json::{json, Value};
use std::sync::LazyLock;

/// AWX's `validate_container_image_name`: the grammar of a container image reference
/// (distribution's `reference.go`), `[domain/]path[:tag][@digest]`.
static IMAGE: LazyLock<regex::Regex> = LazyLock::new(|| {
    let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let path_component = r"[a-z0-9]+(?:(?:[_.]|__|[-]*)[a-z0-9]+)*";
    let re = format!(
        r"^(?:{d}(?:\.{d})*(?::[0-9]+)?/)?{p}(?:/{p})*(?::[\w][\w.-]{{0,127}})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{{32,}})?$",
        d = domain_component,
        p = path_component
    );
    regex::Regex::new(&re).expect("the image grammar compiles")
});

/// `None` when `image` is a valid container image reference, else AWX's message.
pub fn image_error(image: &str) -> Option<String> {
    (!IMAGE.is_match(image)).then(|| format!("The container image name {image} is not valid"))
}

async fn get(
    store: &dyn Store,
    res: &'static rawx_model::schema::Resource,
    id: i64,
) -> DomainResult<Option<Row>> {
    match store.get(res, id).await {
        Ok(r) => Ok(Some(r)),
        Err(DbError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The `default_environment` of the object `id` of `res`, if it names one.
async fn default_of(
    store: &dyn Store,
    res: &'static rawx_model::schema::Resource,
    id: Option<i64>,
) -> DomainResult<Option<i64>> {
    let Some(id) = id else { return Ok(None) };
    Ok(get(store, res, id)
        .await?
        .and_then(|r| int(&r, "default_environment")))
}

fn global(managed: bool) -> Filter {
    Filter::All(vec![
        Filter::On {
            path: vec![],
            column: "organization",
            ctype: ColumnType::Int,
            cond: Cond::IsNull(true),
        },
        Filter::eq("managed", ColumnType::Bool, json!(managed)),
    ])
}

/// AWX's `get_control_plane_execution_environment`: the managed one of no organization. What
/// project updates (and constructed inventories' updates) run in.
pub async fn control_plane(store: &dyn Store) -> DomainResult<Option<i64>> {
    let rows = store
        .list_all(&EXECUTION_ENVIRONMENTS, &global(true), &[("created", true)])
        .await?;
    Ok(rows.first().and_then(|r| int(r, "id")))
}

/// AWX's `get_default_execution_environment`: the `DEFAULT_EXECUTION_ENVIRONMENT` setting, else
/// the installed default (rawx's, "AWX EE (latest)"), else the newest global one.
pub async fn global_default(store: &dyn Store) -> DomainResult<Option<i64>> {
    let setting = crate::settings::Settings::new(store, "")
        .value("DEFAULT_EXECUTION_ENVIRONMENT")
        .await;
    if let Some(id) = setting.as_i64() {
        if get(store, &EXECUTION_ENVIRONMENTS, id).await?.is_some() {
            return Ok(Some(id));
        }
    }
    let rows = store
        .list_all(
            &EXECUTION_ENVIRONMENTS,
            &global(false),
            &[("created", true)],
        )
        .await?;
    let installed = DEFAULT_EE_NAMES
        .iter()
        .filter(|(_, managed)| !managed)
        .find_map(|(name, _)| rows.iter().find(|r| r.get("name") == Some(&json!(name))));
    Ok(installed.or(rows.first()).and_then(|r| int(r, "id")))
}

/// The execution environment a job of this row runs in, in AWX's order
/// (`ExecutionEnvironmentMixin.resolve_execution_environment`): its own (given at launch or
/// copied from its template), its template's, its project's default, its organization's
/// default, its inventory's organization's default, then the global default. Project updates
/// and the updates of constructed inventories take the control plane's instead.
pub async fn resolve(store: &dyn Store, kind: &str, job: &Row) -> DomainResult<Option<i64>> {
    if let Some(ee) = int(job, "execution_environment") {
        return Ok(Some(ee));
    }
    if kind == "project_updates" {
        return control_plane(store).await;
    }
    if kind == "inventory_updates" {
        if let Some(inv) = get(
            store,
            &INVENTORIES,
            int(job, "inventory").unwrap_or_default(),
        )
        .await?
        {
            if inv.get("kind") == Some(&json!("constructed")) {
                return control_plane(store).await;
            }
        }
    }
    let template = match int(job, "unified_job_template") {
        Some(t) => get(store, &UNIFIED_JOB_TEMPLATES, t).await?,
        None => None,
    };
    if let Some(ee) = template
        .as_ref()
        .and_then(|t| int(t, "execution_environment"))
    {
        return Ok(Some(ee));
    }
    if let Some(ee) = default_of(store, &PROJECTS, int(job, "project")).await? {
        return Ok(Some(ee));
    }
    if let Some(ee) = default_of(store, &ORGANIZATIONS, int(job, "organization")).await? {
        return Ok(Some(ee));
    }
    let inventory = match int(job, "inventory") {
        Some(i) => get(store, &INVENTORIES, i).await?,
        None => None,
    };
    let inv_org = inventory.as_ref().and_then(|i| int(i, "organization"));
    if let Some(ee) = default_of(store, &ORGANIZATIONS, inv_org).await? {
        return Ok(Some(ee));
    }
    global_default(store).await
}

/// What a template's detail shows as `summary_fields.resolved_environment`: the environment
/// its jobs would run in now (AWX's `UnifiedJobTemplateSerializer.get_summary_fields`, which
/// resolves the template as if it were a job).
pub async fn resolve_for_template(
    store: &dyn Store,
    kind: &str,
    template: &Row,
) -> DomainResult<Option<i64>> {
    let mut as_job = template.clone();
    as_job.insert("unified_job_template".into(), Value::Null);
    if kind == INVENTORY_SOURCES.key {
        // An inventory source resolves as its updates do.
        return resolve(store, "inventory_updates", &as_job).await;
    }
    resolve(store, kind, &as_job).await
}

#[cfg(test)]
mod tests {
    use super::image_error;

    #[test]
    fn images_follow_the_container_reference_grammar() {
        for ok in [
            "quay.io/ansible/awx-ee:latest",
            "registry.example.com:5000/team/ee:1.2.3",
            "ee",
            "localhost/my_ee",
            "docker.io/library/python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_error(ok), None, "{ok}");
        }
        for bad in [
            "",
            "Quay.io/UPPER/x",
            "/var/lib/rawx/ee",
            "x:",
            "a b",
            "x::y",
        ] {
            assert_eq!(
                image_error(bad),
                Some(format!("The container image name {bad} is not valid")),
                "{bad}"
            );
        }
    }
}
