//! The nine external secret vaults AWX looks secrets up in, as fakes answering as each
//! vendor's documented API does (none can run here): HashiCorp Vault (AppRole, KV v1/v2, SSH
//! signing), CyberArk CCP and Conjur, Azure Key Vault with Entra ID, Centrify, Delinea DSV and
//! Secret Server, AWS Secrets Manager. Shared by the lookup suites.

use crate::fake_http::{bearer, denied, reply, Fake};
use crate::lab::Lab;
use crate::Opts;
use serde_json::json;

// The secrets each fake vault holds, and the credentials that open them.
pub const VAULT_TOKEN: &str = "hvs.root-token-Qa71Zk";
pub const APPROLE_SECRET: &str = "approle-secret-id-Lm29";
pub const APPROLE_TOKEN: &str = "hvs.approle-token-Wd83";
pub const KV1: &str = "kv1-db-password-Hn52";
pub const KV2: &str = "kv2-app-password-Rt64";
pub const SIGNED: &str = "ssh-ed25519-cert-v01@openssh.com AAAAsigned-by-vault-Pc18";
pub const AIM_APP: &str = "awx-app-id-Vs40";
pub const AIM: &str = "aim-account-password-Jb97";
pub const CONJUR_KEY: &str = "conjur-api-key-Ty38";
pub const CONJUR_TOKEN: &str = "{\"protected\":\"conjur-token-Gh11\"}";
pub const CONJUR: &str = "conjur-variable-Xe63";
pub const AZ_SECRET: &str = "azure-client-secret-Ku25";
pub const AZ_TOKEN: &str = "azure-access-token-Mm70";
pub const AZURE: &str = "azure-keyvault-value-Dq84";
pub const CENTRIFY_PW: &str = "centrify-api-password-Fo49";
pub const CENTRIFY_TOKEN: &str = "centrify-token-Bz33";
pub const CENTRIFY: &str = "centrify-checkout-Sn26";
pub const DSV_SECRET: &str = "dsv-client-secret-Yp58";
pub const DSV_TOKEN: &str = "dsv-access-token-Ce02";
pub const DSV: &str = "dsv-data-password-Iw75";
pub const TSS_PW: &str = "tss-user-password-Ug14";
pub const TSS_TOKEN: &str = "tss-access-token-Ar66";
pub const TSS: &str = "tss-item-password-Lk39";
pub const AWS_SECRET_KEY: &str = "aws-secret-access-key-Ev81";
pub const AWS: &str = "aws-secrets-manager-Zt90";

pub struct Vendors {
    pub vault: Fake,
    pub aim: Fake,
    pub conjur: Fake,
    pub azure_vault: Fake,
    pub azure_login: Fake,
    pub centrify: Fake,
    pub dsv: Fake,
    pub tss: Fake,
    pub aws: Fake,
}

