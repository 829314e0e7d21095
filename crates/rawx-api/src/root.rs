//! The entry points outside `/api/v2/<resource>/`: `/api/`, `/api/v2/`, `/api/o/`, and the
//! form login and logout that set AWX's session and CSRF cookies.

use crate::auth::{self, cookie, sha256_hex, CSRF_COOKIE, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rawx_model::resources::{ALL, SESSIONS, USERS};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Keeps the client's CSRF token when it has one (so a header copied from the cookie jar
/// keeps matching), issues one otherwise.
fn csrf_cookie(resp: &mut Response, headers: &HeaderMap) {
    let token = cookie(headers, CSRF_COOKIE)
        .filter(|t| t.len() >= 32 && t.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .unwrap_or_else(|| auth::random_token(64));
    set_cookie(resp, format!("{CSRF_COOKIE}={token}; Path=/; SameSite=Lax"));
}

pub async fn api_root(headers: HeaderMap) -> Response {
    let mut resp = Json(json!({
        "description": "AWX REST API",
        "current_version": "/api/v2/",
        "available_versions": {"v2": "/api/v2/"},
        "oauth2": "/api/o/",
        "custom_logo": "",
        "custom_login_info": "",
        "login_redirect_override": "",
    }))
    .into_response();
    csrf_cookie(&mut resp, &headers);
    resp
}

pub async fn oauth_root() -> Json<Value> {
    Json(json!({
        "authorize": "/api/o/authorize/",
        "token": "/api/o/token/",
        "revoke_token": "/api/o/revoke_token/",
    }))
}

/// `/api/v2/`: one key per endpoint rawx serves. The `awx` CLI turns each key into a
/// subcommand, so nothing is listed that is not served.
pub async fn v2_root() -> Json<Value> {
    let mut m = Map::new();
    for k in [
        "ping",
        "config",
        "settings",
        "me",
        "unified_jobs",
        "unified_job_templates",
        "constructed_inventories",
        "metrics",
        "dashboard",
        "mesh_visualizer",
        "role_definitions",
        "role_user_assignments",
        "role_team_assignments",
    ] {
        m.insert(k.into(), Value::String(format!("/api/v2/{k}/")));
    }
    for (k, ..) in ABSENT {
        m.insert((*k).into(), Value::String(format!("/api/v2/{k}/")));
    }
    let registry = crate::resources::registry();
    for res in ALL.iter().filter(|r| r.is_public()) {
        let key = registry.get(res.key).root_key();
        m.insert(key.into(), Value::String(format!("/api/v2/{}/", res.key)));
    }
    Json(Value::Object(m))
}

/// AWX resources rawx does not have (key, type, verbose name). awxkit's `export` and `import`
/// walk all fourteen of AWX's exportable resources (and `import` the ones schedules depend on,
/// system job templates) and fail on a key the root does not list, so these are listed, as
/// what they are in rawx: lists that are always empty, which offer no `POST` (so the CLI's
/// `create` is refused and `awx export` writes `null` for them).
pub const ABSENT: &[(&str, &str, &str)] = &[
    ("applications", "o_auth2_application", "Application"),
    (
        "system_job_templates",
        "system_job_template",
        "System Job Template",
    ),
];

fn absent(uri: &axum::http::Uri) -> ApiResult<(&'static str, &'static str, &'static str)> {
    let key = uri
        .path()
        .trim_start_matches("/api/v2/")
        .trim_end_matches('/');
    ABSENT
        .iter()
        .find(|(k, ..)| *k == key)
        .copied()
        .ok_or(ApiError::NotFound)
}

pub async fn absent_list(
    auth::Auth(_): auth::Auth,
    uri: axum::extract::OriginalUri,
) -> ApiResult<Json<Value>> {
    absent(&uri)?;
    Ok(Json(
        json!({"count": 0, "next": null, "previous": null, "results": []}),
    ))
}

pub async fn absent_options(
    auth::Auth(_): auth::Auth,
    uri: axum::extract::OriginalUri,
) -> ApiResult<Response> {
    let (key, type_name, verbose) = absent(&uri)?;
    let v = verbose.to_lowercase();
    let body = json!({
        "name": format!("{verbose} List"),
        "description": format!("# List {key}\n\nrawx has no {v}s: this list is always empty.\n"),
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": {"GET": {
            "id": {"type": "integer", "label": "ID", "help_text": format!("Database ID for this {v}."), "filterable": true},
            "type": {"type": "choice", "label": "Type", "help_text": format!("Data type for this {v}."), "filterable": false, "choices": [[type_name, verbose]]},
            "url": {"type": "string", "label": "Url", "help_text": format!("URL for this {v}."), "filterable": false},
            "name": {"type": "string", "label": "Name", "help_text": format!("Name of this {v}."), "filterable": true},
        }},
        "types": [type_name],
        "search_fields": ["name"],
        "related_search_fields": [],
        "max_page_size": rawx_model::filter::MAX_PAGE_SIZE,
    });
    Ok(([(header::ALLOW, "GET, HEAD, OPTIONS")], Json(body)).into_response())
}

