//! The one HTTP client of the plugins, configured as AWX's `requests` calls are: a timeout,
//! no redirects, an optional CA bundle, an optional client certificate, verification that may
//! be turned off (CyberArk CCP's `verify`). Failures become [`LookupError`]s that name the
//! step and the URL without its query, and carry the vault's own message.

use crate::{Cx, LookupError};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;
use url::Url;

/// AWX's plugins wait 30 s for an answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// TLS settings of one lookup.
#[derive(Default)]
pub struct Tls<'a> {
    /// PEM CA certificates to trust besides the system's.
    pub cacert: &'a str,
    /// PEM client certificate and its key (mutual TLS).
    pub client_cert: &'a str,
    pub client_key: &'a str,
    /// `false`: accept any server certificate (AWX's `verify=False`).
    pub insecure: bool,
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("rawx/", env!("CARGO_PKG_VERSION")))
}

/// The client for these TLS settings: one shared client when there are none (loading the
/// system's roots costs milliseconds a launch need not pay twice), else a client of its own.
pub fn client(tls: &Tls) -> Result<Client, LookupError> {
    if tls.cacert.trim().is_empty() && tls.client_cert.trim().is_empty() && !tls.insecure {
        static SHARED: OnceLock<Client> = OnceLock::new();
        if let Some(c) = SHARED.get() {
            return Ok(c.clone());
        }
        let c = builder()
            .build()
            .map_err(|e| LookupError::new(format!("no HTTP client: {}", chain(&e))))?;
        return Ok(SHARED.get_or_init(|| c).clone());
    }
    let mut b = builder();
    if !tls.cacert.trim().is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(tls.cacert.as_bytes())
            .map_err(|_| LookupError::new("the CA certificate is not a PEM certificate"))?;
        if certs.is_empty() {
            return Err(LookupError::new("the CA certificate holds no certificate"));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if !tls.client_cert.trim().is_empty() {
        // As AWX's `CertFiles`: the certificate, then the key, in one PEM.
        let pem = format!("{}\n{}", tls.client_cert.trim_end(), tls.client_key);
        let id = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|_| {
            LookupError::new(
                "the client certificate and key are not a PEM certificate with its private key",
            )
        })?;
        b = b.identity(id);
    }
    if tls.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| LookupError::new(format!("no HTTP client: {}", chain(&e))))
}

/// Python's `urljoin(base, rel)` (RFC 3986 resolution, which `Url::join` implements).
pub fn join(base: &str, rel: &str) -> Result<Url, LookupError> {
    let base = Url::parse(base.trim())
        .map_err(|e| LookupError::new(format!("the URL {base:?} is not valid: {e}")))?;
    base.join(rel)
        .map_err(|e| LookupError::new(format!("cannot join {rel:?} to the URL: {e}")))
}

pub fn parse(url: &str) -> Result<Url, LookupError> {
    Url::parse(url).map_err(|e| LookupError::new(format!("the URL {url:?} is not valid: {e}")))
}

/// How a URL is shown in a message: no user info, no query.
pub fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// An error and its causes, without the URL (reqwest's `Display` prints it with its query).
fn chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(r) => {
                if r.is_timeout() {
                    "timed out".to_string()
                } else if r.is_connect() {
                    "could not connect".to_string()
                } else {
                    String::new()
                }
            }
            None => err.to_string(),
        };
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        "the request failed".into()
    } else {
        parts.join(": ")
    }
}

/// Sends a request; an error names what it was for (`step`) and the URL.
pub async fn send(step: &str, url: &Url, rb: RequestBuilder) -> Result<Response, LookupError> {
    rb.send()
        .await
        .map_err(|e| LookupError::new(format!("{step} ({}) failed: {}", shown(url), chain(&e))))
}

/// AWX's `raise_for_status`: any answer from 300 on is a failure, with the vault's message.
pub async fn ok(step: &str, url: &Url, resp: Response) -> Result<Response, LookupError> {
    let status = resp.status().as_u16();
    if status < 300 {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(answered(step, url, status, &body))
}

/// The error for an answer with `status`, quoting the vault's message from `body`.
pub fn answered(step: &str, url: &Url, status: u16, body: &str) -> LookupError {
    let detail = vendor_message(body);
    LookupError {
        status: Some(status),
        message: format!(
            "{step} ({}) answered HTTP {status}{}",
            shown(url),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ),
    }
}

/// The error message in a vault's answer, in the shapes the vendors use: Vault's `errors`,
/// AWS's `__type`/`message`, Azure's `error.message`, OAuth's `error_description`, the
/// others' `message`/`Message`/`error`. At most 200 characters.
fn vendor_message(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(errs) = v.get("errors").and_then(Value::as_array) {
                parts.extend(errs.iter().map(crate::as_text));
            }
            if let Some(t) = v.get("__type").and_then(Value::as_str) {
                parts.push(t.rsplit('#').next().unwrap_or(t).to_string());
            }
            for k in ["error_description", "message", "Message"] {
                if let Some(m) = v.get(k).and_then(Value::as_str) {
                    parts.push(m.to_string());
                }
            }
            match v.get("error") {
                Some(Value::String(e)) if parts.is_empty() => parts.push(e.clone()),
                Some(Value::Object(o)) => {
                    if let Some(m) = o.get("message").and_then(Value::as_str) {
                        parts.push(m.to_string());
                    }
                }
                _ => {}
            }
            parts.join(": ")
        }
        // Plain text answers (Conjur's) are short; HTML pages are not worth quoting.
        Err(_) if !body.trim_start().starts_with('<') => body.trim().to_string(),
        Err(_) => String::new(),
    };
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// The JSON body of a successful answer.
pub async fn json(step: &str, url: &Url, resp: Response) -> Result<Value, LookupError> {
    let resp = ok(step, url, resp).await?;
    let body = resp.bytes().await.map_err(|e| {
        LookupError::new(format!(
            "{step} ({}): reading the answer failed: {}",
            shown(url),
            chain(&e)
        ))
    })?;
    serde_json::from_slice(&body).map_err(|_| {
        LookupError::new(format!(
            "{step} ({}) answered something that is not JSON",
            shown(url)
        ))
    })
}

/// Reads `value[path…]`, or fails saying which field the answer lacked.
pub fn field<'a>(
    _cx: &Cx,
    step: &str,
    v: &'a Value,
    path: &[&str],
) -> Result<&'a Value, LookupError> {
    let mut cur = v;
    for p in path {
        cur = match cur.get(*p) {
            Some(next) if !next.is_null() => next,
            _ => {
                return Err(LookupError::new(format!(
                    "{step}: the answer has no {}",
                    path.join(".")
                )));
            }
        };
    }
    Ok(cur)
}