pub fn vendors() -> Vendors {
    // HashiCorp Vault (developer.hashicorp.com/vault/api-docs): AppRole login, KV v1 and v2
    // reads, the SSH engine's sign endpoint; a token Vault does not know is a 403.
    let vault = Fake::start(|r| {
        let token = r.header("X-Vault-Token").unwrap_or_default();
        let known = token == VAULT_TOKEN || token == APPROLE_TOKEN;
        match (r.method.as_str(), r.target.as_str()) {
            ("POST", "/v1/auth/approle/login") => {
                if r.json() == json!({"role_id": "awx-role", "secret_id": APPROLE_SECRET}) {
                    reply(
                        200,
                        json!({"auth": {"client_token": APPROLE_TOKEN, "policies": ["awx"]}}),
                    )
                } else {
                    reply(400, json!({"errors": ["invalid role or secret ID"]}))
                }
            }
            _ if !known => denied(),
            ("GET", "/v1/kv1/db") => reply(
                200,
                json!({"data": {"password": KV1}, "lease_duration": 2764800}),
            ),
            ("GET", "/v1/secret/data/app?version=3") => reply(
                200,
                json!({"data": {"data": {"password": KV2}, "metadata": {"version": 3}}}),
            ),
            ("POST", "/v1/ssh-signer/sign/ops") => reply(
                200,
                json!({"data": {"serial_number": "c73f26d2340276aa", "signed_key": SIGNED}}),
            ),
            _ => reply(404, json!({"errors": []})),
        }
    });
    // CyberArk CCP (docs.cyberark.com, "Call the Central Credential Provider REST API").
    let aim = Fake::start(|r| {
        if r.path() == "/AIMWebService/api/Accounts"
            && r.target.contains(&format!("AppId={AIM_APP}"))
        {
            reply(
                200,
                json!({"Content": AIM, "UserName": "dbuser", "Address": "db.example", "Safe": "Test"}),
            )
        } else {
            reply(
                403,
                json!({"ErrorCode": "APPAP004E", "ErrorMsg": "Application not found"}),
            )
        }
    });
    // Conjur (docs.conjur.org API): authenticate with the API key, then read a variable with
    // the base64 token.
    let conjur = Fake::start(|r| match (r.method.as_str(), r.path()) {
        ("POST", "/authn/acme/host%2Fawx/authenticate") if r.body == CONJUR_KEY => {
            (200, vec![], base64_encode(CONJUR_TOKEN))
        }
        ("GET", "/secrets/acme/variable/prod%2Fdb%2Fpassword")
            if r.header("Authorization")
                == Some(&format!("Token token=\"{}\"", base64_encode(CONJUR_TOKEN))) =>
        {
            (200, vec![], CONJUR.to_string())
        }
        _ => (401, vec![], "Unauthorized".into()),
    });
    // Azure Key Vault (learn.microsoft.com, "Get Secret" and the authentication challenge)
    // and Microsoft Entra ID's client-credentials token endpoint.
    let azure_vault = Fake::start(|r| {
        if r.target != "/secrets/db-password/?api-version=7.4" {
            return reply(
                404,
                json!({"error": {"code": "SecretNotFound", "message": "not found"}}),
            );
        }
        if bearer(r, AZ_TOKEN) {
            reply(
                200,
                json!({"value": AZURE, "id": "https://ops.vault.azure.net/secrets/db-password/7f1e"}),
            )
        } else {
            (
                401,
                vec![(
                    "WWW-Authenticate",
                    "Bearer authorization=\"https://login.microsoftonline.com/tenant-77\", resource=\"https://vault.azure.net\"".into(),
                )],
                json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}).to_string(),
            )
        }
    });
    let azure_login = Fake::start(|r| {
        let f = r.form();
        if r.path() == "/tenant-77/oauth2/v2.0/token"
            && f.get("client_secret").map(String::as_str) == Some(AZ_SECRET)
            && f.get("scope").map(String::as_str) == Some("https://vault.azure.net/.default")
        {
            reply(
                200,
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": AZ_TOKEN}),
            )
        } else {
            reply(
                401,
                json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
            )
        }
    });
    // Centrify (developer.centrify.com: OAuth2 client credentials, RedRock query, checkout).
    let centrify = Fake::start(|r| match r.path() {
        "/oauth2/token/awx" => {
            let basic = format!(
                "Basic {}",
                base64_encode(&format!("api-user:{CENTRIFY_PW}"))
            );
            if r.header("Authorization") == Some(basic.as_str()) {
                reply(
                    200,
                    json!({"access_token": CENTRIFY_TOKEN, "token_type": "Bearer"}),
                )
            } else {
                reply(401, json!({"error": "access_denied"}))
            }
        }
        _ if !bearer(r, CENTRIFY_TOKEN) || r.header("X-CENTRIFY-NATIVE-CLIENT") != Some("true") => {
            reply(401, json!({"success": false}))
        }
        "/Redrock/query" => reply(
            200,
            json!({"success": true, "Result": {"Count": 1, "Results": [{"Row": {"ID": "acct-5521"}}]}}),
        ),
        "/ServerManage/CheckoutPassword" if r.json() == json!({"ID": "acct-5521"}) => reply(
            200,
            json!({"success": true, "Result": {"Password": CENTRIFY, "COID": "co-1"}}),
        ),
        _ => reply(404, json!({"success": false})),
    });
    // Delinea DevOps Secrets Vault (its REST API: `/v1/token`, `/v1/secrets/<path>`), here
    // under a path standing for the tenant's host.
    let dsv = Fake::start(|r| match (r.method.as_str(), r.path()) {
        ("POST", "/ops.eu/v1/token") if r.json()["client_secret"] == json!(DSV_SECRET) => reply(
            200,
            json!({"accessToken": DSV_TOKEN, "tokenType": "bearer", "expiresIn": 3600}),
        ),
        ("GET", "/ops.eu/v1/secrets/app/db") if bearer(r, DSV_TOKEN) => reply(
            200,
            json!({"id": "9a1", "path": "app:db", "data": {"password": base64_encode(DSV)}, "version": "1"}),
        ),
        _ => reply(403, json!({"code": 403, "message": "unable to authorize"})),
    });
    // Delinea Secret Server (its REST API: `/oauth2/token`, `/api/v1/secrets/<id>`).
    let tss = Fake::start(|r| match (r.method.as_str(), r.path()) {
        ("POST", "/SecretServer/oauth2/token")
            if r.form().get("password").map(String::as_str) == Some(TSS_PW) =>
        {
            reply(
                200,
                json!({"access_token": TSS_TOKEN, "token_type": "bearer", "expires_in": 1199}),
            )
        }
        ("GET", "/SecretServer/api/v1/secrets/42") if bearer(r, TSS_TOKEN) => reply(
            200,
            json!({"id": 42, "name": "db", "items": [
                {"itemId": 1, "fieldName": "Username", "slug": "username", "itemValue": "dbadmin"},
                {"itemId": 2, "fieldName": "Password", "slug": "password", "itemValue": TSS}
            ]}),
        ),
        _ => reply(400, json!({"error": "invalid_grant"})),
    });
    // AWS Secrets Manager (its API reference, GetSecretValue over AWS JSON 1.1).
    let aws = Fake::start(|r| {
        let auth = r.header("Authorization").unwrap_or_default();
        if r.header("X-Amz-Target") == Some("secretsmanager.GetSecretValue")
            && auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE7/")
            && r.json() == json!({"SecretId": "prod/db"})
        {
            reply(
                200,
                json!({"ARN": "arn:aws:secretsmanager:eu-west-3:123456789012:secret:prod/db-AbCdEf", "Name": "prod/db", "SecretString": AWS, "VersionId": "v1"}),
            )
        } else {
            reply(
                400,
                json!({"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."}),
            )
        }
    });
    Vendors {
        vault,
        aim,
        conjur,
        azure_vault,
        azure_login,
        centrify,
        dsv,
        tss,
        aws,
    }
}

