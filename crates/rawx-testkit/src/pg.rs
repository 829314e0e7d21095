//! Fresh PostgreSQL databases, dropped afterwards.

use crate::clients::{run, Out};
use std::process::Command;

/// A fresh PostgreSQL database for one test, dropped afterwards (even when the test panics).
/// `None` (after printing "SKIPPED: …") only when the server is unreachable and
/// `RAWX_SKIP_PG=1` says that is expected.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

/// The server the suites use: `$RAWX_TEST_PG` (a `postgres://user@host:port` URL without a
/// database), else the local one on 127.0.0.1:5432 as `postgres`.
pub fn pg_server() -> String {
    match std::env::var("RAWX_TEST_PG") {
        Ok(v) if !v.is_empty() => v.trim_end_matches('/').to_string(),
        _ => "postgres://postgres@127.0.0.1:5432".to_string(),
    }
}

fn psql(sql: &str) -> Out {
    run(Command::new("psql")
        .arg(format!("{}/postgres", pg_server()))
        .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .env("PGCONNECT_TIMEOUT", "5"))
}

impl PgDb {
    pub fn create(tag: &str) -> Option<PgDb> {
        let server = pg_server();
        let probe = psql("SELECT 1");
        if probe.code != 0 {
            if std::env::var("RAWX_SKIP_PG").as_deref() == Ok("1") {
                println!(
                    "SKIPPED: PostgreSQL at {server} is unreachable and RAWX_SKIP_PG=1: {}",
                    probe.stderr.trim()
                );
                return None;
            }
            panic!(
                "PostgreSQL at {server} is unreachable (set RAWX_SKIP_PG=1 to skip on purpose):\n{probe}"
            );
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("rawx_test_{tag}_{}_{nanos}", std::process::id());
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert_eq!(out.code, 0, "CREATE DATABASE {name}:\n{out}");
        let url = format!("{server}/{name}");
        Some(PgDb { name, url })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // FORCE: a server killed by a failing assertion may still hold connections.
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
