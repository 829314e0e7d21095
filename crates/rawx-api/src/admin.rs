//! Administration through the API itself, for `rawx manage` commands that change resources
//! (`import`): each request is served by the router in process, as a given user, so schema
//! validation, the resource hooks (password hashing, sealed credential inputs, job template
//! rules), permission checks and AWX's error shapes are exactly what an HTTP client gets.
//! There is no second write path to keep in step with the handlers.
//!
//! Architecture invariant: the only write here that is not an API request is
//! `set_password_hash`, for a hash a rawx export carried; it accepts nothing but an argon2 PHC
//! string, and the HTTP API never accepts hashes.

use crate::auth::{identity_for, AuthMethod};
use crate::error::{ApiError, ApiResult};
use crate::{AppState, Identity};
use argon2::password_hash::PasswordHash;
use axum::body::Body;
pub use axum::http::Method;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use rawx_model::filter::Filter;
use rawx_model::resources::USERS;
use rawx_model::schema::ColumnType;
use rawx_model::Row;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

/// The API as one user, called in process.
pub struct Admin {
    state: Arc<AppState>,
    router: Router,
    ident: Identity,
}

/// What the API answered: its status and JSON body (`null` for an empty body).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
}

impl Admin {
    /// Acts as the oldest superuser (AWX's first admin); `None` when there is none.
    pub async fn as_superuser(state: Arc<AppState>) -> ApiResult<Option<Admin>> {
        let supers = state
            .store
            .list_all(
                &USERS,
                &Filter::eq("is_superuser", ColumnType::Bool, json!(true)),
                &[("id", false)],
            )
            .await?;
        let Some(user) = supers.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(Self::as_user(state, user).await?))
    }

    async fn as_user(state: Arc<AppState>, user: Row) -> ApiResult<Admin> {
        // Token-like: no session, so no CSRF; the identity is never a credential that leaves
        // this process.
        let ident = identity_for(&state, user, AuthMethod::Token, false).await?;
        Ok(Admin {
            router: crate::router(state.clone()),
            state,
            ident,
        })
    }

    pub fn username(&self) -> &str {
        self.ident.username()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// One request to the API (`path` as a client writes it: `/api/v2/…`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> ApiResult<Answer> {
        let mut req = Request::builder().method(method).uri(path);
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req
            .body(body)
            .map_err(|e| ApiError::Internal(format!("building a request for {path}: {e}")))?;
        // `identify` leaves an identity already on the request when it carries no credentials,
        // so the handlers see this user as if they had signed in.
        req.extensions_mut().insert(self.ident.clone());
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiError::Internal(format!("reading the answer to {path}: {e}")))?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Answer { status, body })
    }

    /// Stores a password hash a rawx export carried (so a moved user keeps their password).
    /// Only an argon2 PHC string is accepted: anything else is refused, never stored.
    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> ApiResult<()> {
        if !is_password_hash(hash) {
            return Err(ApiError::field(
                "password",
                "Not an argon2 password hash: send the password itself instead.",
            ));
        }
        if !self.ident.actor.is_superuser {
            return Err(ApiError::forbidden());
        }
        let mut row = Row::new();
        row.insert("password".into(), json!(hash));
        crate::write::update(&self.state, &self.ident, &USERS, user_id, &row).await?;
        tracing::info!(
            user_id,
            by = self.ident.username(),
            "password hash set from an export"
        );
        Ok(())
    }
}

/// Whether `s` is an argon2 hash in PHC form (what rawx stores for a password).
pub fn is_password_hash(s: &str) -> bool {
    PasswordHash::new(s).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}
