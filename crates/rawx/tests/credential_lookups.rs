//! End-to-end: AWX's external secret lookups. None of the nine vaults can run here, so each
//! is a small HTTP server in this test that answers as the vendor's documented API does
//! (HashiCorp Vault's AppRole login, KV v1/v2 reads and SSH signing; CyberArk CCP's Accounts
//! API and Conjur's authn/secrets API; Azure Key Vault's 401 challenge and Microsoft Entra
//! ID's token endpoint; Centrify's OAuth2, RedRock and CheckoutPassword; Delinea DSV's and
//! Secret Server's token and secret reads; AWS Secrets Manager's `GetSecretValue` with
//! SigV4). It records what each request carried, so the test asserts the paths, the auth
//! headers and the bodies rawx sent, and that a real `ansible-playbook` job received every
//! secret. A failing lookup fails the job, explains why, and shows no secret; the secret scan
//! runs over the job's output, events, `job_args`/`job_env`, the server's log and the
//! database. Also: `/api/v2/credential_input_sources/` with AWX's checks and access rules,
//! `/credentials/N/test/` and `/credential_types/N/test/`, the real `awx` CLI and the
//! collection's `credential_input_source` module.

use rawx_testkit::lab::*;
use rawx_testkit::plays::assert_clean;
use rawx_testkit::{Opts, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request a fake vendor received.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn form(&self) -> BTreeMap<String, String> {
        self.body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The answer: status, extra headers, JSON or text body.
type Reply = (u16, Vec<(&'static str, String)>, String);

fn reply(status: u16, body: Value) -> Reply {
    (status, vec![], body.to_string())
}

/// A vendor's API on a loopback port: `answer` decides each reply; every request is kept.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Req>>>,
}

impl Fake {
    fn start(answer: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
        let answer = Arc::new(answer);
        let kept = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (answer, kept) = (answer.clone(), kept.clone());
                std::thread::spawn(move || serve(conn, &*answer, &kept));
            }
        });
        Fake { url, seen }
    }

    fn seen(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }
}

