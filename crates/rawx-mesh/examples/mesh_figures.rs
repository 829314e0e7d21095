//! The node's figures: payload throughput against a plain pipe, small units per second, and
//! idle RSS. Run with `cargo run --release -p rawx-mesh --example mesh_figures` (build the
//! `rawx-receptor` binary in the same profile first for the RSS figure).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rawx-mesh-figures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("ctl.sock");
    let config = dir.join("receptor.conf");
    std::fs::write(
        &config,
        format!(
            "- node:\n    id: bench\n    datadir: {}\n- local-only: null\n- control-service:\n    filename: {}\n- work-command:\n    worktype: cat\n    command: cat\n",
            dir.join("data").display(),
            socket.display()
        ),
    )?;
    let bin = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("rawx-receptor"))
        .filter(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!("build rawx-receptor first (cargo build --release -p rawx-mesh)")
        })?;
    let mut node = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .spawn()?;
    while UnixStream::connect(&socket).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let rss = std::fs::read_to_string(format!("/proc/{}/status", node.id()))?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    println!(
        "idle RSS of rawx-receptor: {:.1} MiB (goal <= 15 MiB)",
        rss as f64 / 1024.0
    );

    let payload: Vec<u8> = (0..100 * MIB).map(|i| (i % 251) as u8).collect();
    let pipe = best_of(3, || pipe_cat(&payload));
    let node_time = best_of(3, || submit_and_follow(&socket, &payload));
    println!(
        "100 MiB through cat: pipe {:.0} MiB/s, work submit + results {:.0} MiB/s ({:.2}x, goal >= 0.5x)",
        100.0 / pipe.as_secs_f64(),
        100.0 / node_time.as_secs_f64(),
        pipe.as_secs_f64() / node_time.as_secs_f64()
    );

    let n = 200;
    let started = Instant::now();
    for _ in 0..n {
        submit_and_follow(&socket, b"x");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("small units (submit + results + release, one at a time): {rate:.0} units/s");
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..n / 4 {
                    submit_and_follow(&socket, b"x");
                }
            });
        }
    });
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("small units, 4 clients at once: {rate:.0} units/s");

    node.kill()?;
    node.wait()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn best_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}

fn pipe_cat(payload: &[u8]) -> Duration {
    let started = Instant::now();
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat");
    let mut stdin = child.stdin.take().unwrap();
    let data = payload.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let mut out = Vec::with_capacity(payload.len());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    child.wait().unwrap();
    assert_eq!(out.len(), payload.len());
    started.elapsed()
}

/// What receptorctl does, minus Python: submit, stream the payload, half-close, then follow
/// the results on a second connection, then release.
fn submit_and_follow(socket: &Path, payload: &[u8]) -> Duration {
    let started = Instant::now();
    let (mut r, mut w) = session(socket);
    w.write_all(b"{\"command\":\"work\",\"subcommand\":\"submit\",\"node\":\"localhost\",\"worktype\":\"cat\"}\n")
        .unwrap();
    let id = {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line.split_whitespace()
            .nth(5)
            .unwrap()
            .trim_end_matches('.')
            .to_string()
    };
    w.write_all(payload).unwrap();
    w.shutdown(std::net::Shutdown::Write).unwrap();
    let mut started_line = String::new();
    r.read_line(&mut started_line).unwrap();
    assert!(started_line.contains("Job Started"), "{started_line}");

    let (mut r, mut w) = session(socket);
    w.write_all(format!("work results {id} 0\n").as_bytes())
        .unwrap();
    let mut header = String::new();
    r.read_line(&mut header).unwrap();
    let mut out = Vec::with_capacity(payload.len());
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), payload.len());
    let elapsed = started.elapsed();

    let (mut r, mut w) = session(socket);
    w.write_all(format!("work release {id}\n").as_bytes())
        .unwrap();
    let mut released = String::new();
    r.read_line(&mut released).unwrap();
    elapsed
}

fn session(socket: &Path) -> (BufReader<UnixStream>, UnixStream) {
    let s = UnixStream::connect(socket).unwrap();
    let mut r = BufReader::with_capacity(1 << 20, s.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    (r, s)
}
