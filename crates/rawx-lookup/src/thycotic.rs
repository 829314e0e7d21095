//! Thycotic (Delinea), through the vendor SDKs AWX calls. DevOps Secrets Vault
//! (`python-dsv-sdk`): `POST <tenant URL>/v1/token` with the client credentials (JSON), then
//! `GET <tenant URL>/v1/secrets/<path>`, one field of its `data`. Secret Server
//! (`python-tss-sdk`): `POST <server>/oauth2/token` (a password grant, form-encoded, with the
//! domain when set), then `GET <server>/api/v1/secrets/<id>`, the item whose `slug` is the field.

use crate::http::{self, Tls};
use crate::{as_text, need, s, s_or, Cx, Kwargs, LookupError};
use base64::Engine;
use serde_json::{json, Value};

/// The DSV tenant URL. AWX builds it from `https://{tenant}.secretsvaultcloud.{tld}` and lets
/// only a DEBUG install change the template (its `url_template` input); rawx reads the same
/// input, then `RAWX_DSV_URL_TEMPLATE` (for a private endpoint, and for tests).
fn tenant_url(kw: &Kwargs) -> Result<String, LookupError> {
    const AWX_DEFAULT: &str = "https://{}.secretsvaultcloud.{}";
    let env = std::env::var("RAWX_DSV_URL_TEMPLATE").unwrap_or_default();
    // The input when it says something else than AWX's default, then the environment.
    let template = match s(kw, "url_template") {
        t if !t.is_empty() && t != AWX_DEFAULT => t.to_string(),
        _ if !env.is_empty() => env,
        _ => AWX_DEFAULT.to_string(),
    };
    let tld = s_or(kw, "tld", "com").trim_matches('.');
    Ok(template
        .replacen("{}", need(kw, "tenant")?, 1)
        .replacen("{}", tld, 1)
        .trim_end_matches('/')
        .to_string())
}

/// Thycotic DevOps Secrets Vault.
pub async fn dsv(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let base = tenant_url(kw)?;
    let client = http::client(&Tls::default())?;
    let url = http::parse(&format!("{base}/v1/token"))?;
    let step = "the DSV token request";
    let rb = client.post(url.clone()).json(&json!({
        "client_id": need(kw, "client_id")?,
        "client_secret": need(kw, "client_secret")?,
        "grant_type": "client_credentials",
    }));
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    let token = as_text(http::field(cx, step, &answer, &["accessToken"])?);
    cx.secret(&token);
    let path = need(kw, "path")?;
    let url = http::parse(&format!(
        "{base}/v1/secrets/{}",
        path.trim_start_matches('/')
    ))?;
    let step = "the secret's read";
    let resp = http::send(step, &url, client.get(url.clone()).bearer_auth(&token)).await?;
    let answer = http::json(step, &url, resp).await?;
    let field = need(kw, "secret_field")?;
    let value = answer
        .get("data")
        .and_then(|d| d.get(field))
        .ok_or_else(|| LookupError::new(format!("the secret at {path} has no field {field}")))?;
    if s(kw, "secret_decoding") == "Decode Base64" {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(as_text(value).trim())
            .map_err(|_| LookupError::new(format!("the field {field} at {path} is not base64")))?;
        return String::from_utf8(raw).map_err(|_| {
            LookupError::new(format!(
                "the field {field} at {path} does not decode to text"
            ))
        });
    }
    Ok(as_text(value))
}

/// Thycotic Secret Server.
pub async fn tss(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let base = need(kw, "server_url")?.trim_end_matches('/').to_string();
    let client = http::client(&Tls::default())?;
    let url = http::parse(&format!("{base}/oauth2/token"))?;
    let step = "the Secret Server token request";
    let mut form = vec![
        ("username", need(kw, "username")?),
        ("password", need(kw, "password")?),
        ("grant_type", "password"),
    ];
    if !s(kw, "domain").is_empty() {
        form.push(("domain", s(kw, "domain")));
    }
    let rb = client.post(url.clone()).form(&form);
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    let token = as_text(http::field(cx, step, &answer, &["access_token"])?);
    cx.secret(&token);
    let id = need(kw, "secret_id")?;
    let url = http::parse(&format!("{base}/api/v1/secrets/{id}"))?;
    let step = "the secret's read";
    let resp = http::send(step, &url, client.get(url.clone()).bearer_auth(&token)).await?;
    let answer = http::json(step, &url, resp).await?;
    let field = need(kw, "secret_field")?;
    let items = answer
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .find(|i| i.get("slug").and_then(Value::as_str) == Some(field))
        .and_then(|i| i.get("itemValue"))
        .map(as_text)
        .ok_or_else(|| {
            let slugs: Vec<&str> = items
                .iter()
                .filter_map(|i| i.get("slug").and_then(Value::as_str))
                .collect();
            LookupError::new(format!(
                "secret {id} has no field {field} (its fields: {})",
                slugs.join(", ")
            ))
        })
}
