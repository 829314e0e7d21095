//! Who is asking: OAuth2-style bearer tokens, the `awx_sessionid` session cookie (with CSRF on
//! unsafe requests) and HTTP Basic, tried in AWX's order. The `identify` middleware resolves the
//! caller once; handlers that need a signed-in user take `Auth`.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::distributions::{Alphanumeric, DistString};
use rawx_model::filter::Filter;
use rawx_model::rbac::Actor;
use rawx_model::resources::{SESSIONS, TOKENS, USERS};
use rawx_model::schema::ColumnType;
use rawx_model::Row;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "awx_sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
/// How long a verified Basic password is trusted without hashing it again: argon2 is slow on
/// purpose, and clients such as the collection send Basic on every request.
const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Token,
    Session,
    Basic,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: Actor,
    pub user: Row,
    pub how: AuthMethod,
}

impl Identity {
    pub fn username(&self) -> &str {
        self.user["username"].as_str().unwrap_or_default()
    }
}

/// Extractor for handlers that need a signed-in user.
pub struct Auth(pub Identity);
impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .map(Auth)
            .ok_or(ApiError::Unauthenticated)
    }
}

pub fn hash_password(plain: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

pub fn verify_password(plain: &str, hash: &str) -> bool {
    !plain.is_empty()
        && PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(plain.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn eq_text(col: &'static str, v: &str) -> Filter {
    Filter::eq(col, ColumnType::Text, Value::String(v.to_string()))
}

/// Loads the user and the memberships permission checks need.
pub async fn identity_for(
    state: &AppState,
    user: Row,
    how: AuthMethod,
    read_only: bool,
) -> ApiResult<Identity> {
    let id = user["id"].as_i64().unwrap_or_default();
    let store = &*state.store;
    let member_of =
        rawx_domain::roles::objects_held(store, id, "organizations", &["member_role"]).await?;
    let admin_of =
        rawx_domain::roles::objects_held(store, id, "organizations", &["admin_role"]).await?;
    let actor = Actor {
        user_id: id,
        is_superuser: user["is_superuser"].as_bool().unwrap_or(false),
        is_system_auditor: user["is_system_auditor"].as_bool().unwrap_or(false),
        member_of,
        admin_of,
        read_only_token: read_only,
    };
    Ok(Identity { actor, user, how })
}

/// Checks a username and password; `None` when they do not match a user.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
) -> ApiResult<Option<Row>> {
    let Some(user) = state
        .store
        .find(&USERS, &eq_text("username", username))
        .await?
    else {
        return Ok(None);
    };
    // The stored hash is part of the key: a changed password invalidates the entry at once.
    let stored = user["password"].as_str().unwrap_or_default();
    let key: [u8; 32] =
        Sha256::digest(format!("{username}\0{password}\0{stored}").as_bytes()).into();
    {
        let cache = state.basic_cache.lock().expect("basic cache lock");
        if cache
            .get(&key)
            .is_some_and(|t| t.elapsed() < BASIC_CACHE_TTL)
        {
            return Ok(Some(user));
        }
    }
    let hash = user["password"].as_str().unwrap_or_default().to_string();
    let plain = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&plain, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !ok {
        return Ok(None);
    }
    let mut cache = state.basic_cache.lock().expect("basic cache lock");
    cache.retain(|_, t| t.elapsed() < BASIC_CACHE_TTL);
    cache.insert(key, Instant::now());
    Ok(Some(user))
}

pub(crate) async fn resolve(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Identity>> {
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = authz.and_then(|a| a.strip_prefix("Bearer ")) {
        let Some(tok) = state
            .store
            .find(&TOKENS, &eq_text("token_hash", &sha256_hex(token.trim())))
            .await?
        else {
            return Err(ApiError::Unauthenticated);
        };
        if tok["expires"]
            .as_str()
            .is_some_and(|e| e < rawx_model::now_string().as_str())
        {
            return Err(ApiError::Unauthenticated);
        }
        let user = state
            .store
            .get(&USERS, tok["user"].as_i64().unwrap_or_default())
            .await?;
        let read_only = tok["scope"].as_str() == Some("read");
        return Ok(Some(
            identity_for(state, user, AuthMethod::Token, read_only).await?,
        ));
    }
    if let Some(key) = cookie(headers, SESSION_COOKIE) {
        if let Some(sess) = state
            .store
            .find(&SESSIONS, &eq_text("key_hash", &sha256_hex(key)))
            .await?
        {
            if sess["expires"]
                .as_str()
                .is_some_and(|e| e > rawx_model::now_string().as_str())
            {
                if let Ok(user) = state
                    .store
                    .get(&USERS, sess["user"].as_i64().unwrap_or_default())
                    .await
                {
                    return Ok(Some(
                        identity_for(state, user, AuthMethod::Session, false).await?,
                    ));
                }
            }
        }
    }
    if let Some(basic) = authz.and_then(|a| a.strip_prefix("Basic ")) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(ApiError::Unauthenticated)?;
        let (u, p) = decoded.split_once(':').ok_or(ApiError::Unauthenticated)?;
        if !state
            .settings()
            .get(rawx_domain::settings::AUTH_BASIC_ENABLED)
            .await
        {
            return Err(ApiError::Unauthenticated);
        }
        return match check_password(state, u, p).await? {
            Some(user) => Ok(Some(
                identity_for(state, user, AuthMethod::Basic, false).await?,
            )),
            None => Err(ApiError::Unauthenticated),
        };
    }
    Ok(None)
}

/// Middleware: resolves the caller, enforces CSRF for session-authenticated unsafe requests,
/// and stamps AWX's response headers (the product version only on authenticated answers, as
/// AWX does: the collection reads it).
pub async fn identify(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let ident = match resolve(&state, req.headers()).await {
        Ok(i) => i,
        Err(e) => return state.stamp(e.into_response(), started, false),
    };
    if let Some(id) = &ident {
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if id.how == AuthMethod::Session && unsafe_method && !csrf_ok(req.headers()) {
            let e = ApiError::Forbidden("CSRF Failed: CSRF token missing or incorrect.".into());
            return state.stamp(e.into_response(), started, true);
        }
    }
    let authed = ident.is_some();
    if let Some(id) = ident {
        req.extensions_mut().insert(id);
    }
    let resp = next.run(req).await;
    state.stamp(resp, started, authed)
}

fn csrf_ok(headers: &HeaderMap) -> bool {
    let sent = headers.get("x-csrftoken").and_then(|v| v.to_str().ok());
    matches!((sent, cookie(headers, CSRF_COOKIE)), (Some(h), Some(c)) if !h.is_empty() && h == c)
}
