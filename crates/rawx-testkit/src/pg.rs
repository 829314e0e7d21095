//! Fresh PostgreSQL databases, dropped afterwards.

use crate::clients::{run, Out};
use std::process::Command;

/// A fresh PostgreSQL database for one test, dropped afterwards. `None` (after printing
/// "SKIPPED: …") only when the server is unreachable and `RAWX_SKIP_PG=1` says that is expected.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

pub const PG_HOST: &str = "127.0.0.1";

fn psql(sql: &str) -> Out {
    run(Command::new("psql")
        .args([
            "-h", PG_HOST, "-p", "5432", "-U", "postgres", "-d", "postgres",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .env("PGCONNECT_TIMEOUT", "5"))
}

impl PgDb {
    pub fn create(tag: &str) -> Option<PgDb> {
        let probe = psql("SELECT 1");
        if probe.code != 0 {
            if std::env::var("RAWX_SKIP_PG").as_deref() == Ok("1") {
                println!(
                    "SKIPPED: PostgreSQL on {PG_HOST}:5432 is unreachable and RAWX_SKIP_PG=1: {}",
                    probe.stderr.trim()
                );
                return None;
            }
            panic!(
                "PostgreSQL on {PG_HOST}:5432 is unreachable (set RAWX_SKIP_PG=1 to skip on purpose):\n{probe}"
            );
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("rawx_test_{tag}_{}_{nanos}", std::process::id());
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert_eq!(out.code, 0, "CREATE DATABASE {name}:\n{out}");
        let url = format!("postgres://postgres@{PG_HOST}:5432/{name}");
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
