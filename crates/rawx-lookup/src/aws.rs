//! AWS Secrets Manager (`aws_secretsmanager.py`, boto3's `get_secret_value`): one
//! `POST /` to `secretsmanager.<region>.amazonaws.com` with `X-Amz-Target:
//! secretsmanager.GetSecretValue`, a JSON body `{"SecretId": …}` (AWS JSON 1.1) and a SigV4
//! signature; the secret is `SecretString`, else `SecretBinary` decoded. The endpoint may be
//! replaced as botocore allows, by `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL`.

use crate::http::{self, Tls};
use crate::sigv4::{self, Key, Request};
use crate::{as_text, need, Cx, Kwargs, LookupError};
use base64::Engine;
use serde_json::json;

pub async fn secrets_manager(cx: &mut Cx, kw: &Kwargs) -> Result<String, LookupError> {
    let region = need(kw, "region_name")?;
    let endpoint = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
    let url = http::parse(&endpoint)?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => {
            return Err(LookupError::new(format!(
                "the endpoint {endpoint} names no host"
            )))
        }
    };
    let body = json!({ "SecretId": need(kw, "secret_name")? }).to_string();
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
    const TARGET: &str = "secretsmanager.GetSecretValue";
    let headers = [
        ("Content-Type", CONTENT_TYPE),
        ("Host", host.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Target", TARGET),
    ];
    let authorization = sigv4::authorization(
        &Key {
            access_key: need(kw, "aws_access_key")?,
            secret: need(kw, "aws_secret_key")?,
            region,
            service: "secretsmanager",
        },
        &Request {
            method: "POST",
            path: url.path(),
            query: &[],
            headers: &headers,
            payload: body.as_bytes(),
        },
        &amz_date,
    );
    let client = http::client(&Tls::default())?;
    let step = "GetSecretValue";
    let rb = client
        .post(url.clone())
        .header("Content-Type", CONTENT_TYPE)
        .header("X-Amz-Date", &amz_date)
        .header("X-Amz-Target", TARGET)
        .header("Authorization", authorization)
        .body(body);
    let answer = http::json(step, &url, http::send(step, &url, rb).await?).await?;
    if let Some(s) = answer.get("SecretString").filter(|v| !v.is_null()) {
        return Ok(as_text(s));
    }
    let binary = http::field(cx, step, &answer, &["SecretBinary"])?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(as_text(binary))
        .map_err(|_| LookupError::new(format!("{step}: SecretBinary is not base64")))?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}
