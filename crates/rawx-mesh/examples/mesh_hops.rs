//! The mesh's figures: a 100 MiB work result across 1 and 3 hops (`work submit --node` at the
//! first node of a chain of `rawx-receptor` processes on loopback, `work results` there until
//! the end) beside a Unix pipe carrying the same bytes in the same run, with the CPU time each
//! node spent on it; the idle RSS of a hop node; the reroute time when a link closes and
//! another path exists; one node with 100 idle peers (its memory and CPU). `bench/mesh.sh
//! hops [1 3 reroute peers]` runs it (release build); no argument runs them all.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SIZE: usize = 100 << 20;

/// Node processes in a scratch dir; killed and removed when dropped.
struct Nodes {
    bin: PathBuf,
    nodes: Vec<(String, Option<Child>)>,
    dir: PathBuf,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, c) in &mut self.nodes {
            if let Some(c) = c {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // KEEP=1 keeps the nodes' dirs and logs.
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listener(port: u16) -> String {
    format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n")
}

fn peer(port: u16) -> String {
    format!("- tcp-peer:\n    address: 127.0.0.1:{port}\n")
}

impl Nodes {
    fn new(bin: &Path, name: &str) -> anyhow::Result<Nodes> {
        let dir = std::env::temp_dir().join(format!("rawx-mesh-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Nodes {
            bin: bin.to_path_buf(),
            nodes: Vec::new(),
            dir,
        })
    }

    /// Writes node `id`'s config (a control socket, then `extra`) and starts it.
    fn add(&mut self, id: &str, extra: &str) -> anyhow::Result<usize> {
        let d = self.dir.join(id);
        std::fs::create_dir_all(&d)?;
        let conf = format!(
            "- node:\n    id: {id}\n    datadir: {}\n- control-service:\n    filename: {}\n{extra}",
            d.join("data").display(),
            d.join("ctl.sock").display()
        );
        std::fs::write(d.join("receptor.conf"), conf)?;
        self.nodes.push((id.to_string(), None));
        let i = self.nodes.len() - 1;
        self.start(i)?;
        Ok(i)
    }

    fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let d = self.dir.join(&self.nodes[i].0);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("node.log"))?;
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(d.join("receptor.conf"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.nodes[i].1 = Some(child);
        Ok(())
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].1.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pid(&self, i: usize) -> u32 {
        self.nodes[i].1.as_ref().map_or(0, Child::id)
    }

    fn index(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|(n, _)| n == id)
            .expect("a node")
    }

    fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(&self.nodes[i].0).join("ctl.sock")
    }

    fn status(&self, i: usize) -> Option<serde_json::Value> {
        let v = request(&self.socket(i), "{\"command\":\"status\"}").ok()?;
        serde_json::from_str(&v).ok()
    }

    /// Waits until `check` holds of node `i`'s status.
    fn wait_status(
        &self,
        i: usize,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.status(i).is_some_and(|v| check(&v)) {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(90),
                "{what}: not within 90 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `n0 ← n1 ← … ← n{hops}`; the last node runs `gen` (100 MiB of output).
fn chain(bin: &Path, hops: usize) -> anyhow::Result<Nodes> {
    let mut c = Nodes::new(bin, &format!("hops-{hops}"))?;
    let ports: Vec<u16> = (0..hops).map(|_| free_port()).collect();
    for i in 0..=hops {
        let mut conf = String::new();
        if i < hops {
            conf += &listener(ports[i]);
        }
        if i > 0 {
            conf += &peer(ports[i - 1]);
        }
        if i == hops {
            conf += &format!(
                "- work-command:\n    worktype: gen\n    command: head\n    params: -c {SIZE} /dev/zero\n"
            );
            // One byte: what a result costs besides its bytes (submit, streams, status).
            conf += "- work-command:\n    worktype: one\n    command: head\n    params: -c 1 /dev/zero\n";
        }
        c.add(&format!("n{i}"), &conf)?;
    }
    // Ready once n0 routes to the last node.
    let last = format!("n{hops}");
    c.wait_status(0, &format!("a route to {last}"), |v| {
        v["RoutingTable"].get(&last).is_some()
    })?;
    Ok(c)
}

fn session(socket: &Path) -> std::io::Result<(BufReader<UnixStream>, UnixStream)> {
    let s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
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

/// Submit `worktype` at n0 for the last node, read the results at n0 to the end (`size`
/// bytes), release.
fn remote_result(c: &Nodes, hops: usize, worktype: &str, size: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (mut r, mut w) = session(&c.socket(0))?;
    w.write_all(
        format!("{{\"command\":\"work\",\"subcommand\":\"submit\",\"node\":\"n{hops}\",\"worktype\":\"{worktype}\"}}\n").as_bytes(),
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
    anyhow::ensure!(got == size, "got {got} bytes of {size}");
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

/// CPU time (user + system) a process has used.
fn cpu(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces): utime is the 12th.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn throughput(bin: &Path, hops: usize, runs: usize, floor: Duration) -> anyhow::Result<()> {
    let c = chain(bin, hops)?;
    if hops >= 2 {
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "idle RSS of hop n1: {:.1} MiB (goal <= 15 MiB)",
            rss_kib(c.pid(1)) as f64 / 1024.0
        );
    }
    let mut best = Duration::MAX;
    let mut best_cpu = Vec::new();
    for _ in 0..runs {
        let before: Vec<Duration> = (0..=hops).map(|i| cpu(c.pid(i))).collect();
        let t = remote_result(&c, hops, "gen", SIZE)?;
        if t < best {
            best = t;
            best_cpu = (0..=hops)
                .map(|i| cpu(c.pid(i)).saturating_sub(before[i]))
                .collect();
        }
    }
    println!(
        "{hops} hop(s): 100 MiB result in {:.3} s ({:.0} MiB/s, {:.2}x the pipe; goal >= 0.5x at 1 hop)",
        best.as_secs_f64(),
        100.0 / best.as_secs_f64(),
        floor.as_secs_f64() / best.as_secs_f64()
    );
    let one = (0..runs)
        .map(|_| remote_result(&c, hops, "one", 1))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .min()
        .unwrap_or_default();
    println!(
        "  a 1-byte result takes {:.0} ms (the fixed part of each result)",
        one.as_secs_f64() * 1e3
    );
    let cpus: Vec<String> = best_cpu
        .iter()
        .enumerate()
        .map(|(i, d)| format!("n{i} {:.2} s", d.as_secs_f64()))
        .collect();
    println!("  CPU time of that run: {}", cpus.join(", "));
    Ok(())
}

/// A diamond `a ← b, c ← d`: a reaches d through b or c. The hop a's route goes through is
/// killed (its links close); measured: until both a and d route around it, and until a ping
/// from a reaches d and comes back the other way. A ping in flight while the links close can
/// be lost (a datagram, as with Receptor), so one is started every 50 ms until one answers.
/// The killed hop comes back before the next trial.
fn reroute(bin: &Path, trials: usize) -> anyhow::Result<()> {
    let mut m = Nodes::new(bin, "reroute")?;
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let a = m.add("a", &listener(pa))?;
    m.add("b", &format!("{}{}", peer(pa), listener(pb)))?;
    m.add("c", &format!("{}{}", peer(pa), listener(pc)))?;
    let d = m.add("d", &format!("{}{}", peer(pb), peer(pc)))?;
    // Both hops linked at both ends, as each end sees its own links (what a learns of d's
    // links lags a routing update behind, so a trial could start before the last one's hop
    // was back, and measure d's redial instead).
    let linked_to_both = |v: &serde_json::Value| {
        let links: Vec<&str> = v["Connections"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["NodeID"].as_str()).collect())
            .unwrap_or_default();
        links.contains(&"b") && links.contains(&"c")
    };
    let route = |m: &Nodes, i: usize, to: &str| {
        m.status(i)
            .and_then(|v| v["RoutingTable"][to].as_str().map(String::from))
    };
    let mut worst = Duration::ZERO;
    let mut figures = Vec::new();
    for _ in 0..trials {
        m.wait_status(d, "d linked to b and c", linked_to_both)?;
        m.wait_status(a, "a linked to b and c, a route to d", |v| {
            linked_to_both(v)
                && v["RoutingTable"].get("d").is_some()
                && v["KnownConnectionCosts"]["d"]
                    .as_object()
                    .is_some_and(|c| c.len() == 2)
        })?;
        m.wait_status(d, "a route from d to a", |v| {
            v["RoutingTable"].get("a").is_some()
        })?;
        let via = route(&m, a, "d").unwrap_or_default();
        let hop = m.index(&via);
        let killed = Instant::now();
        m.kill(hop);
        let routed = loop {
            if killed.elapsed() > Duration::from_secs(30) {
                break None;
            }
            let there = route(&m, a, "d").is_some_and(|n| n != via);
            let back = route(&m, d, "a").is_some_and(|n| n != via);
            if there && back {
                break Some(killed.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let Some(routed) = routed else {
            // Reported, not fatal: the other figures still run (KEEP=1 keeps the logs).
            figures.push(format!(
                "NOT routed around {via} within 30 s (a: {:?}, d: {:?})",
                route(&m, a, "d"),
                route(&m, d, "a")
            ));
            worst = Duration::MAX;
            m.start(hop)?;
            continue;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let pinged = loop {
            let (socket, tx) = (m.socket(a), tx.clone());
            std::thread::spawn(move || {
                let ok = request(&socket, "{\"command\":\"ping\",\"target\":\"d\"}")
                    .is_ok_and(|r| r.contains("\"Success\":true"));
                if ok {
                    let _ = tx.send(killed.elapsed());
                }
            });
            if let Ok(t) = rx.recv_timeout(Duration::from_millis(50)) {
                break t;
            }
            anyhow::ensure!(
                killed.elapsed() < Duration::from_secs(30),
                "no ping from a reached d within 30 s"
            );
        };
        worst = worst.max(pinged);
        figures.push(format!(
            "routed {:.0} ms, ping {:.0} ms",
            routed.as_secs_f64() * 1e3,
            pinged.as_secs_f64() * 1e3
        ));
        m.start(hop)?;
    }
    let worst = if worst == Duration::MAX {
        "a trial failed".to_string()
    } else {
        format!("{:.3} s", worst.as_secs_f64())
    };
    println!(
        "reroute after a hop's links close: {} (worst {worst}; goal < 2 s)",
        figures.join("; "),
    );
    Ok(())
}

/// One node (`hub`, a `rawx-receptor` process) with `n` idle peers, which run in this process
/// (each a whole mesh node of the library). Its RSS and CPU alone, then with the peers linked
/// and quiet: routing updates every 10 s from each, flooded on to the others.
fn idle_peers(bin: &Path, n: usize, window: Duration) -> anyhow::Result<()> {
    let mut m = Nodes::new(bin, "peers")?;
    let port = free_port();
    let hub = m.add("hub", &listener(port))?;
    m.wait_status(hub, "the hub", |_| true)?;
    std::thread::sleep(Duration::from_secs(2));
    let alone_rss = rss_kib(m.pid(hub));
    let before = cpu(m.pid(hub));
    std::thread::sleep(window);
    let alone_cpu = cpu(m.pid(hub)).saturating_sub(before);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let peers = rt.block_on(async {
        let mut peers = Vec::new();
        for i in 0..n {
            let conf = format!("- node:\n    id: peer{i}\n{}", peer(port));
            let config = rawx_mesh::Config::parse(&conf, &format!("peer{i}"))?;
            let opts = rawx_mesh::mesh::options(&config, Vec::new())?;
            peers.push(rawx_mesh::mesh::start(&config, opts).await?);
        }
        anyhow::Ok(peers)
    })?;
    m.wait_status(hub, &format!("{n} peers linked"), |v| {
        v["Connections"].as_array().map_or(0, Vec::len) == n
    })?;
    let linked = started.elapsed();
    // Let the joining floods settle, then measure a quiet stretch.
    std::thread::sleep(Duration::from_secs(12));
    let before = cpu(m.pid(hub));
    std::thread::sleep(window);
    let busy_cpu = cpu(m.pid(hub)).saturating_sub(before);
    let rss = rss_kib(m.pid(hub));
    let links = m
        .status(hub)
        .map_or(0, |v| v["Connections"].as_array().map_or(0, Vec::len));
    println!(
        "{n} idle peers on one node: all linked in {:.1} s; its RSS {:.1} MiB ({:.1} MiB alone), \
         CPU {:.2}% of a core over {} s ({:.2}% alone), {links} links at the end",
        linked.as_secs_f64(),
        rss as f64 / 1024.0,
        alone_rss as f64 / 1024.0,
        busy_cpu.as_secs_f64() * 100.0 / window.as_secs_f64(),
        window.as_secs(),
        alone_cpu.as_secs_f64() * 100.0 / window.as_secs_f64(),
    );
    for p in &peers {
        p.shutdown();
    }
    drop(rt);
    Ok(())
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = |w: &str| args.is_empty() || args.iter().any(|a| a == w);
    let hop_list: Vec<usize> = if args.is_empty() {
        vec![1, 3]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    if !hop_list.is_empty() {
        let floor = (0..runs).map(|_| pipe()).min().unwrap_or_default();
        println!(
            "pipe floor: 100 MiB in {:.3} s ({:.0} MiB/s)",
            floor.as_secs_f64(),
            100.0 / floor.as_secs_f64()
        );
        for hops in hop_list {
            throughput(&bin, hops, runs, floor)?;
        }
    }
    if want("reroute") {
        reroute(&bin, runs)?;
    }
    if want("peers") {
        idle_peers(&bin, 100, Duration::from_secs(60))?;
    }
    Ok(())
}
