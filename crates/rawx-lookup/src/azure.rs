//! Microsoft Azure Key Vault (`azure_kv.py`, through `azure-keyvault-secrets` and
//! `azure-identity`'s `ClientSecretCredential`): the SDK's challenge flow. The first
//! `GET <vault>/secrets/<name>/<version>?api-version=7.4` goes without a token; the vault
//! answers 401 with `WWW-Authenticate: Bearer authorization="…", resource="…"` (or `scope`);
//! a client-credentials token for that resource comes from
//! `POST <authority>/<tenant>/oauth2/v2.0/token` (the authority is
//! `https://login.microsoftonline.com`, or `AZURE_AUTHORITY_HOST` as azure-identity reads
//! it); the request is sent again with it and the secret is the answer's `value`.

use crate::http::{self, Tls};
use crate::{as_text, need, quote, s, Cx, Kwargs, LookupError};

const API_VERSION: &str = "7.4";

/// A parameter of a `Bearer k="v", …` challenge.
fn challenge_param(header: &str, name: &str) -> Option<String> {
    let rest = header.trim().strip_prefix("Bearer")?.trim();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

pub async fn key_vault(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let vault = need(kw, "url")?.trim_end_matches('/');
    let mut url = http::parse(&format!(
        "{vault}/secrets/{}/{}",
        quote(need(kw, "secret_field")?),
        quote(s(kw, "secret_version"))
    ))?;
    url.set_query(Some(&format!("api-version={API_VERSION}")));
    let client = http::client(&Tls::default())?;
    let step = "the secret's read";
    let first = http::send(step, &url, client.get(url.clone())).await?;
    if first.status().is_success() {
        let answer = http::json(step, &url, first).await?;
        return Ok(as_text(http::field(cx, step, &answer, &["value"])?));
    }
    if first.status().as_u16() != 401 {
        return Err(http::ok(step, &url, first)
            .await
            .err()
            .unwrap_or_else(|| LookupError::new(step)));
    }
    let challenge = first
        .headers()
        .get("WWW-Authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let scope = match (
        challenge_param(&challenge, "scope"),
        challenge_param(&challenge, "resource"),
    ) {
        (Some(scope), _) => scope,
        (None, Some(resource)) => format!("{}/.default", resource.trim_end_matches('/')),
        (None, None) => {
            return Err(LookupError::new(format!(
                "{step} ({}) answered 401 without a Bearer challenge naming the resource",
                http::shown(&url)
            )))
        }
    };
    let authority = std::env::var("AZURE_AUTHORITY_HOST")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "https://login.microsoftonline.com".into());
    let token_url = http::parse(&format!(
        "{}/{}/oauth2/v2.0/token",
        authority.trim_end_matches('/'),
        need(kw, "tenant")?
    ))?;
    let tstep = "the Microsoft Entra ID token request";
    let rb = client.post(token_url.clone()).form(&[
        ("client_id", need(kw, "client")?),
        ("client_secret", need(kw, "secret")?),
        ("grant_type", "client_credentials"),
        ("scope", scope.as_str()),
    ]);
    let answer = http::json(tstep, &token_url, http::send(tstep, &token_url, rb).await?).await?;
    let token = as_text(http::field(cx, tstep, &answer, &["access_token"])?);
    cx.secret(&token);
    let resp = http::send(step, &url, client.get(url.clone()).bearer_auth(&token)).await?;
    let answer = http::json(step, &url, resp).await?;
    Ok(as_text(http::field(cx, step, &answer, &["value"])?))
}
