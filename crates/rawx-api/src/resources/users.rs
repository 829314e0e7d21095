//! Users: AWX's username rule, only a superuser grants or takes superuser and auditor flags,
//! passwords stored as argon2 hashes (an empty one keeps the stored hash), no deleting oneself.

use crate::auth::hash_password;
use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::Summary;
use crate::{AppState, Identity};
use rawx_model::resources::USERS;
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Value};

pub struct Users;

#[async_trait::async_trait]
impl ResourceApi for Users {
    fn schema(&self) -> &'static Resource {
        &USERS
    }

    async fn prepare(
        &self,
        _state: &AppState,
        ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        if let Some(u) = row.get("username").and_then(Value::as_str) {
            if !u
                .chars()
                .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
            {
                return Err(ApiError::field(
                    "username",
                    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
                ));
            }
        }
        for flag in ["is_superuser", "is_system_auditor"] {
            let now = existing
                .and_then(|e| e.get(flag))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if row
                .get(flag)
                .and_then(Value::as_bool)
                .is_some_and(|v| v != now)
                && !ident.actor.is_superuser
            {
                return Err(ApiError::forbidden());
            }
        }
        match row.get("password").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => {
                let p = p.to_string();
                let hashed = tokio::task::spawn_blocking(move || hash_password(&p))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                row.insert("password".into(), json!(hashed));
            }
            // An empty password leaves the stored one alone (AWX's edit form sends "").
            Some(_) if existing.is_some() => {
                row.remove("password");
            }
            _ => {}
        }
        Ok(())
    }

    async fn before_delete(&self, _state: &AppState, ident: &Identity, row: &Row) -> ApiResult<()> {
        if int(row, "id") == Some(ident.actor.user_id) {
            return Err(ApiError::Forbidden(
                "You cannot delete your own user.".into(),
            ));
        }
        Ok(())
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &["username", "first_name", "last_name"],
            ids: &[],
        }
    }
}
