//! External secret lookups at launch (AWX's `Credential.get_input` of a field with an input
//! source, `CredentialInputSource.get_input_value`): each input source of a job's credential
//! runs its lookup credential's plugin (`rawx_lookup`) while the job is prepared. The secret
//! goes into the job's inputs and its mask list, never into the store nor a log; a failing
//! lookup fails the job with the plugin's reason, which holds no secret.

use anyhow::anyhow;
use rawx_domain::credentials::{self, TypeDef};
use rawx_model::filter::Filter;
use rawx_model::resources::{CREDENTIALS, CREDENTIAL_INPUT_SOURCES, CREDENTIAL_TYPES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::secret::SecretKey;
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};

/// The input sources of credential `cid`.
pub async fn sources_of(store: &DynStore, cid: i64) -> anyhow::Result<Vec<Row>> {
    crate::prepare::all_rows(
        store,
        &CREDENTIAL_INPUT_SOURCES,
        Filter::eq("target_credential", ColumnType::Int, json!(cid)),
    )
    .await
}

/// Runs the lookup of one input source of `target`; every secret met on the way (the lookup
/// credential's and the value found) is added to `secrets`.
pub async fn resolve(
    store: &DynStore,
    key: &SecretKey,
    target: &Row,
    source: &Row,
    secrets: &mut Vec<String>,
) -> anyhow::Result<String> {
    let field = text(source, "input_field_name");
    let cred = store
        .get(
            &CREDENTIALS,
            int(source, "source_credential").unwrap_or_default(),
        )
        .await
        .map_err(|e| anyhow!("the lookup credential of {field}: {e}"))?;
    let ctype = store
        .get(
            &CREDENTIAL_TYPES,
            int(&cred, "credential_type").unwrap_or_default(),
        )
        .await
        .map_err(|e| anyhow!("the type of the lookup credential of {field}: {e}"))?;
    let def = TypeDef::from_row(&ctype);
    let stored: Map<String, Value> =
        serde_json::from_str(text(&cred, "inputs")).unwrap_or_default();
    let metadata: Map<String, Value> =
        serde_json::from_str(text(source, "metadata")).unwrap_or_default();
    let kwargs = credentials::lookup_kwargs(&def, &stored, &metadata, |s| {
        key.open(s)
            .map_err(|e| anyhow!("credential {}: {e}", text(&cred, "name")))
    })?;
    for f in def.secret_fields() {
        if let Some(v) = kwargs.get(&f).and_then(Value::as_str) {
            secrets.push(v.to_string());
        }
    }
    let found = rawx_lookup::fetch(&def.namespace, &kwargs)
        .await
        .map_err(|e| {
            anyhow!(
            "the input {field} of credential {} comes from credential {}, whose lookup failed: {e}",
            text(target, "name"),
            text(&cred, "name"),
        )
        })?;
    secrets.push(found.clone());
    Ok(found)
}
