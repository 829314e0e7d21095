//! Tokens (AWX's OAuth2 personal tokens): issued by a create that shows the token string once
//! (the store keeps its hash), their owner's alone — even an admin of the user's organization
//! neither lists nor makes them — and never shown again as stored.

use crate::auth::{random_token, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::rbac::Actor;
use rawx_model::resources::TOKENS;
use rawx_model::schema::{int, Resource};
use rawx_model::validate::{validate, Mode};
use rawx_model::Row;
use serde_json::{json, Value};

pub struct Tokens;

#[async_trait::async_trait]
impl ResourceApi for Tokens {
    fn schema(&self) -> &'static Resource {
        &TOKENS
    }

    fn may_list_under(&self, actor: &Actor, parent: &Row) -> bool {
        actor.is_superuser || parent["id"].as_i64() == Some(actor.user_id)
    }

    /// POST `/tokens/` (for the caller) or `/users/N/personal_tokens/` (for user N).
    async fn create(
        &self,
        state: &AppState,
        ident: &Identity,
        parent: Option<&Row>,
        body: &Value,
    ) -> ApiResult<Option<Response>> {
        let user = parent.cloned().unwrap_or_else(|| ident.user.clone());
        create_token(state, ident, user, body.clone())
            .await
            .map(Some)
    }

    async fn prepare(
        &self,
        _state: &AppState,
        ident: &Identity,
        row: &mut Row,
        _existing: Option<&Row>,
    ) -> ApiResult<()> {
        row.insert("user".into(), json!(ident.actor.user_id));
        Ok(())
    }

    fn masked(&self, field: &str) -> bool {
        matches!(field, "token" | "refresh_token")
    }
}

/// Issues a token for `user` (POST `/tokens/` or `/users/N/personal_tokens/`). The token
/// string is shown in this answer only; the store keeps its hash.
async fn create_token(
    state: &AppState,
    ident: &Identity,
    user: Row,
    body: Value,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    if actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let uid = int(&user, "id").unwrap_or_default();
    if uid != actor.user_id && !actor.is_superuser {
        return Err(ApiError::forbidden());
    }
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        o.remove("user");
    }
    let mut row = validate(&TOKENS, &body, Mode::Create).map_err(ApiError::Fields)?;
    let token = random_token(30);
    let ttl = state
        .settings()
        .get(rawx_domain::settings::OAUTH2_PROVIDER)
        .await
        .get("ACCESS_TOKEN_EXPIRE_SECONDS")
        .and_then(Value::as_i64)
        .unwrap_or(31_536_000_000);
    row.insert("user".into(), json!(uid));
    row.insert("token".into(), json!(""));
    row.insert("token_hash".into(), json!(sha256_hex(&token)));
    row.insert(
        "expires".into(),
        json!(rawx_model::time_after(ttl.min(31_536_000_000))),
    );
    row.insert("created_by".into(), json!(actor.user_id));
    row.insert("modified_by".into(), json!(actor.user_id));
    let id = crate::write::create(state, ident, &TOKENS, &row).await?;
    let stored = state.store.get(&TOKENS, id).await?;
    let mut out = Renderer::new(state, actor).render(&TOKENS, &stored).await?;
    out["token"] = json!(token);
    out["refresh_token"] = Value::Null;
    tracing::info!(token_id = id, user = uid, "token issued");
    let loc = format!("/api/v2/tokens/{id}/");
    Ok((StatusCode::CREATED, [(header::LOCATION, loc)], Json(out)).into_response())
}
