//! CyberArk: the Central Credential Provider (`aim.py`: `GET <url>/<webservice>/api/Accounts`
//! with `AppId`, `Query`, `QueryFormat`, `reason`, optionally a client certificate) and Conjur
//! (`conjur.py`: `POST <url>/authn/<account>/<login>/authenticate` with the API key, then
//! `GET <url>/secrets/<account>/variable/<id>` with `Authorization: Token token="<base64>"`,
//! each retried under `/api/` — Conjur Cloud's prefix — when the first answers an error).

use crate::http::{self, Tls};
use crate::{as_text, need, quote, s, s_or, Cx, Kwargs, LookupError};
use base64::Engine;
use serde_json::Value;

/// CyberArk Central Credential Provider Lookup.
pub async fn aim(_cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let webservice = s_or(kw, "webservice_id", "AIMWebService");
    let mut params = vec![
        ("AppId", need(kw, "app_id")?),
        ("Query", need(kw, "object_query")?),
        ("QueryFormat", s_or(kw, "object_query_format", "Exact")),
    ];
    if !s(kw, "reason").is_empty() {
        params.push(("reason", s(kw, "reason")));
    }
    let qs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    let mut url = http::join(need(kw, "url")?, &format!("{webservice}/api/Accounts"))?;
    url.set_query(Some(&qs.join("&")));
    let client = http::client(&Tls {
        client_cert: s(kw, "client_cert"),
        client_key: s(kw, "client_key"),
        insecure: kw.get("verify") == Some(&Value::Bool(false)),
        ..Tls::default()
    })?;
    let step = "the account's retrieval";
    let resp = http::send(step, &url, client.get(url.clone())).await?;
    let answer = http::json(step, &url, resp).await?;
    // CCP names the properties capitalized, the user name in camel case.
    let asked = s(kw, "object_property");
    let property = match asked.to_lowercase().as_str() {
        "" | "password" => "Content".to_string(),
        "username" => "UserName".to_string(),
        "address" => "Address".to_string(),
        _ => {
            let mut c = asked.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        }
    };
    answer.get(&property).map(as_text).ok_or_else(|| {
        LookupError::new(format!(
            "Property {asked} not found in object, available properties: Username, Password and Address"
        ))
    })
}

/// Python's `_is_base64`: text that decodes and encodes back to itself.
fn is_base64(s: &str) -> bool {
    let b = base64::engine::general_purpose::STANDARD;
    b.decode(s).map(|raw| b.encode(raw) == s).unwrap_or(false)
}

/// CyberArk Conjur Secrets Manager Lookup.
pub async fn conjur(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let base = need(kw, "url")?;
    let account = quote(need(kw, "account")?);
    let username = quote(need(kw, "username")?);
    let secret_path = quote(s(kw, "secret_path"));
    let client = http::client(&Tls {
        cacert: s(kw, "cacert"),
        ..Tls::default()
    })?;
    let api_key = need(kw, "api_key")?.to_string();
    let authn = |prefix: &str| {
        http::join(
            base,
            &format!("{prefix}authn/{account}/{username}/authenticate"),
        )
    };
    let auth = |url: url::Url| {
        client
            .post(url)
            .header("Content-Type", "text/plain")
            .header("Accept-Encoding", "base64")
            .body(api_key.clone())
    };
    let step = "the Conjur authentication";
    let url = authn("")?;
    let mut resp = http::send(step, &url, auth(url.clone())).await?;
    let mut at = url;
    if resp.status().as_u16() >= 400 {
        at = authn("api/")?;
        resp = http::send(step, &at, auth(at.clone())).await?;
    }
    let resp = http::ok(step, &at, resp).await?;
    let token = resp
        .text()
        .await
        .map_err(|_| LookupError::new(format!("{step}: the token could not be read")))?;
    cx.secret(&token);
    let header = if is_base64(&token) {
        token.clone()
    } else {
        base64::engine::general_purpose::STANDARD.encode(token.as_bytes())
    };
    cx.secret(&header);
    let version = s(kw, "secret_version");
    let secret_url = |prefix: &str| -> Result<url::Url, LookupError> {
        let mut u = http::join(
            base,
            &format!("{prefix}secrets/{account}/variable/{secret_path}"),
        )?;
        if !version.is_empty() {
            u.set_query(Some(&format!("version={version}")));
        }
        Ok(u)
    };
    let get = |url: url::Url| {
        client
            .get(url)
            .header("Authorization", format!("Token token=\"{header}\""))
    };
    let step = "the secret's retrieval";
    let url = secret_url("")?;
    let mut resp = http::send(step, &url, get(url.clone())).await?;
    let mut at = url;
    if resp.status().as_u16() >= 400 {
        at = secret_url("api/")?;
        resp = http::send(step, &at, get(at.clone())).await?;
    }
    let resp = http::ok(step, &at, resp).await?;
    resp.text()
        .await
        .map_err(|_| LookupError::new(format!("{step}: the secret could not be read")))
}
