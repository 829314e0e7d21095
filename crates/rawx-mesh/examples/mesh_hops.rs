//! The mesh's figures: a 100 MiB work result across 1 and 3 hops (`work submit --node` at the
//! first node of a chain of `rawx-receptor` processes on loopback, `work results` there until
//! the end) beside a Unix pipe carrying the same bytes in the same run, and the idle RSS of a
//! hop node. `bench/mesh.sh hops` runs it (release build).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SIZE: usize = 100 << 20;

struct Chain {
    nodes: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Chain {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n0 ← n1 ← … ← n{hops}`; the last node runs `gen` (100 MiB of output).
fn chain(bin: &Path, hops: usize) -> anyhow::Result<Chain> {
    let dir = std::env::temp_dir().join(format!("rawx-mesh-hops-{}-{hops}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let ports: Vec<u16> = (0..hops).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for i in 0..=hops {
        let d = dir.join(format!("n{i}"));
        std::fs::create_dir_all(&d)?;
        let mut conf = format!(
            "- node:\n    id: n{i}\n    datadir: {}\n- control-service:\n    filename: {}\n",
            d.join("data").display(),
            d.join("ctl.sock").display()
        );
        if i < hops {
            conf += &format!(
                "- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {}\n",
                ports[i]
            );
        }
        if i > 0 {
            conf += &format!("- tcp-peer:\n    address: 127.0.0.1:{}\n", ports[i - 1]);
        }
        if i == hops {
            conf += &format!(
                "- work-command:\n    worktype: gen\n    command: head\n    params: -c {SIZE} /dev/zero\n"
            );
        }
        std::fs::write(d.join("receptor.conf"), conf)?;
        nodes.push(
            Command::new(bin)
                .arg("--config")
                .arg(d.join("receptor.conf"))
                .env("RAWX_LOG", "warn")
                .stdin(Stdio::null())
                .spawn()?,
        );
    }
    let c = Chain { nodes, dir };
    // Ready once n0 routes to the last node.
    let last = format!("n{hops}");
    let started = Instant::now();
    loop {
        if let Ok(v) = request(&c.socket(0), "{\"command\":\"status\"}") {
            if v.contains(&format!("\"{last}\"")) && v.contains("RoutingTable") {
                let v: serde_json::Value = serde_json::from_str(&v)?;
                if v["RoutingTable"].get(&last).is_some() {
                    break;
                }
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no route to {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(c)
}

impl Chain {
    fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("n{i}")).join("ctl.sock")
    }
}

fn session(socket: &Path) -> std::io::Result<(BufReader<UnixStream>, UnixStream)> {
    let s = UnixStream::connect(socket)?;
    let mut r = BufReader::with_capacity(1 << 20, s.try_clone()?);
    let mut greeting = String::new();
    r.read_line(&mut greeting)?;
    Ok((r, s))
}

fn request(socket: &Path, line: &str) -> std::io::Result<String> {
    let (mut r, mut w) = session(socket)?;
    w.write_all(line.as_bytes())?;
    w.write_all(b"\n")?;
    let mut reply = String::new();
    r.read_line(&mut reply)?;
    Ok(reply)
}

/// Submit at n0 for the last node, read the results at n0 to the end, release.
fn remote_result(c: &Chain, hops: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (mut r, mut w) = session(&c.socket(0))?;
    w.write_all(
        format!("{{\"command\":\"work\",\"subcommand\":\"submit\",\"node\":\"n{hops}\",\"worktype\":\"gen\"}}\n").as_bytes(),
    )?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let id = line
        .split_whitespace()
        .nth(5)
        .ok_or_else(|| anyhow::anyhow!("submit: {line}"))?
        .trim_end_matches('.')
        .to_string();
    w.shutdown(std::net::Shutdown::Write)?;
    let (mut r, mut w) = session(&c.socket(0))?;
    w.write_all(format!("work results {id}\n").as_bytes())?;
    let mut header = String::new();
    r.read_line(&mut header)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(got == SIZE, "got {got} bytes of {SIZE}");
    request(&c.socket(0), &format!("work release {id}"))?;
    Ok(elapsed)
}

fn pipe() -> Duration {
    let started = Instant::now();
    let mut child = Command::new("head")
        .args(["-c", &SIZE.to_string(), "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("head");
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    child.wait().unwrap();
    assert_eq!(got, SIZE);
    started.elapsed()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let bin = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("rawx-receptor"))
        .filter(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!("build rawx-receptor first (cargo build --release -p rawx-mesh)")
        })?;
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let hop_list: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hop_list = if hop_list.is_empty() {
        vec![1, 3]
    } else {
        hop_list
    };
    let floor = (0..runs).map(|_| pipe()).min().unwrap_or_default();
    println!(
        "pipe floor: 100 MiB in {:.3} s ({:.0} MiB/s)",
        floor.as_secs_f64(),
        100.0 / floor.as_secs_f64()
    );
    for hops in hop_list {
        let c = chain(&bin, hops)?;
        if hops >= 2 {
            std::thread::sleep(Duration::from_secs(2));
            println!(
                "idle RSS of hop n1: {:.1} MiB (goal <= 15 MiB)",
                rss_kib(c.nodes[1].id()) as f64 / 1024.0
            );
        }
        let best = (0..runs)
            .map(|_| remote_result(&c, hops))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .min()
            .unwrap_or_default();
        println!(
            "{hops} hop(s): 100 MiB result in {:.3} s ({:.0} MiB/s, {:.2}x the pipe; goal >= 0.5x at 1 hop)",
            best.as_secs_f64(),
            100.0 / best.as_secs_f64(),
            floor.as_secs_f64() / best.as_secs_f64()
        );
    }
    Ok(())
}
