//! What a new database starts with: AWX's managed credential types, the install UUID and the
//! first superuser.

use crate::auth::{hash_password, random_token};
use crate::error::ApiResult;
use rawx_model::filter::Filter;
use rawx_model::resources::{CREDENTIAL_TYPES, INSTANCE_GROUPS, SETTINGS, USERS};
use rawx_model::schema::ColumnType;
use rawx_model::validate::{validate, Mode};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Value};

/// `(name, kind, namespace, inputs, injectors)` of the managed types, as AWX defines them.
fn managed_types() -> Vec<(&'static str, &'static str, &'static str, Value, Value)> {
    vec![
        (
            "Machine",
            "ssh",
            "ssh",
            json!({"fields": [
                {"id": "username", "label": "Username", "type": "string"},
                {"id": "password", "label": "Password", "type": "string", "secret": true, "ask_at_runtime": true},
                {"id": "ssh_key_data", "label": "SSH Private Key", "type": "string", "format": "ssh_private_key", "secret": true, "multiline": true},
                {"id": "ssh_public_key_data", "label": "Signed SSH Certificate", "type": "string", "multiline": true, "secret": true},
                {"id": "ssh_key_unlock", "label": "Private Key Passphrase", "type": "string", "secret": true, "ask_at_runtime": true},
                {"id": "become_method", "label": "Privilege Escalation Method", "type": "string", "help_text": "Specify a method for \"become\" operations. This is equivalent to specifying the --become-method Ansible parameter."},
                {"id": "become_username", "label": "Privilege Escalation Username", "type": "string"},
                {"id": "become_password", "label": "Privilege Escalation Password", "type": "string", "secret": true, "ask_at_runtime": true}
            ]}),
            json!({}),
        ),
        (
            "Source Control",
            "scm",
            "scm",
            json!({"fields": [
                {"id": "username", "label": "Username", "type": "string"},
                {"id": "password", "label": "Password", "type": "string", "secret": true},
                {"id": "ssh_key_data", "label": "SCM Private Key", "type": "string", "format": "ssh_private_key", "secret": true, "multiline": true},
                {"id": "ssh_key_unlock", "label": "Private Key Passphrase", "type": "string", "secret": true}
            ]}),
            json!({}),
        ),
        (
            "Vault",
            "vault",
            "vault",
            json!({"fields": [
                {"id": "vault_password", "label": "Vault Password", "type": "string", "secret": true, "ask_at_runtime": true},
                {"id": "vault_id", "label": "Vault Identifier", "type": "string", "format": "vault_id", "help_text": "Specify an (optional) Vault ID. This is equivalent to specifying the --vault-id Ansible parameter for providing multiple Vault passwords."}
            ], "required": ["vault_password"]}),
            json!({}),
        ),
    ]
}

fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What seeding a database did.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Set when the first superuser was created: its username and password.
    pub admin: Option<(String, String)>,
    pub install_uuid: String,
}

/// Seeds an empty database; a seeded one is left alone. `admin_password` is used for the
/// first superuser when given, otherwise one is generated (and returned, to print once).
pub async fn seed(store: &DynStore, admin_password: Option<String>) -> ApiResult<Seeded> {
    for (name, kind, namespace, inputs, injectors) in managed_types() {
        let f = Filter::eq("name", ColumnType::Text, json!(name)).and(Filter::eq(
            "kind",
            ColumnType::Text,
            json!(kind),
        ));
        if store.find(&CREDENTIAL_TYPES, &f).await?.is_some() {
            continue;
        }
        let mut row = validate(
            &CREDENTIAL_TYPES,
            &json!({"name": name, "kind": kind, "inputs": inputs, "injectors": injectors}),
            Mode::Create,
        )
        .map_err(|e| crate::ApiError::Internal(format!("seed type {name}: {e:?}")))?;
        row.insert("managed".into(), json!(true));
        row.insert("namespace".into(), json!(namespace));
        store.insert(&CREDENTIAL_TYPES, &row).await?;
    }
    for name in ["controlplane", "default"] {
        let f = Filter::eq("name", ColumnType::Text, json!(name));
        if store.find(&INSTANCE_GROUPS, &f).await?.is_none() {
            let row = validate(&INSTANCE_GROUPS, &json!({"name": name}), Mode::Create)
                .map_err(|e| crate::ApiError::Internal(format!("seed group {name}: {e:?}")))?;
            store.insert(&INSTANCE_GROUPS, &row).await?;
        }
    }
    let key_f = Filter::eq("key", ColumnType::Text, json!("INSTALL_UUID"));
    let install_uuid = match store.find(&SETTINGS, &key_f).await? {
        Some(r) => serde_json::from_str::<String>(r["value"].as_str().unwrap_or("\"\""))
            .unwrap_or_default(),
        None => {
            let u = uuid4();
            let mut row = Row::new();
            row.insert("key".into(), json!("INSTALL_UUID"));
            row.insert("value".into(), json!(json!(u).to_string()));
            store.insert(&SETTINGS, &row).await?;
            u
        }
    };
    let mut out = Seeded {
        admin: None,
        install_uuid,
    };
    if store.count(&USERS, &Filter::All(vec![])).await? == 0 {
        let password = admin_password
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| random_token(20));
        create_user(store, "admin", &password, true).await?;
        out.admin = Some(("admin".into(), password));
    }
    Ok(out)
}

/// Creates a user (the `manage create-superuser` path and the first start).
pub async fn create_user(
    store: &DynStore,
    username: &str,
    password: &str,
    superuser: bool,
) -> ApiResult<i64> {
    let mut row = validate(
        &USERS,
        &json!({"username": username, "is_superuser": superuser}),
        Mode::Create,
    )
    .map_err(crate::ApiError::Fields)?;
    row.insert("password".into(), json!(hash_password(password)));
    Ok(store.insert(&USERS, &row).await?)
}

/// Sets a user's password (`manage update-password`); `NotFound` when there is no such user.
pub async fn set_password(store: &DynStore, username: &str, password: &str) -> ApiResult<()> {
    let f = Filter::eq("username", ColumnType::Text, json!(username));
    let user = store
        .find(&USERS, &f)
        .await?
        .ok_or(crate::ApiError::NotFound)?;
    let mut row = Row::new();
    row.insert("password".into(), json!(hash_password(password)));
    store
        .update(&USERS, user["id"].as_i64().unwrap_or_default(), &row)
        .await?;
    Ok(())
}
