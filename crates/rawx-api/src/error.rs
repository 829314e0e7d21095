//! One error type for every handler, rendered in AWX's shapes: `{"detail": …}` for most,
//! `{"field": [..]}` for validation, `{"msg": …}` for attach/detach. Internal causes are logged
//! here and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rawx_model::filter::QueryError;
use rawx_model::validate::FieldErrors;
use rawx_store::DbError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not authenticated")]
    Unauthenticated,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid fields")]
    Fields(FieldErrors),
    /// Attach/detach errors.
    #[error("{0}")]
    Msg(String),
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// Any other status with its AWX body (409 with the blocking objects, 404 for a bad page).
    #[error("status {0}")]
    Status(StatusCode, Value),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

pub const NOT_AUTHENTICATED: &str =
    "Authentication credentials were not provided. To establish a login session, visit /api/login/.";
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";

impl ApiError {
    pub fn forbidden() -> Self {
        ApiError::Forbidden(NO_PERMISSION.into())
    }
    pub fn field(name: &str, msg: impl Into<String>) -> Self {
        ApiError::Fields(FieldErrors::one(name, msg))
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ApiError::NotFound,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<rawx_domain::DomainError> for ApiError {
    fn from(e: rawx_domain::DomainError) -> Self {
        use rawx_domain::DomainError as D;
        match e {
            D::NotFound => ApiError::NotFound,
            D::Forbidden => ApiError::forbidden(),
            D::Fields(f) => ApiError::Fields(f),
            D::Db(e) => e.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::InvalidPage => {
                ApiError::Status(StatusCode::NOT_FOUND, json!({"detail": "Invalid page."}))
            }
            QueryError::Invalid(m) => ApiError::BadRequest(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthenticated => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"detail": NOT_AUTHENTICATED})),
                )
                    .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=api authorization_url=/api/o/authorize/",
                    ),
                );
                return r;
            }
            ApiError::Forbidden(d) => (StatusCode::FORBIDDEN, json!({"detail": d})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            ApiError::BadRequest(d) => (StatusCode::BAD_REQUEST, json!({"detail": d})),
            ApiError::Fields(f) => (StatusCode::BAD_REQUEST, f.to_json()),
            ApiError::Msg(m) => (StatusCode::BAD_REQUEST, json!({"msg": m})),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"detail": format!("Method \"{m}\" not allowed.")}),
            ),
            ApiError::Status(status, body) => (status, body),
            ApiError::UnsupportedMediaType(ct) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"detail": format!("Unsupported media type \"{ct}\" in request.")}),
            ),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error answering a request");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"detail": "A server error occurred; the server log has the cause."}),
                )
            }
        };
        (status, axum::Json(body)).into_response()
    }
}
