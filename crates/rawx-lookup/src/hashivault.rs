//! HashiCorp Vault: `awx/main/credential_plugins/hashivault.py`. A token, or a login by
//! userpass, AppRole, Kubernetes or TLS certificate (`POST /v1/auth/<path>/login`), then a KV
//! read (`GET /v1/<backend>/<path>`, v2: `/v1/<mount>/data/<path>?version=`) or an SSH key
//! signature (`POST /v1/<path>/sign/<role>`), with `X-Vault-Token`, `Authorization: Bearer`
//! and `X-Vault-Namespace`; a 412 (Enterprise consistency) is retried five times a second
//! apart, as AWX does.

use crate::http::{self, Tls};
use crate::{as_text, need, s, s_or, Cx, Kwargs, LookupError};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::Duration;
use url::Url;

const K8S_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// AWX's `handle_auth`: the token, or one from the first login method whose inputs are set.
async fn token(cx: &mut Cx, kw: &Kwargs, client: &Client) -> Result<String, LookupError> {
    let given = |k: &str| !s(kw, k).is_empty();
    let token = if given("token") {
        return Ok(s(kw, "token").to_string());
    } else if given("username") && given("password") {
        login(
            kw,
            client,
            json!({"username": s(kw, "username"), "password": s(kw, "password")}),
            true,
        )
        .await?
    } else if given("role_id") && given("secret_id") {
        login(
            kw,
            client,
            json!({"role_id": s(kw, "role_id"), "secret_id": s(kw, "secret_id")}),
            false,
        )
        .await?
    } else if given("kubernetes_role") {
        let jwt = std::fs::read_to_string(K8S_TOKEN).map_err(|e| {
            LookupError::new(format!("Kubernetes authentication needs the pod's service account token ({K8S_TOKEN}): {e}"))
        })?;
        login(
            kw,
            client,
            json!({"role": s(kw, "kubernetes_role"), "jwt": jwt.trim_end()}),
            false,
        )
        .await?
    } else if given("client_cert_public") && given("client_cert_private") {
        let role = Some(s(kw, "client_cert_role")).filter(|r| !r.is_empty());
        let with_cert = http::client(&Tls {
            cacert: s(kw, "cacert"),
            client_cert: s(kw, "client_cert_public"),
            client_key: s(kw, "client_cert_private"),
            insecure: false,
        })?;
        login(kw, &with_cert, json!({ "name": role }), false).await?
    } else {
        return Err(LookupError::new(
            "Token, Username/Password, AppRole, Kubernetes, or TLS authentication parameters must be set",
        ));
    };
    cx.secret(&token);
    Ok(token)
}

/// AWX's `method_auth`: `POST <url>/v1/auth/<auth_path>/login[/<username>]`.
async fn login(
    kw: &Kwargs,
    client: &Client,
    body: Value,
    userpass: bool,
) -> Result<String, LookupError> {
    // The metadata's `auth_path` first, else the credential's `default_auth_path`.
    let auth_path = s_or(kw, "auth_path", s_or(kw, "default_auth_path", "approle"));
    let base = http::join(need(kw, "url")?, "v1")?;
    let mut target = format!(
        "{}/auth/{auth_path}/login",
        base.as_str().trim_end_matches('/')
    )
    .trim_end_matches('/')
    .to_string();
    if userpass {
        target = format!("{target}/{}", s(kw, "username"));
    }
    let url = http::parse(&target)?;
    let step = "the Vault login";
    let rb = namespaced(kw, client.post(url.clone()).json(&body));
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    let token = answer
        .get("auth")
        .and_then(|a| a.get("client_token"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            LookupError::new(format!(
                "{step} ({}) gave no auth.client_token",
                http::shown(&url)
            ))
        })?;
    Ok(token.to_string())
}

fn namespaced(kw: &Kwargs, rb: RequestBuilder) -> RequestBuilder {
    match s(kw, "namespace") {
        "" => rb,
        ns => rb.header("X-Vault-Namespace", ns),
    }
}

