//! End-to-end: notification templates. Configurations are checked per type as AWX checks
//! them and their passwords shown `$encrypted$`; templates attached to a job template's
//! started/success/error lists are delivered by the task role when a real job starts and ends
//! — a webhook to a local HTTP server (method, headers, basic auth, JSON body), an email to a
//! local SMTP server — and recorded in `/notifications/`; a failing delivery is recorded
//! `failed` and leaves the job successful; `test/` sends AWX's test message.

use rawx_testkit::eventually;
use rawx_testkit::fake_http::{reply, Fake, Req};
use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A local SMTP server keeping each message's data.
fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 test ESMTP\r\n");
            let mut data: Option<String> = None;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(d) = data.as_mut() {
                    if line == ".\r\n" {
                        keep.lock().unwrap().push(data.take().unwrap());
                        let _ = w.write_all(b"250 queued\r\n");
                    } else {
                        d.push_str(&line);
                    }
                    continue;
                }
                let cmd = line.to_uppercase();
                let reply: &[u8] = if cmd.starts_with("DATA") {
                    data = Some(String::new());
                    b"354 go ahead\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (port, got)
}

const PLAY: &str = "\
- name: Notify play
  hosts: all
  gather_facts: false
  tasks:
    - name: say hello
      debug:
        msg: hello
";

const HOOK_PASSWORD: &str = "h00k-Secret-pass";

