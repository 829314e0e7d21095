//! `POST`/`DELETE /api/v2/config/`, `/api/v2/config/subscriptions/` and `/config/attach/`: the
//! subscription endpoints the collection's `license` and `subscriptions` modules call, answered
//! as AWX 24.6.1 answers them (`awx/api/views/root.py`) with its open license (`OpenLicense`:
//! no `/var/lib/awx/.tower_version`). AWX has no Red Hat subscription to validate either, so a
//! manifest, a subscription login or a pool is refused with AWX's own messages; a `POST` without
//! a manifest validates the open license and records `TOWER_URL_BASE` as AWX does. Only
//! superusers may write, as `ApiV2ConfigView.check_permissions` says.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// What AWX's `OpenLicense.validate()` answers.
pub fn open_license() -> Value {
    json!({"license_type": "open", "valid_key": true, "subscription_name": "OPEN", "product_name": "AWX"})
}

fn refuse(msg: &str) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, json!({ "error": msg }))
}

fn superuser(auth: &Auth) -> ApiResult<()> {
    if auth.0.actor.is_superuser {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// `ApiV2ConfigView.post`: the body must be a JSON object; a legacy key or a manifest is
/// refused; without one, the open license is valid and `TOWER_URL_BASE` becomes this request's
/// scheme and host.
pub async fn post_config(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    superuser(&auth)?;
    let Ok(Value::Object(data)) = serde_json::from_slice::<Value>(&body) else {
        return Err(refuse("Invalid subscription data"));
    };
    if data.contains_key("license_key") {
        return Err(refuse(
            "Legacy license submitted. A subscription manifest is now required.",
        ));
    }
    if data.contains_key("manifest") {
        // AWX's `validate_entitlement_manifest` needs Red Hat's signing certificate and a
        // manifest signed with it; an open AWX refuses every manifest the same way.
        return Err(refuse("Invalid manifest submitted."));
    }
    if let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) {
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        rawx_domain::settings::write(
            &*state.store,
            &state.key,
            &state.config.install_uuid,
            "system",
            &json!({ "TOWER_URL_BASE": format!("{scheme}://{host}") }),
            false,
        )
        .await?;
    }
    Ok(Json(open_license()))
}

/// `ApiV2ConfigView.delete`: AWX clears its `LICENSE` setting; the open license stays.
pub async fn delete_config(auth: Auth) -> ApiResult<StatusCode> {
    superuser(&auth)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `ApiV2SubscriptionView.post`: the open licenser cannot log in to Red Hat's subscription
/// service, so AWX answers "Invalid Subscription" whatever the credentials.
pub async fn subscriptions(auth: Auth) -> ApiResult<Json<Value>> {
    superuser(&auth)?;
    Err(refuse("Invalid Subscription"))
}

/// `ApiV2AttachView.post`: a pool id is required; with one, there is no subscription to find
/// it in.
pub async fn attach(auth: Auth, body: Bytes) -> ApiResult<Json<Value>> {
    superuser(&auth)?;
    let data: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let pool = data.get("pool_id").filter(|p| match p {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    });
    if pool.is_none() {
        return Err(refuse("No subscription pool ID provided."));
    }
    Err(refuse("Error processing subscription metadata."))
}

/// `GET` of the two `POST`-only views: AWX checks the caller first (only superusers pass), then
/// refuses the method.
pub async fn post_only(auth: Auth) -> ApiResult<Json<Value>> {
    superuser(&auth)?;
    Err(ApiError::MethodNotAllowed("GET".into()))
}