pub fn base64_encode(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn lab_with(v: &Vendors) -> Lab {
    Lab::start_with(Opts {
        env: vec![
            ("RAWX_LOG".into(), "debug".into()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), v.aws.url.clone()),
            ("AZURE_AUTHORITY_HOST".into(), v.azure_login.url.clone()),
            (
                "RAWX_DSV_URL_TEMPLATE".into(),
                format!("{}/{{}}.{{}}", v.dsv.url),
            ),
        ],
        ..Opts::default()
    })
}

/// The secrets of the scan: every lookup credential's and every value found.
pub fn all_secrets() -> Vec<(String, String)> {
    [
        VAULT_TOKEN,
        APPROLE_SECRET,
        APPROLE_TOKEN,
        KV1,
        KV2,
        SIGNED,
        AIM_APP,
        AIM,
        CONJUR_KEY,
        CONJUR,
        AZ_SECRET,
        AZ_TOKEN,
        AZURE,
        CENTRIFY_PW,
        CENTRIFY_TOKEN,
        CENTRIFY,
        DSV_SECRET,
        DSV_TOKEN,
        DSV,
        TSS_PW,
        TSS_TOKEN,
        TSS,
        AWS_SECRET_KEY,
        AWS,
    ]
    .iter()
    .map(|s| (format!("secret {s:.12}…"), s.to_string()))
    .chain([("conjur token".to_string(), "conjur-token-Gh11".to_string())])
    .collect()
}