#[test]
fn job_events_are_delivered_by_webhook_and_email_and_recorded() {
    let lab = Lab::start();
    let s = &lab.s;
    let org = lab.org["id"].as_i64().unwrap();
    // A local webhook receiver answering 200 to everything, keeping what it received.
    let hooks = Fake::start(|_| reply(200, json!({})));
    let hook_url = hooks.url.clone();
    let (smtp_port, mails) = smtp_server();

    // AWX's configuration checks, as `__all__` messages.
    let bad = s.admin(
        "POST",
        "/api/v2/notification_templates/",
        Some(
            json!({"name": "bad", "organization": org, "notification_type": "webhook",
                    "notification_configuration": {"url": hook_url, "http_method": "GET",
                                                   "headers": []}}),
        ),
        400,
    );
    assert_eq!(
        bad,
        json!({"__all__": ["HTTP method must be either 'POST' or 'PUT'.",
                           "Configuration field 'headers' incorrect type, expected object."]})
    );
    let bad = s.admin(
        "POST",
        "/api/v2/notification_templates/",
        Some(
            json!({"name": "bad", "organization": org, "notification_type": "email",
                    "notification_configuration": {"host": "x"}}),
        ),
        400,
    );
    assert_eq!(
        bad["__all__"][0],
        json!("Missing required fields for Notification Configuration: ['port', 'username', 'password', 'use_tls', 'use_ssl', 'sender', 'recipients'].")
    );

    let hook = s.admin(
        "POST",
        "/api/v2/notification_templates/",
        Some(
            json!({"name": "hook", "organization": org, "notification_type": "webhook",
                    "notification_configuration": {"url": format!("{hook_url}/hook"),
                        "headers": {"X-Rawx-Test": "yes"}, "username": "hookuser",
                        "password": HOOK_PASSWORD}}),
        ),
        201,
    );
    let hook_id = hook["id"].as_i64().unwrap();
    assert_eq!(
        hook["notification_configuration"]["password"],
        json!("$encrypted$")
    );
    assert_eq!(
        hook["notification_configuration"]["http_method"],
        json!("POST")
    );
    assert_eq!(
        hook["related"]["test"],
        json!(format!("/api/v2/notification_templates/{hook_id}/test/"))
    );
    let mail = s.admin(
        "POST",
        "/api/v2/notification_templates/",
        Some(
            json!({"name": "mail", "organization": org, "notification_type": "email",
                    "notification_configuration": {"host": "127.0.0.1", "port": smtp_port,
                        "username": "", "password": "", "use_tls": false, "use_ssl": false,
                        "sender": "rawx@example.com", "recipients": ["ops@example.com"]}}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let broken = s.admin(
        "POST",
        "/api/v2/notification_templates/",
        Some(
            json!({"name": "broken", "organization": org, "notification_type": "webhook",
                    "notification_configuration": {"url": format!("{hook_url}/nowhere"),
                        "headers": {}}}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    // An unreachable URL: a closed port.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/x", closed.local_addr().unwrap());
    drop(closed);
    s.admin(
        "PATCH",
        &format!("/api/v2/notification_templates/{broken}/"),
        Some(json!({"notification_configuration": {"url": closed_url, "headers": {}}})),
        200,
    );

    let p = lab.project("notify", &[("notify.yml", PLAY)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let jt = lab.jt("notified", p, inv, "notify.yml", json!({}));
    for (list, nt) in [
        ("started", hook_id),
        ("success", hook_id),
        ("success", mail),
        ("success", broken),
        ("error", hook_id),
    ] {
        s.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/notification_templates_{list}/"),
            Some(json!({"id": nt})),
            204,
        );
    }
    let listed = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt}/notification_templates_success/"),
        None,
        200,
    );
    assert_eq!(listed["count"], json!(3));

    let id = lab.launch(jt);
    let job = lab.wait(id);
    assert_eq!(job["status"], json!("successful"));

    // Started and success reach the webhook: POST, JSON, the template's header, basic auth.
    let got = eventually(Duration::from_secs(30), || {
        let g = hooks.seen();
        (g.iter().filter(|r| r.path() == "/hook").count() >= 2).then_some(g)
    });
    let calls: Vec<&Req> = got.iter().filter(|r| r.path() == "/hook").collect();
    for r in &calls {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-rawx-test"), Some("yes"));
        use base64::Engine;
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("hookuser:{HOOK_PASSWORD}"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Basic {auth}").as_str())
        );
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["id"], json!(id), "{body}");
        assert_eq!(body["name"], json!("notified"));
    }
    let statuses: Vec<Value> = calls
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("running"), json!("successful")]);

    // The email: AWX's default subject and body.
    let mails = eventually(Duration::from_secs(30), || {
        let m = mails.lock().unwrap().clone();
        (!m.is_empty()).then_some(m)
    });
    assert!(
        mails[0].contains(&format!("Subject: Job #{id} 'notified' successful: ")),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains(&format!("Job #{id} had status successful")),
        "{}",
        mails[0]
    );

    // Every delivery is recorded; the broken one failed, and the job stayed successful.
    let rows = eventually(Duration::from_secs(30), || {
        let all = lab.all("/api/v2/notifications/?order_by=id");
        (all.len() >= 4 && all.iter().all(|n| n["status"] != json!("pending"))).then_some(all)
    });
    let by = |nt: i64| -> Vec<Value> {
        rows.iter()
            .filter(|n| n["notification_template"] == json!(nt))
            .cloned()
            .collect()
    };
    assert_eq!(by(hook_id).len(), 2);
    assert!(by(hook_id)
        .iter()
        .all(|n| n["status"] == json!("successful")));
    assert!(
        by(hook_id)[0].get("subject").is_none(),
        "webhooks have no subject"
    );
    assert_eq!(by(mail)[0]["status"], json!("successful"));
    assert_eq!(by(mail)[0]["recipients"], json!("['ops@example.com']"));
    let failed = &by(broken)[0];
    assert_eq!(failed["status"], json!("failed"), "{failed}");
    assert!(!failed["error"].as_str().unwrap().is_empty());
    assert_eq!(lab.job(id)["status"], json!("successful"));
    let sub = s.admin(
        "GET",
        &format!("/api/v2/notification_templates/{hook_id}/notifications/"),
        None,
        200,
    );
    assert_eq!(sub["count"], json!(2));
    let detail = s.admin(
        "GET",
        &format!("/api/v2/notification_templates/{hook_id}/"),
        None,
        200,
    );
    assert_eq!(
        detail["summary_fields"]["recent_notifications"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // `test/`: 202 with the pending notification, then AWX's test body at the webhook.
    let t = s.admin(
        "POST",
        &format!("/api/v2/notification_templates/{hook_id}/test/"),
        None,
        202,
    );
    let tid = t["notification"].as_i64().unwrap();
    let done = eventually(Duration::from_secs(30), || {
        let n = s.admin("GET", &format!("/api/v2/notifications/{tid}/"), None, 200);
        (n["status"] != json!("pending")).then_some(n)
    });
    assert_eq!(done["status"], json!("successful"), "{done}");
    let test_call = eventually(Duration::from_secs(10), || {
        hooks
            .seen()
            .iter()
            .find(|r| r.body.contains("Test Notification"))
            .cloned()
    });
    let body: Value = serde_json::from_str(&test_call.body).unwrap();
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Test Notification {hook_id} ")),
        "{body}"
    );

    // The webhook password: never in the API, nor the logs.
    let secrets = [("webhook password".to_string(), HOOK_PASSWORD.to_string())];
    let listed = s.admin("GET", "/api/v2/notification_templates/", None, 200);
    assert_clean("the templates", listed.to_string().as_bytes(), &secrets);
    assert_clean(
        "the notifications",
        Value::Array(rows).to_string().as_bytes(),
        &secrets,
    );
    assert_clean("the server's logs", s.logs().as_bytes(), &secrets);
}
