//! Centrify Vault (`centrify_vault.py`): an OAuth2 client-credentials token from
//! `POST <url>/oauth2/token/<application>` (HTTP Basic), the account's ID from a RedRock query
//! (`POST <url>/Redrock/query`), then `POST <url>/ServerManage/CheckoutPassword`.

use crate::http::{self, Tls};
use crate::{as_text, need, s_or, Cx, Kwargs, LookupError};
use serde_json::json;

pub async fn centrify(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let base = need(kw, "url")?;
    let client = http::client(&Tls::default())?;
    let app = s_or(kw, "oauth_application_id", "awx");
    let url = http::join(base, &format!("/oauth2/token/{app}"))?;
    let step = "the OAuth2 token request";
    let rb = client
        .post(url.clone())
        .basic_auth(need(kw, "client_id")?, Some(need(kw, "client_password")?))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", s_or(kw, "oauth_scope", "awx")),
        ]);
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    let token = answer
        .get("access_token")
        .and_then(|t| t.as_str())
        .ok_or_else(|| LookupError::new("OAuth request to tenant was unsuccessful"))?
        .to_string();
    cx.secret(&token);

    let system = need(kw, "system-name")?;
    let account = need(kw, "account-name")?;
    // AWX's query, to the letter (two spaces after `where`).
    let script = format!("Select ID from VaultAccount where  Name='{system}' and User='{account}'");
    let url = http::join(base, "/Redrock/query")?;
    let step = "the account's RedRock query";
    let rb = client
        .post(url.clone())
        .bearer_auth(&token)
        .header("X-CENTRIFY-NATIVE-CLIENT", "true")
        .json(&json!({ "Script": script }));
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    let id = answer
        .pointer("/Result/Results/0/Row/ID")
        .cloned()
        .ok_or_else(|| {
            LookupError::new(format!(
                "{step}: no account {account} on the system {system}"
            ))
        })?;

    let url = http::join(base, "/ServerManage/CheckoutPassword")?;
    let step = "the password's checkout";
    let rb = client
        .post(url.clone())
        .bearer_auth(&token)
        .header("X-CENTRIFY-NATIVE-CLIENT", "true")
        .json(&json!({ "ID": id }));
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    answer
        .pointer("/Result/Password")
        .map(as_text)
        .ok_or_else(|| LookupError::new("Password Not Found"))
}