const LOGIN_PAGE: &str = "<!doctype html><html><head><title>rawx: log in</title></head><body>\
<h1>Log in to the REST API</h1><form method=\"post\" action=\"/api/login/\">\
<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"next\" value=\"/api/\">\
<label>Username <input name=\"username\" autofocus></label> \
<label>Password <input name=\"password\" type=\"password\"></label> \
<button type=\"submit\">Log in</button>{msg}</form></body></html>";

fn login_page(headers: &HeaderMap, status: StatusCode, msg: &str) -> Response {
    let csrf = cookie(headers, CSRF_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(|| auth::random_token(64));
    let page = LOGIN_PAGE.replace("{csrf}", &csrf).replace("{msg}", msg);
    let mut resp = (status, Html(page)).into_response();
    set_cookie(
        &mut resp,
        format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Lax"),
    );
    resp
}

pub async fn login_form(headers: HeaderMap) -> Response {
    login_page(&headers, StatusCode::OK, "")
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let sent_csrf = headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .or(field("csrfmiddlewaretoken"));
    match (sent_csrf, cookie(&headers, CSRF_COOKIE)) {
        (Some(s), Some(c)) if s == c => {}
        _ => {
            return Err(ApiError::Forbidden(
                "CSRF Failed: CSRF cookie not set or token missing. GET /api/ first, then send its csrftoken cookie as the X-CSRFToken header.".into(),
            ))
        }
    }
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Ok(login_page(
            &headers,
            StatusCode::UNAUTHORIZED,
            "<p>Enter a username and a password.</p>",
        ));
    };
    let Some(user) = auth::check_password(&state, username, password).await? else {
        tracing::info!(username, "failed login");
        return Ok(login_page(
            &headers,
            StatusCode::UNAUTHORIZED,
            "<p>Invalid username or password. Please try again.</p>",
        ));
    };
    let key = auth::random_token(40);
    let age = state
        .settings()
        .get(rawx_domain::settings::SESSION_COOKIE_AGE)
        .await
        .max(60);
    let expires = rawx_model::time_after(age);
    let mut sess = Row::new();
    sess.insert("key_hash".into(), Value::String(sha256_hex(&key)));
    sess.insert("user".into(), user["id"].clone());
    sess.insert("expires".into(), Value::String(expires));
    state.store.insert(&SESSIONS, &sess).await?;
    let mut seen = Row::new();
    seen.insert("last_login".into(), Value::String(rawx_model::now_string()));
    state
        .store
        .update(&USERS, user["id"].as_i64().unwrap_or_default(), &seen)
        .await?;

    let next = field("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or("/api/");
    let mut resp = (StatusCode::FOUND, [(header::LOCATION, next.to_string())]).into_response();
    set_cookie(
        &mut resp,
        format!("{SESSION_COOKIE}={key}; HttpOnly; Path=/; SameSite=Lax; Max-Age={age}"),
    );
    set_cookie(
        &mut resp,
        format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Lax",
            auth::random_token(64)
        ),
    );
    set_cookie(&mut resp, "userLoggedIn=true; Path=/; SameSite=Lax".into());
    resp.headers_mut().insert(
        "X-API-Session-Cookie-Name",
        HeaderValue::from_static(SESSION_COOKIE),
    );
    Ok(resp)
}

pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(key) = cookie(&headers, SESSION_COOKIE) {
        let f = rawx_model::filter::Filter::eq(
            "key_hash",
            rawx_model::schema::ColumnType::Text,
            Value::String(sha256_hex(key)),
        );
        if let Some(sess) = state.store.find(&SESSIONS, &f).await? {
            state
                .store
                .delete(&SESSIONS, sess["id"].as_i64().unwrap_or_default())
                .await?;
        }
    }
    let mut resp = (StatusCode::FOUND, [(header::LOCATION, "/api/")]).into_response();
    set_cookie(
        &mut resp,
        format!("{SESSION_COOKIE}=; HttpOnly; Path=/; Max-Age=0"),
    );
    set_cookie(&mut resp, "userLoggedIn=false; Path=/; Max-Age=0".into());
    Ok(resp)
}

/// No route: Django's `APPEND_SLASH` first — a GET of an API path without its trailing slash
/// is redirected (301) to the path with it, as AWX answers (awxkit's `grant`/`revoke` read
/// `/api/v2/job_templates/3` so, and follow the redirect); anything else is 404.
pub async fn not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let path = uri.path();
    if matches!(method, axum::http::Method::GET | axum::http::Method::HEAD)
        && path.starts_with("/api/")
        && !path.ends_with('/')
    {
        let to = match uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return Ok((
            axum::http::StatusCode::MOVED_PERMANENTLY,
            [(axum::http::header::LOCATION, to)],
        )
            .into_response());
    }
    Err(ApiError::NotFound)
}
