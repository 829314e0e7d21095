//! What the UI router answers, in process: index.html for `/` and client routes (no-cache,
//! CSP), versioned assets (immutable, right content type, gzip when asked), and everything
//! else left to the router behind it (the API in the binary).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn app() -> Router {
    rawx_ui::router().fallback_service(Router::new().route("/api/v2/", get(|| async { "api" })))
}

async fn get_with(path: &str, gzip: bool) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "br, gzip;q=0.9");
    }
    let resp = app()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn index_for_root_and_client_routes() {
    for path in ["/", "/jobs/7", "/templates/3/launch", "/login", "/settings"] {
        let (status, h, body) = get_with(path, false).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
        let html = String::from_utf8(body).unwrap();
        assert!(
            html.contains(&format!("/static/{}/app.js", rawx_ui::VERSION)),
            "{html}"
        );
    }
}

#[tokio::test]
async fn assets_are_versioned_typed_and_compressed() {
    let v = rawx_ui::VERSION;
    let (status, h, raw) = get_with(&format!("/static/{v}/lib/ansi.js"), false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    assert!(String::from_utf8(raw.clone())
        .unwrap()
        .contains("export function toHtml"));

    let (_, h, gz) = get_with(&format!("/static/{v}/lib/ansi.js"), true).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert_eq!(h[header::VARY], "Accept-Encoding");
    assert!(gz.len() < raw.len() / 2, "{} vs {}", gz.len(), raw.len());
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(plain, raw);

    let (_, h, _) = get_with(&format!("/static/{v}/app.css"), false).await;
    assert_eq!(h[header::CONTENT_TYPE], "text/css; charset=utf-8");
    // An old page asking for an old version gets today's file, not cached under that URL.
    let (status, h, _) = get_with("/static/0ld/app.css", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let (status, _, _) = get_with(&format!("/static/{v}/nope.js"), false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Tests beside the modules are not served.
    assert!(rawx_ui::asset("lib/ansi.test.js").is_none());
}

#[tokio::test]
async fn other_paths_fall_through() {
    let (status, _, body) = get_with("/api/v2/", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"api");
    let (status, _, _) = get_with("/nothing-here", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Every first URL segment a view module routes is in `CLIENT_ROUTES`, or a reload of that
/// page would reach the API's 404.
#[test]
fn client_routes_cover_the_views() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/views");
    let re = regex::Regex::new(r#"(?:path|href): ['`]/([a-z_]+)"#).unwrap();
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for c in re.captures_iter(&text) {
            seen += 1;
            assert!(
                rawx_ui::CLIENT_ROUTES.contains(&&c[1]),
                "/{} is not in CLIENT_ROUTES",
                &c[1]
            );
        }
    }
    assert!(seen > 20);
}
