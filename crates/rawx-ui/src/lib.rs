//! rawx's web UI: hand-written ES modules (`assets/`), embedded in the binary by `build.rs`
//! (raw and gzip), served by [`router`] at `/`. The UI speaks only the public `/api/v2/` and
//! `/websocket/`, like any other client; this crate knows nothing of the API's internals.
//!
//! URLs: `/static/<version>/<file>` for assets (immutable, cached for a year: the version is a
//! hash of every asset), and `index.html` for `/` and every client route (`/jobs/7`, …),
//! `no-cache`, so a reload after an upgrade always picks up the new version.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The first path segment of every client route: each answers `index.html`, and the app's
/// router (`assets/lib/router.js`) picks the view. Anything else falls through to the API
/// (its 404 included). A view module with a new root adds it here (a test checks the views).
pub const CLIENT_ROUTES: &[&str] = &[
    "login",
    "dashboard",
    "jobs",
    "templates",
    "organizations",
    "inventories",
    "hosts",
    "groups",
    "projects",
    "credentials",
    "credential_types",
    "teams",
    "users",
    "schedules",
    "instances",
    "instance_groups",
    "execution_environments",
    "ad_hoc_commands",
    "settings",
];

/// Keeps pages from being framed or loading anything from elsewhere (no CDN is used).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn serve(a: &'static Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().unwrap_or("").trim() == "gzip")
        });
    let body = if gzip_ok { a.gzip } else { a.raw };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    if gzip_ok {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

async fn index(headers: HeaderMap) -> Response {
    let a = asset("index.html").expect("index.html is embedded");
    let mut resp = serve(a, &headers, "no-cache");
    resp.headers_mut()
        .insert("Content-Security-Policy", HeaderValue::from_static(CSP));
    resp
}

async fn static_file(
    Path((version, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match asset(&file) {
        // A page from before an upgrade asking for an old version gets today's file, but
        // must not cache it under the old URL.
        Some(a) if version == VERSION => serve(a, &headers, "public, max-age=31536000, immutable"),
        Some(a) => serve(a, &headers, "no-cache"),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `/`, the client routes and `/static/…`. Everything else is left to the router this one is
/// combined with (`rawx_ui::router().fallback_service(api)`), so the API keeps its own 404s.
pub fn router() -> Router {
    let mut r = Router::new()
        .route("/", get(index))
        .route("/static/{version}/{*file}", get(static_file));
    for root in CLIENT_ROUTES {
        r = r
            .route(&format!("/{root}"), get(index))
            .route(&format!("/{root}/{{*rest}}"), get(index));
    }
    r
}
