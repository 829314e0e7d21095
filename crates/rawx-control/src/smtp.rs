//! The email notification type's delivery: one message over SMTP (RFC 5321), in plain text,
//! with `AUTH PLAIN` when the template has a username. TLS (`use_tls`, `use_ssl`) is refused
//! with a clear error rather than sent in the clear.

use base64::Engine;
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn s(config: &Map<String, Value>, k: &str) -> String {
    config
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Sends `subject`/`body` to the configuration's recipients: how many messages went out.
pub async fn send(config: &Map<String, Value>, subject: &str, body: &str) -> Result<i64, String> {
    if config.get("use_tls") == Some(&json!(true)) || config.get("use_ssl") == Some(&json!(true)) {
        return Err(
            "rawx sends email notifications without TLS only (use_tls and use_ssl must be false)"
                .into(),
        );
    }
    let timeout = config.get("timeout").and_then(Value::as_u64).unwrap_or(30);
    tokio::time::timeout(
        Duration::from_secs(timeout.max(1)),
        deliver(config, subject, body),
    )
    .await
    .map_err(|_| "timed out".to_string())?
}

type Reader = BufReader<tokio::net::tcp::OwnedReadHalf>;

/// Reads one reply (all its lines) and checks it starts with `code`.
async fn expect(r: &mut Reader, code: &str) -> Result<(), String> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("the SMTP server closed the connection".to_string());
        }
        if !line.starts_with(code) {
            return Err(format!("SMTP: {}", line.trim_end()));
        }
        // `250-…` continues a multi-line reply; `250 …` ends it.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

async fn deliver(config: &Map<String, Value>, subject: &str, body: &str) -> Result<i64, String> {
    let host = s(config, "host");
    let port = config.get("port").and_then(Value::as_u64).unwrap_or(25);
    let sender = s(config, "sender");
    let recipients: Vec<String> = config
        .get("recipients")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let stream = TcpStream::connect((host.as_str(), port as u16))
        .await
        .map_err(|e| e.to_string())?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    async fn say(w: &mut tokio::net::tcp::OwnedWriteHalf, line: &str) -> Result<(), String> {
        w.write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    }
    expect(&mut r, "220").await?;
    say(&mut w, "EHLO rawx").await?;
    expect(&mut r, "250").await?;
    let user = s(config, "username");
    if !user.is_empty() {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{user}\0{}", s(config, "password")));
        say(&mut w, &format!("AUTH PLAIN {token}")).await?;
        expect(&mut r, "235").await?;
    }
    say(&mut w, &format!("MAIL FROM:<{sender}>")).await?;
    expect(&mut r, "250").await?;
    for rcpt in &recipients {
        say(&mut w, &format!("RCPT TO:<{rcpt}>")).await?;
        expect(&mut r, "25").await?;
    }
    say(&mut w, "DATA").await?;
    expect(&mut r, "354").await?;
    let mut msg = format!(
        "From: {sender}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        recipients.join(", "),
        subject.replace(['\r', '\n'], " ")
    );
    for line in body.lines() {
        // Dot-stuffing (RFC 5321 4.5.2).
        if line.starts_with('.') {
            msg.push('.');
        }
        msg.push_str(line);
        msg.push_str("\r\n");
    }
    msg.push_str(".\r\n");
    w.write_all(msg.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    expect(&mut r, "250").await?;
    say(&mut w, "QUIT").await?;
    Ok(1)
}
