//! End-to-end: AWX's external secret lookups. None of the nine vaults can run here, so each
//! is a small HTTP server that answers as the vendor's documented API does
//! (HashiCorp Vault's AppRole login, KV v1/v2 reads and SSH signing; CyberArk CCP's Accounts
//! API and Conjur's authn/secrets API; Azure Key Vault's 401 challenge and Microsoft Entra
//! ID's token endpoint; Centrify's OAuth2, RedRock and CheckoutPassword; Delinea DSV's and
//! Secret Server's token and secret reads; AWS Secrets Manager's `GetSecretValue` with
//! SigV4). It records what each request carried, so the test asserts the paths, the auth
//! headers and the bodies rawx sent, and that a real `ansible-playbook` job received every
//! secret. A failing lookup fails the job, explains why, and shows no secret; the secret scan
//! runs over the job's output, events, `job_args`/`job_env`, the server's log and the
//! database. The fakes are `rawx_testkit::vaults`; the input sources' API, CLI and collection
//! module are `credential_input_sources.rs`.

use rawx_testkit::lab::*;
use rawx_testkit::plays::assert_clean;
use rawx_testkit::vaults::*;
use rawx_testkit::ADMIN_PW;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The nine lookup credentials, one per plugin (two for Vault's KV: v1 with a token, v2
/// through AppRole), each with the metadata of the secret it reads: `(field, source,
/// metadata)`.
fn lookup_credentials(lab: &Lab, v: &Vendors) -> Vec<(&'static str, i64, Value)> {
    let kv = lab.credential_type("HashiCorp Vault Secret Lookup");
    let kv1 = lab.credential_typed(
        "vault-kv1",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let kv2 = lab.credential_typed("vault-kv2",
        kv,
        json!({"url": format!("{}/", v.vault.url), "role_id": "awx-role", "secret_id": APPROLE_SECRET, "api_version": "v2", "default_auth_path": "approle"}),
    );
    let ssh = lab.credential_typed(
        "vault-ssh",
        lab.credential_type("HashiCorp Vault Signed SSH"),
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "namespace": "team-a"}),
    );
    let aim = lab.credential_typed(
        "ccp",
        lab.credential_type("CyberArk Central Credential Provider Lookup"),
        json!({"url": v.aim.url, "app_id": AIM_APP, "verify": true}),
    );
    let conjur = lab.credential_typed("conjur",
        lab.credential_type("CyberArk Conjur Secrets Manager Lookup"),
        json!({"url": v.conjur.url, "api_key": CONJUR_KEY, "account": "acme", "username": "host/awx"}),
    );
    let azure = lab.credential_typed("keyvault",
        lab.credential_type("Microsoft Azure Key Vault"),
        json!({"url": v.azure_vault.url, "client": "client-9", "secret": AZ_SECRET, "tenant": "tenant-77"}),
    );
    let centrify = lab.credential_typed(
        "centrify",
        lab.credential_type("Centrify Vault Credential Provider Lookup"),
        json!({"url": v.centrify.url, "client_id": "api-user", "client_password": CENTRIFY_PW}),
    );
    let dsv = lab.credential_typed("dsv",
        lab.credential_type("Thycotic DevOps Secrets Vault"),
        json!({"tenant": "ops", "tld": "eu", "client_id": "dsv-client", "client_secret": DSV_SECRET}),
    );
    let tss = lab.credential_typed("tss",
        lab.credential_type("Thycotic Secret Server"),
        json!({"server_url": format!("{}/SecretServer", v.tss.url), "username": "svc-awx", "password": TSS_PW}),
    );
    let aws = lab.credential_typed(
        "secrets-manager",
        lab.credential_type("AWS Secrets Manager lookup"),
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
    let target = lab.credential_typed("filled-by-lookups", report_type, json!({}));
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
    let kv = lab.credential_type("HashiCorp Vault Secret Lookup");
    let wrong_token = "hvs.not-a-known-token-Op55";
    let bad = lab.credential_typed(
        "vault-bad-token",
        kv,
        json!({"url": v.vault.url, "token": wrong_token, "api_version": "v1"}),
    );
    let good = lab.credential_typed(
        "vault-good",
        kv,
        json!({"url": v.vault.url, "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    // Nothing listens on this port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = lab.credential_typed(
        "vault-gone",
        kv,
        json!({"url": format!("http://{closed}"), "token": VAULT_TOKEN, "api_version": "v1"}),
    );
    let machine_type = lab.credential_type("Machine");
    let p = lab.project(
        "ping",
        &[(
            "ping.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
        )],
    );
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);

    let run = |name: &str, source: i64, metadata: Value| -> Value {
        let m = lab.credential_typed(name, machine_type, json!({"username": "ops"}));
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