/// HTTP/1.1 with keep-alive: requests one after the other on a connection.
fn serve(conn: TcpStream, answer: &dyn Fn(&Req) -> Reply, kept: &Mutex<Vec<Req>>) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let req = Req {
            method,
            target,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let (status, extra, body) = answer(&req);
        kept.lock().unwrap().push(req);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn bearer(r: &Req, token: &str) -> bool {
    r.header("Authorization") == Some(&format!("Bearer {token}"))
}

fn denied() -> Reply {
    reply(403, json!({"errors": ["permission denied"]}))
}

// The secrets each fake vault holds, and the credentials that open them.
const VAULT_TOKEN: &str = "hvs.root-token-Qa71Zk";
const APPROLE_SECRET: &str = "approle-secret-id-Lm29";
const APPROLE_TOKEN: &str = "hvs.approle-token-Wd83";
const KV1: &str = "kv1-db-password-Hn52";
const KV2: &str = "kv2-app-password-Rt64";
const SIGNED: &str = "ssh-ed25519-cert-v01@openssh.com AAAAsigned-by-vault-Pc18";
const AIM_APP: &str = "awx-app-id-Vs40";
const AIM: &str = "aim-account-password-Jb97";
const CONJUR_KEY: &str = "conjur-api-key-Ty38";
const CONJUR_TOKEN: &str = "{\"protected\":\"conjur-token-Gh11\"}";
const CONJUR: &str = "conjur-variable-Xe63";
const AZ_SECRET: &str = "azure-client-secret-Ku25";
const AZ_TOKEN: &str = "azure-access-token-Mm70";
const AZURE: &str = "azure-keyvault-value-Dq84";
const CENTRIFY_PW: &str = "centrify-api-password-Fo49";
const CENTRIFY_TOKEN: &str = "centrify-token-Bz33";
const CENTRIFY: &str = "centrify-checkout-Sn26";
const DSV_SECRET: &str = "dsv-client-secret-Yp58";
const DSV_TOKEN: &str = "dsv-access-token-Ce02";
const DSV: &str = "dsv-data-password-Iw75";
const TSS_PW: &str = "tss-user-password-Ug14";
const TSS_TOKEN: &str = "tss-access-token-Ar66";
const TSS: &str = "tss-item-password-Lk39";
const AWS_SECRET_KEY: &str = "aws-secret-access-key-Ev81";
const AWS: &str = "aws-secrets-manager-Zt90";

struct Vendors {
    vault: Fake,
    aim: Fake,
    conjur: Fake,
    azure_vault: Fake,
    azure_login: Fake,
    centrify: Fake,
    dsv: Fake,
    tss: Fake,
    aws: Fake,
}

fn vendors() -> Vendors {
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

fn base64_encode(s: &str) -> String {
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

fn lab_with(v: &Vendors) -> Lab {
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

fn type_id(lab: &Lab, name: &str) -> i64 {
    let r = lab.s.admin(
        "GET",
        &format!(
            "/api/v2/credential_types/?name={}",
            name.replace(' ', "%20")
        ),
        None,
        200,
    );
    r["results"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no type {name}: {r}"))
}

fn credential(lab: &Lab, name: &str, ty: i64, inputs: Value) -> i64 {
    lab.s.admin(
        "POST",
        "/api/v2/credentials/",
        Some(json!({"name": name, "organization": lab.org["id"], "credential_type": ty, "inputs": inputs})),
        201,
    )["id"]
        .as_i64()
        .unwrap()
}

/// The nine lookup credentials, one per plugin (two for Vault's KV: v1 with a token, v2
/// through AppRole), each with the metadata of the secret it reads: `(field, source,
/// metadata)`.
fn lookup_credentials(lab: &Lab, v: &Vendors) -> Vec<(&'static str, i64, Value)> {
    let kv = type_id(lab, "HashiCorp Vault Secret Lookup");
    let kv1 = credential(
        lab,
        "vault-kv1",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let kv2 = credential(
        lab,
        "vault-kv2",
        kv,
        json!({"url": format!("{}/", v.vault.url), "role_id": "awx-role", "secret_id": APPROLE_SECRET, "api_version": "v2", "default_auth_path": "approle"}),
    );
    let ssh = credential(
        lab,
        "vault-ssh",
        type_id(lab, "HashiCorp Vault Signed SSH"),
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "namespace": "team-a"}),
    );
    let aim = credential(
        lab,
        "ccp",
        type_id(lab, "CyberArk Central Credential Provider Lookup"),
        json!({"url": v.aim.url, "app_id": AIM_APP, "verify": true}),
    );
    let conjur = credential(
        lab,
        "conjur",
        type_id(lab, "CyberArk Conjur Secrets Manager Lookup"),
        json!({"url": v.conjur.url, "api_key": CONJUR_KEY, "account": "acme", "username": "host/awx"}),
    );
    let azure = credential(
        lab,
        "keyvault",
        type_id(lab, "Microsoft Azure Key Vault"),
        json!({"url": v.azure_vault.url, "client": "client-9", "secret": AZ_SECRET, "tenant": "tenant-77"}),
    );
    let centrify = credential(
        lab,
        "centrify",
        type_id(lab, "Centrify Vault Credential Provider Lookup"),
        json!({"url": v.centrify.url, "client_id": "api-user", "client_password": CENTRIFY_PW}),
    );
    let dsv = credential(
        lab,
        "dsv",
        type_id(lab, "Thycotic DevOps Secrets Vault"),
        json!({"tenant": "ops", "tld": "eu", "client_id": "dsv-client", "client_secret": DSV_SECRET}),
    );
    let tss = credential(
        lab,
        "tss",
        type_id(lab, "Thycotic Secret Server"),
        json!({"server_url": format!("{}/SecretServer", v.tss.url), "username": "svc-awx", "password": TSS_PW}),
    );
    let aws = credential(
        lab,
        "secrets-manager",
        type_id(lab, "AWS Secrets Manager lookup"),
        json!({"aws_access_key": "AKIAEXAMPLE7", "aws_secret_key": AWS_SECRET_KEY}),
    );
    vec![
        (
            "kv1",
            kv1,
            json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"}),
        ),
        (
            "kv2",
            kv2,
            json!({"secret_path": "/secret/app", "secret_key": "password", "secret_version": "3"}),
        ),
        (
            "ssh",
            ssh,
            json!({"secret_path": "ssh-signer", "role": "ops", "public_key": "ssh-ed25519 AAAApublic", "valid_principals": "alice"}),
        ),
        (
            "aim",
            aim,
            json!({"object_query": "Safe=Test;Object=db", "object_query_format": "Exact", "object_property": "Password", "reason": "deploy"}),
        ),
        ("conjur", conjur, json!({"secret_path": "prod/db/password"})),
        ("azure", azure, json!({"secret_field": "db-password"})),
        (
            "centrify",
            centrify,
            json!({"account-name": "root", "system-name": "web01"}),
        ),
        (
            "dsv",
            dsv,
            json!({"path": "/app/db", "secret_field": "password", "secret_decoding": "Decode Base64"}),
        ),
        (
            "tss",
            tss,
            json!({"secret_id": "42", "secret_field": "password"}),
        ),
        (
            "aws",
            aws,
            json!({"region_name": "eu-west-3", "secret_name": "prod/db"}),
        ),
    ]
}

const REPORT: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: read what the credentials injected
      no_log: true
      set_fact:
        seen: "{{ seen | default({}) | combine({item: lookup('env', item)}) }}"
      loop: "{{ watch }}"
    - name: write the report
      no_log: true
      copy:
        dest: "{{ report_path }}"
        content: "{{ seen | to_json }}"
    - name: a task that shows something
      debug:
        msg: "{{ watch | length }} variables read"
"#;

/// The secrets of the scan: every lookup credential's and every value found.
fn all_secrets() -> Vec<(String, String)> {
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

fn scan_job(lab: &Lab, id: i64, secrets: &[(String, String)]) {
    for format in ["txt", "json"] {
        let r = lab.s.http(
            "GET",
            &format!("/api/v2/jobs/{id}/stdout/?format={format}"),
            Some(("admin", ADMIN_PW)),
            None,
        );
        assert_clean(
            &format!("job {id}'s stdout ({format})"),
            r.body.as_bytes(),
            secrets,
        );
    }
    let events = Value::Array(lab.events(id)).to_string();
    assert_clean(&format!("job {id}'s events"), events.as_bytes(), secrets);
    assert_clean(
        &format!("job {id} (job_args, job_env, job_explanation, …)"),
        lab.job(id).to_string().as_bytes(),
        secrets,
    );
}

/// Every lookup plugin fills one field of one credential at launch: the job receives each
/// secret, each vault saw the requests its API documents, and no secret is anywhere else.
#[test]
fn every_lookup_fills_its_field_when_the_job_starts() {
    let v = vendors();
    let lab = lab_with(&v);
    let sources = lookup_credentials(&lab, &v);
    let fields: Vec<Value> = sources
        .iter()
        .map(|(f, _, _)| json!({"id": f, "label": f, "secret": true}))
        .collect();
    let env: serde_json::Map<String, Value> = sources
        .iter()
        .map(|(f, _, _)| {
            (
                format!("LOOKUP_{}", f.to_uppercase()),
                json!(format!("{{{{ {f} }}}}")),
            )
        })
        .collect();
    let report_type = lab.s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({"name": "Lookup Report", "kind": "cloud", "inputs": {"fields": fields}, "injectors": {"env": env}})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let target = credential(&lab, "filled-by-lookups", report_type, json!({}));
    for (i, (field, source, metadata)) in sources.iter().enumerate() {
        // Half through the credential's sub-list, half through the top-level list.
        let (path, mut body) = if i % 2 == 0 {
            (
                format!("/api/v2/credentials/{target}/input_sources/"),
                json!({}),
            )
        } else {
            (
                "/api/v2/credential_input_sources/".to_string(),
                json!({"target_credential": target}),
            )
        };
        body["input_field_name"] = json!(field);
        body["source_credential"] = json!(source);
        body["metadata"] = metadata.clone();
        let made = lab.s.admin("POST", &path, Some(body), 201);
        assert_eq!(made["target_credential"], json!(target), "{made}");
        assert_eq!(made["type"], "credential_input_source");
        assert_eq!(
            made["related"]["source_credential"],
            json!(format!("/api/v2/credentials/{source}/"))
        );
    }
    let listed = lab.s.admin(
        "GET",
        &format!("/api/v2/credentials/{target}/input_sources/"),
        None,
        200,
    );
    assert_eq!(listed["count"], json!(sources.len()), "{listed}");

    let p = lab.project("report", &[("report.yml", REPORT)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report.json");
    let watch: Vec<String> = env.keys().cloned().collect();
    let jt = lab.jt(
        "lookups",
        p,
        inv,
        "report.yml",
        json!({"extra_vars": json!({"watch": watch, "report_path": report.display().to_string()}).to_string()}),
    );
    lab.attach(jt, target);
    let id = lab.launch(jt);
    let job = lab.wait(id);
    assert_eq!(
        job["status"],
        "successful",
        "{}\n{}",
        job["job_explanation"],
        lab.stdout(id)
    );
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let want = json!({
        "LOOKUP_KV1": KV1, "LOOKUP_KV2": KV2, "LOOKUP_SSH": SIGNED, "LOOKUP_AIM": AIM,
        "LOOKUP_CONJUR": CONJUR, "LOOKUP_AZURE": AZURE, "LOOKUP_CENTRIFY": CENTRIFY,
        "LOOKUP_DSV": DSV, "LOOKUP_TSS": TSS, "LOOKUP_AWS": AWS,
    });
    assert_eq!(seen, want, "what the job received");

    // What each vault was asked.
    let vault = v.vault.seen();
    let login = vault
        .iter()
        .find(|r| r.target == "/v1/auth/approle/login")
        .expect("an AppRole login");
    assert_eq!(login.method, "POST");
    let kv2 = vault
        .iter()
        .find(|r| r.target == "/v1/secret/data/app?version=3")
        .expect("a KV v2 read");
    assert_eq!(kv2.header("X-Vault-Token"), Some(APPROLE_TOKEN));
    assert_eq!(
        kv2.header("Authorization"),
        Some(format!("Bearer {APPROLE_TOKEN}").as_str())
    );
    let kv1 = vault
        .iter()
        .find(|r| r.target == "/v1/kv1/db")
        .expect("a KV v1 read");
    assert_eq!(kv1.header("X-Vault-Token"), Some(VAULT_TOKEN));
    let sign = vault
        .iter()
        .find(|r| r.target == "/v1/ssh-signer/sign/ops")
        .expect("an SSH signature");
    assert_eq!(
        sign.json(),
        json!({"public_key": "ssh-ed25519 AAAApublic", "valid_principals": "alice"})
    );
    assert_eq!(sign.header("X-Vault-Namespace"), Some("team-a"));
    let aim = &v.aim.seen()[0];
    assert_eq!(
        aim.target,
        format!("/AIMWebService/api/Accounts?AppId={AIM_APP}&Query=Safe%3DTest%3BObject%3Ddb&QueryFormat=Exact&reason=deploy")
    );
    let conjur = v.conjur.seen();
    assert_eq!(conjur[0].header("Accept-Encoding"), Some("base64"));
    assert_eq!(conjur[0].header("Content-Type"), Some("text/plain"));
    assert_eq!(
        conjur.len(),
        2,
        "no fallback to /api/ when the first path answers: {conjur:?}"
    );
    let azure = v.azure_vault.seen();
    assert_eq!(
        azure.len(),
        2,
        "the challenge, then the read with the token"
    );
    assert_eq!(azure[0].header("Authorization"), None);
    let token_req = &v.azure_login.seen()[0];
    assert_eq!(
        token_req.form().get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(
        token_req.form().get("client_id").map(String::as_str),
        Some("client-9")
    );
    let centrify = v.centrify.seen();
    assert_eq!(
        centrify[0].form(),
        BTreeMap::from([
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "awx".into())
        ])
    );
    assert_eq!(
        centrify[1].json(),
        json!({"Script": "Select ID from VaultAccount where  Name='web01' and User='root'"})
    );
    let dsv = v.dsv.seen();
    assert_eq!(
        dsv[0].json(),
        json!({"client_id": "dsv-client", "client_secret": DSV_SECRET, "grant_type": "client_credentials"})
    );
    let tss = v.tss.seen();
    assert_eq!(
        tss[0].form().get("grant_type").map(String::as_str),
        Some("password")
    );
    assert_eq!(
        tss[0].form().get("username").map(String::as_str),
        Some("svc-awx")
    );
    let aws = &v.aws.seen()[0];
    assert_eq!(aws.path(), "/");
    assert_eq!(
        aws.header("Content-Type"),
        Some("application/x-amz-json-1.1")
    );
    let auth = aws.header("Authorization").unwrap();
    let date = aws.header("X-Amz-Date").unwrap();
    assert_eq!(date.len(), 16, "{date}");
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE7/{}/eu-west-3/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=", &date[..8])),
        "{auth}"
    );

    // Nothing stored or shown holds a secret: the values found are in no row, no output.
    let secrets = all_secrets();
    scan_job(&lab, id, &secrets);
    let stdout = lab.stdout(id);
    assert!(stdout.contains("10 variables read"), "{stdout}");
    for c in sources.iter().map(|(_, c, _)| *c).chain([target]) {
        let shown = lab
            .s
            .admin("GET", &format!("/api/v2/credentials/{c}/"), None, 200);
        assert_clean(
            &format!("credential {c}"),
            shown.to_string().as_bytes(),
            &secrets,
        );
    }
    let (dir, logs) = lab.s.stop_with_logs();
    assert_clean("rawx's log", logs.as_bytes(), &secrets);
    let mut db = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawx.db") {
            db.extend(std::fs::read(e.path()).unwrap());
        }
    }
    assert!(
        rawx_testkit::plays::contains(&db, "filled-by-lookups"),
        "the database scan found nothing"
    );
    assert_clean("the SQLite database", &db, &secrets);
}

/// A lookup that fails fails the job before it runs: `error`, an explanation naming the
/// field, both credentials, the plugin, the request and the vault's answer, and no secret.
/// An unreachable vault is said so; a required field a lookup fills is no missing field.
#[test]
fn a_failing_lookup_fails_the_launch_and_explains_why() {
    let v = vendors();
    let lab = lab_with(&v);
    let kv = type_id(&lab, "HashiCorp Vault Secret Lookup");
    let wrong_token = "hvs.not-a-known-token-Op55";
    let bad = credential(
        &lab,
        "vault-bad-token",
        kv,
        json!({"url": v.vault.url, "token": wrong_token, "api_version": "v1"}),
    );
    let good = credential(
        &lab,
        "vault-good",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    // Nothing listens on this port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = credential(
        &lab,
        "vault-gone",
        kv,
        json!({"url": format!("http://{closed}"), "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let machine_type = type_id(&lab, "Machine");
    let p = lab.project(
        "ping",
        &[(
            "ping.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
        )],
    );
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);

    let run = |name: &str, source: i64, metadata: Value| -> Value {
        let m = credential(&lab, name, machine_type, json!({"username": "ops"}));
        lab.s.admin(
            "POST",
            "/api/v2/credential_input_sources/",
            Some(json!({"target_credential": m, "source_credential": source, "input_field_name": "password", "metadata": metadata})),
            201,
        );
        let jt = lab.jt(name, p, inv, "ping.yml", json!({}));
        lab.attach(jt, m);
        let id = lab.launch(jt);
        lab.wait(id)
    };
    let denied = run(
        "denied",
        bad,
        json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"}),
    );
    assert_eq!(denied["status"], "error", "{denied}");
    let why = denied["job_explanation"].as_str().unwrap();
    for part in [
        "password",
        "denied",
        "vault-bad-token",
        "HashiCorp Vault Secret Lookup",
        &format!("{}/v1/kv1/db", v.vault.url),
        "HTTP 403",
        "permission denied",
    ] {
        assert!(why.contains(part), "the explanation lacks {part:?}: {why}");
    }
    let missing = run(
        "missing",
        good,
        json!({"secret_backend": "kv1", "secret_path": "nope", "secret_key": "password"}),
    );
    assert_eq!(missing["status"], "error");
    assert!(
        missing["job_explanation"]
            .as_str()
            .unwrap()
            .contains("HTTP 404"),
        "{missing}"
    );
    let wrong_key = run(
        "wrong-key",
        good,
        json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "user"}),
    );
    assert!(
        wrong_key["job_explanation"]
            .as_str()
            .unwrap()
            .contains("user is not present at db"),
        "{wrong_key}"
    );
    let unreachable = run(
        "unreachable",
        gone,
        json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"}),
    );
    assert_eq!(unreachable["status"], "error");
    assert!(
        unreachable["job_explanation"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{unreachable}"
    );
    // A lookup that works on a required field (an SSH key credential's `ssh_key_data` is not
    // required; a Vault credential's `vault_password` neither — use a custom type).
    let ok = run(
        "ok",
        good,
        json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"}),
    );
    assert_eq!(ok["status"], "successful", "{ok}");

    let mut secrets = all_secrets();
    secrets.push(("the rejected token".into(), wrong_token.into()));
    for job in [&denied, &missing, &wrong_key, &unreachable, &ok] {
        scan_job(&lab, job["id"].as_i64().unwrap(), &secrets);
    }
    let (_dir, logs) = lab.s.stop_with_logs();
    assert_clean("rawx's log", logs.as_bytes(), &secrets);
}

/// `/api/v2/credential_input_sources/` as AWX's serializer, model and access class have
/// it; the test endpoints; the real `awx` CLI.
#[test]
fn input_sources_api_access_tests_and_the_cli() {
    let v = vendors();
    let lab = lab_with(&v);
    let kv = type_id(&lab, "HashiCorp Vault Secret Lookup");
    let source = credential(
        &lab,
        "vault",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let other_source = credential(
        &lab,
        "vault-2",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN}),
    );
    let machine_type = type_id(&lab, "Machine");
    let target = credential(&lab, "machine", machine_type, json!({"username": "ops"}));
    let meta = json!({"secret_backend": "kv1", "secret_path": "db", "secret_key": "password"});
    let post = |body: Value, want: u16| {
        lab.s.admin(
            "POST",
            "/api/v2/credential_input_sources/",
            Some(body),
            want,
        )
    };

    // AWX's checks, with its messages.
    let e = post(
        json!({"target_credential": source, "source_credential": other_source, "input_field_name": "token", "metadata": meta}),
        400,
    );
    assert_eq!(
        e["target_credential"],
        json!(["Target must be a non-external credential"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": target, "input_field_name": "password", "metadata": {}}),
        400,
    );
    assert_eq!(
        e["source_credential"],
        json!(["Source must be an external credential"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "pasword", "metadata": meta}),
        400,
    );
    assert_eq!(
        e["input_field_name"],
        json!(["Input field must be defined on target credential (options are become_method, become_password, become_username, password, ssh_key_data, ssh_key_unlock, ssh_public_key_data, username)."]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": {"secret_path": "db", "secret_key": "password", "colour": "red"}}),
        400,
    );
    assert_eq!(
        e["metadata"],
        json!(["Additional properties are not allowed ('colour' was unexpected)"]),
        "{e}"
    );
    let e = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": {"secret_path": 7}}),
        400,
    );
    assert_eq!(
        e["metadata"],
        json!({"secret_path": ["7 is not of type 'string'"], "secret_key": ["required for HashiCorp Vault Secret Lookup"]}),
        "{e}"
    );
    let e = post(
        json!({"source_credential": source, "input_field_name": "password"}),
        400,
    );
    assert_eq!(
        e["target_credential"],
        json!(["This field is required."]),
        "{e}"
    );
    let made = post(
        json!({"target_credential": target, "source_credential": source, "input_field_name": "password", "metadata": meta, "description": "from Vault"}),
        201,
    );
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["metadata"], meta);
    assert_eq!(
        made["url"],
        json!(format!("/api/v2/credential_input_sources/{id}/"))
    );
    assert_eq!(
        made["related"]["target_credential"],
        json!(format!("/api/v2/credentials/{target}/"))
    );
    assert_eq!(
        made["summary_fields"]["source_credential"]["name"], "vault",
        "{made}"
    );
    assert_eq!(
        made["summary_fields"]["user_capabilities"],
        json!({"delete": true}),
        "{made}"
    );
    assert!(made.get("name").is_none(), "{made}");
    let dup = post(
        json!({"target_credential": target, "source_credential": other_source, "input_field_name": "password", "metadata": meta}),
        400,
    );
    assert_eq!(
        dup,
        json!({"__all__": ["Credential Input Source with this Target credential and Input field name already exists."]})
    );
    let cred = lab
        .s
        .admin("GET", &format!("/api/v2/credentials/{target}/"), None, 200);
    assert_eq!(
        cred["related"]["input_sources"],
        json!(format!("/api/v2/credentials/{target}/input_sources/"))
    );
    let patched = lab.s.admin("PATCH", &format!("/api/v2/credential_input_sources/{id}/"), Some(json!({"metadata": {"secret_backend": "kv1", "secret_path": "db", "secret_key": "other"}})), 200);
    assert_eq!(patched["metadata"]["secret_key"], "other");
    let opts = lab
        .s
        .admin("OPTIONS", "/api/v2/credential_input_sources/", None, 200);
    for f in [
        "input_field_name",
        "target_credential",
        "source_credential",
        "metadata",
    ] {
        assert!(
            opts["actions"]["POST"][f].is_object(),
            "OPTIONS lacks {f}: {opts}"
        );
    }

    // Access (`CredentialInputSourceAccess`): read with the target; create as its admin who
    // may use the source; delete as the target's admin.
    lab.s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "eve", "password": "eve-pw-123456"})),
        201,
    );
    let eve = ("eve", "eve-pw-123456");
    let role = |cred: i64, name: &str| -> i64 {
        let roles = lab.s.admin(
            "GET",
            &format!("/api/v2/credentials/{cred}/object_roles/"),
            None,
            200,
        );
        roles["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let grant = |cred: i64, name: &str| {
        let users = lab.s.admin("GET", "/api/v2/users/?username=eve", None, 200);
        let uid = users["results"][0]["id"].as_i64().unwrap();
        lab.s.admin(
            "POST",
            &format!("/api/v2/users/{uid}/roles/"),
            Some(json!({"id": role(cred, name)})),
            204,
        );
    };
    let as_eve =
        |method: &str, path: &str, body: Option<&Value>| lab.s.http(method, path, Some(eve), body);
    assert_eq!(
        as_eve(
            "GET",
            &format!("/api/v2/credential_input_sources/{id}/"),
            None
        )
        .status,
        403
    );
    assert_eq!(
        as_eve("GET", "/api/v2/credential_input_sources/", None).json()["count"],
        0
    );
    grant(target, "Read");
    assert_eq!(
        as_eve("GET", "/api/v2/credential_input_sources/", None).json()["count"],
        1
    );
    let caps = as_eve(
        "GET",
        &format!("/api/v2/credential_input_sources/{id}/"),
        None,
    )
    .json();
    assert_eq!(
        caps["summary_fields"]["user_capabilities"],
        json!({"delete": false})
    );
    let second = json!({"target_credential": target, "source_credential": source, "input_field_name": "become_password", "metadata": meta});
    grant(target, "Admin");
    grant(source, "Read");
    assert_eq!(
        as_eve("POST", "/api/v2/credential_input_sources/", Some(&second)).status,
        403,
        "admin of the target without use of the source"
    );
    grant(source, "Use");
    assert_eq!(
        as_eve("POST", "/api/v2/credential_input_sources/", Some(&second)).status,
        201
    );
    assert_eq!(
        as_eve(
            "DELETE",
            &format!("/api/v2/credential_input_sources/{id}/"),
            None
        )
        .status,
        204
    );

    // The tests: 202 when the lookup finds the secret, AWX's 400 otherwise.
    let r = lab.s.http("POST", &format!("/api/v2/credential_types/{kv}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"inputs": {"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}, "metadata": meta})));
    assert_eq!(r.status, 202, "{r:?}");
    assert_clean("a test's answer", r.body.as_bytes(), &all_secrets());
    let r = lab.s.http("POST", &format!("/api/v2/credential_types/{kv}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"inputs": {"url": v.vault.url, "token": "hvs.wrong-Zz00", "api_version": "v1"}, "metadata": meta})));
    assert_eq!((r.status, r.json()), (400, json!({"inputs": "HTTP 403"})));
    let r = lab.s.http(
        "POST",
        &format!("/api/v2/credentials/{source}/test/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"inputs": {"token": "$encrypted$"}, "metadata": meta})),
    );
    assert_eq!(r.status, 202, "the stored token is used: {r:?}");
    let r = lab.s.http("POST", &format!("/api/v2/credentials/{source}/test/"), Some(("admin", ADMIN_PW)), Some(&json!({"metadata": {"secret_backend": "kv1", "secret_path": "gone", "secret_key": "password"}})));
    assert_eq!((r.status, r.json()), (400, json!({"inputs": "HTTP 404"})));
    let r = as_eve(
        "POST",
        &format!("/api/v2/credentials/{other_source}/test/"),
        Some(&json!({"metadata": meta})),
    );
    assert_eq!(r.status, 403, "testing needs the credential's use role");
    let r = as_eve(
        "POST",
        &format!("/api/v2/credentials/{source}/test/"),
        Some(&json!({"metadata": meta})),
    );
    assert_eq!(r.status, 202, "{r:?}");

    // Deleting the lookup credential takes its input sources with it.
    lab.s.admin(
        "DELETE",
        &format!("/api/v2/credentials/{source}/"),
        None,
        204,
    );
    let left = lab.s.admin(
        "GET",
        &format!("/api/v2/credentials/{target}/input_sources/"),
        None,
        200,
    );
    assert_eq!(left["count"], 0, "{left}");

    // The real `awx` CLI.
    let out = lab.s.awx_json(&[
        "credential_input_sources",
        "create",
        "--target_credential",
        &target.to_string(),
        "--source_credential",
        &other_source.to_string(),
        "--input_field_name",
        "password",
        "--metadata",
        &meta.to_string(),
    ]);
    assert_eq!(out["input_field_name"], "password", "{out}");
    assert_eq!(out["metadata"], meta);
    let listed = lab.s.awx_json(&[
        "credential_input_sources",
        "list",
        "--target_credential",
        &target.to_string(),
    ]);
    assert_eq!(listed["count"], 1, "{listed}");
    lab.s
        .awx_ok(&["credential_input_sources", "delete", &out["id"].to_string()]);
    let listed = lab.s.awx_json(&["credential_input_sources", "list"]);
    assert_eq!(listed["count"], 0, "eve's went with its source: {listed}");
}

/// The collection's `credential_input_source` module (awx.awx 24.6.1): create, a second run
/// that changes nothing, an update, `state: absent` twice.
#[test]
fn the_collection_module_manages_input_sources() {
    let v = vendors();
    let lab = lab_with(&v);
    let kv = type_id(&lab, "HashiCorp Vault Secret Lookup");
    credential(
        &lab,
        "Vault",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    credential(
        &lab,
        "Machine",
        type_id(&lab, "Machine"),
        json!({"username": "ops"}),
    );
    let collections = {
        let out = std::process::Command::new("bash")
            .arg(rawx_testkit::workspace_root().join("scripts/setup-collection.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inventory"),
        "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .unwrap();
    let play = |key: &str, state: &str| -> Value {
        let book = format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - awx.awx.credential_input_source:\n        \
             input_field_name: password\n        target_credential: Machine\n        source_credential: Vault\n        \
             metadata: {{secret_backend: kv1, secret_path: db, secret_key: {key}}}\n        description: the machine's password\n        state: {state}\n"
        );
        std::fs::write(dir.path().join("play.yml"), book).unwrap();
        let out = rawx_testkit::clients::ansible_playbook(
            dir.path(),
            &["-i", "inventory", "play.yml"],
            &[
                ("ANSIBLE_COLLECTIONS_PATH", collections.as_str()),
                ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json"),
                ("ANSIBLE_LOCALHOST_WARNING", "false"),
                ("CONTROLLER_HOST", lab.s.url.as_str()),
                ("CONTROLLER_USERNAME", "admin"),
                ("CONTROLLER_PASSWORD", ADMIN_PW),
            ],
        );
        assert_eq!(out.code, 0, "{out}");
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        doc["plays"][0]["tasks"][0]["hosts"]["localhost"].clone()
    };
    let first = play("password", "present");
    assert_eq!(first["changed"], true, "{first}");
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["metadata"]["secret_key"], "password");
    assert_eq!(
        listed["results"][0]["description"],
        "the machine's password"
    );
    assert_eq!(play("password", "present")["changed"], false);
    assert_eq!(play("other", "present")["changed"], true);
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["results"][0]["metadata"]["secret_key"], "other");
    assert_eq!(play("other", "absent")["changed"], true);
    assert_eq!(play("other", "absent")["changed"], false);
    let listed = lab
        .s
        .admin("GET", "/api/v2/credential_input_sources/", None, 200);
    assert_eq!(listed["count"], 0);
}