/// Sends with the token, again while Vault answers 412 (at most five times, a second apart).
async fn with_token(
    kw: &Kwargs,
    client: &Client,
    token: &str,
    method: Method,
    url: &Url,
    body: Option<&Value>,
    step: &str,
) -> Result<Response, LookupError> {
    let mut tries = 0;
    loop {
        let mut rb = client
            .request(method.clone(), url.clone())
            .bearer_auth(token)
            // Older Vault installations read only this one.
            .header("X-Vault-Token", token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = http::send(step, url, namespaced(kw, rb)).await?;
        tries += 1;
        if resp.status().as_u16() == 412 && tries < 5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        return Ok(resp);
    }
}

fn tls(kw: &Kwargs) -> Tls<'_> {
    Tls {
        cacert: s(kw, "cacert"),
        ..Tls::default()
    }
}

/// HashiCorp Vault Secret Lookup: one key of a KV secret.
pub async fn kv(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let client = http::client(&tls(kw))?;
    let token = token(cx, kw, &client).await?;
    let secret_path = need(kw, "secret_path")?;
    let backend = s(kw, "secret_backend");
    let v2 = s_or(kw, "api_version", "v1") == "v2";
    let mut segments: Vec<&str> = vec!["v1"];
    if v2 {
        if !backend.is_empty() {
            segments.extend([backend, "data", secret_path]);
        } else {
            // pathlib's parts: the first is the mount point, `data` goes after it.
            let mut parts = secret_path
                .trim_start_matches('/')
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".");
            let mount = parts.next().unwrap_or(secret_path);
            segments.extend([mount, "data"]);
            segments.extend(parts);
        }
    } else if !backend.is_empty() {
        segments.extend([backend, secret_path]);
    } else {
        segments.push(secret_path);
    }
    let joined = http::join(need(kw, "url")?, &segments.join("/"))?;
    let mut url = http::parse(joined.as_str().trim_end_matches('/'))?;
    let version = s(kw, "secret_version");
    if v2 && !version.is_empty() {
        url.query_pairs_mut().append_pair("version", version);
    }
    let step = "the secret's read";
    let resp = with_token(kw, &client, &token, Method::GET, &url, None, step).await?;
    let mut answer = http::json(step, &url, resp).await?;
    if v2 {
        answer = answer.get("data").cloned().unwrap_or(Value::Null);
    }
    let data = answer.get("data").cloned().unwrap_or(Value::Null);
    let key = s(kw, "secret_key");
    if key.is_empty() {
        return Ok(as_text(&data));
    }
    // AWX also reads a v2 answer read through the v1 API (`data.data.<key>`).
    let found = if key != "data" && data.get(key).is_none() && data.get("data").is_some() {
        data["data"].get(key)
    } else {
        data.get(key)
    };
    found
        .map(as_text)
        .ok_or_else(|| LookupError::new(format!("{key} is not present at {secret_path}")))
}

/// HashiCorp Vault Signed SSH: the public key signed by the role.
pub async fn ssh(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let client = http::client(&tls(kw))?;
    let token = token(cx, kw, &client).await?;
    let base = http::join(need(kw, "url")?, "v1")?;
    let target = format!(
        "{}/{}/sign/{}",
        base.as_str().trim_end_matches('/'),
        need(kw, "secret_path")?,
        need(kw, "role")?
    );
    let url = http::parse(target.trim_end_matches('/'))?;
    let mut body = json!({ "public_key": need(kw, "public_key")? });
    if !s(kw, "valid_principals").is_empty() {
        body["valid_principals"] = json!(s(kw, "valid_principals"));
    }
    let step = "the SSH key's signature";
    let resp = with_token(kw, &client, &token, Method::POST, &url, Some(&body), step).await?;
    let answer = http::json(step, &url, resp).await?;
    Ok(as_text(http::field(
        cx,
        step,
        &answer,
        &["data", "signed_key"],
    )?))
}
