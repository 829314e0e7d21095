//! Per-job cost of a separate node: one job's whole node conversation — submit a payload,
//! read the results to the end, status, release — through the in-process `Node` and through
//! `RemoteNode` to a `rawx-receptor` process over its Unix socket and over TLS (client
//! certificate), interleaved. Each unit is `cat` of the payload, so what differs between the
//! three is only the control protocol. `bench/remote-node.sh` runs it (release build).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rawx_mesh::{Config, Node, RemoteNode, RemoteOptions, SubmitRequest, WorkNode, WorkOptions};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use tokio::io::AsyncReadExt;

async fn cycle(node: &dyn WorkNode, payload: &[u8]) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let unit = node.submit(&SubmitRequest::new("cat"), payload).await?;
    let mut out = Vec::with_capacity(payload.len());
    node.results(&unit, 0).await?.read_to_end(&mut out).await?;
    anyhow::ensure!(out.len() == payload.len(), "short results");
    let st = node.status(&unit).await?;
    anyhow::ensure!(st.state == 2, "unit ended {st:?}");
    node.release(&unit).await?;
    Ok(t.elapsed())
}

fn pki(dir: &Path) -> anyhow::Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key)?;
    std::fs::write(dir.join("ca.crt"), ca_cert.pem())?;
    for (name, usage) in [
        ("localhost", ExtendedKeyUsagePurpose::ServerAuth),
        ("client", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(vec![name.to_string()])?;
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse()?));
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca_cert, &ca_key)?;
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem())?;
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem())?;
    }
    Ok(())
}

fn median(xs: &mut [Duration]) -> f64 {
    xs.sort();
    xs[xs.len() / 2].as_secs_f64() * 1000.0
}

fn p90(xs: &mut [Duration]) -> f64 {
    xs.sort();
    xs[(xs.len() * 9 / 10).min(xs.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let kib: usize = std::env::var("BENCH_PAYLOAD_KIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let dir = std::env::temp_dir().join(format!("rawx-remote-overhead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    pki(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let socket = dir.join("ctl.sock");
    let d = dir.display();
    let config = dir.join("receptor.conf");
    std::fs::write(
        &config,
        format!(
            "- node:\n    id: remote\n    datadir: {d}/remote\n- local-only: null\n\
             - tls-server:\n    name: t\n    cert: {d}/localhost.crt\n    key: {d}/localhost.key\n    clientcas: {d}/ca.crt\n    requireclientcert: true\n\
             - control-service:\n    service: control\n    filename: {}\n\
             - control-service:\n    service: control2\n    tcplisten: 127.0.0.1:{port}\n    tcptls: t\n\
             - work-command:\n    worktype: cat\n    command: cat\n",
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
    let mut child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .spawn()?;
    while std::os::unix::net::UnixStream::connect(&socket).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = async {
        let mut local_config = Config::parse(
            &format!(
                "- node:\n    id: local\n    datadir: {d}/local\n- local-only: null\n- work-command:\n    worktype: cat\n    command: cat\n"
            ),
            "bench",
        )?;
        local_config.node.datadir = dir.join("local");
        let local = Node::start(&local_config, WorkOptions::default())?;
        let unix = RemoteNode::connect(RemoteOptions {
            address: Some(socket.display().to_string().parse().map_err(anyhow::Error::msg)?),
            ..Default::default()
        })
        .await?;
        let tls = RemoteNode::connect(RemoteOptions {
            address: Some(format!("tls://localhost:{port}").parse().map_err(anyhow::Error::msg)?),
            root_cas: Some(dir.join("ca.crt")),
            cert: Some(dir.join("client.crt")),
            key: Some(dir.join("client.key")),
            ..Default::default()
        })
        .await?;
        let payload: Vec<u8> = (0..kib * 1024).map(|i| (i % 251) as u8).collect();
        let nodes: [(&str, &dyn WorkNode); 3] =
            [("in-process", &local), ("unix socket", &unix), ("tls", &tls)];
        for (_, n) in &nodes {
            cycle(*n, &payload).await?; // warm-up
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); 3];
        for i in 0..runs {
            for k in 0..3 {
                // Rotate the order so no node always goes first.
                let j = (i + k) % 3;
                times[j].push(cycle(nodes[j].1, &payload).await?);
            }
        }
        println!("{runs} jobs per node, payload {kib} KiB, unit `cat` (submit, results, status, release)");
        let base = median(&mut times[0]);
        for (j, (name, _)) in nodes.iter().enumerate() {
            let m = median(&mut times[j]);
            println!(
                "{name:>12}: median {m:7.2} ms  p90 {:7.2} ms  added vs in-process {:+7.2} ms",
                p90(&mut times[j]),
                m - base
            );
        }
        println!("goal: added < 20 ms per job");
        anyhow::Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
