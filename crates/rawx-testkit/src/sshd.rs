//! An unprivileged `sshd` for the suites that reach a host or a Git server over SSH with a
//! key credential (Machine, Source Control), and `ssh-keygen` keys.

use crate::eventually;
use crate::plays::whoami;
use crate::procs::{free_port, Proc};
use crate::sh;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `ssh-keygen`'s arguments for the key most tests use.
pub const ED25519: &[&str] = &["-t", "ed25519"];

/// A new key pair of `kind` (`ssh-keygen` arguments: [`ED25519`], or e.g. `-t rsa -m PEM`) at
/// `dir/name` (and `.pub`) with `passphrase` (`""`: none); returns the private key.
pub fn keygen(dir: &Path, name: &str, passphrase: &str, kind: &[&str]) -> String {
    sh(Command::new("ssh-keygen")
        .args(["-q", "-C", "rawx-test", "-N", passphrase])
        .args(kind)
        .arg("-f")
        .arg(dir.join(name)));
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// An unprivileged `sshd` on a free loopback port that accepts one key, for the current user,
/// and nothing else (no passwords). Killed on drop.
pub struct Sshd {
    proc: Proc,
    pub port: u16,
    dir: tempfile::TempDir,
    /// The private key (OpenSSH format, passphrase-protected) and its passphrase.
    pub key: String,
    pub passphrase: String,
}

const SSHD: &str = "/usr/sbin/sshd";

impl Sshd {
    pub fn start(passphrase: &str) -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: the Machine credential test needs Debian's `openssh-server` package \
             (apt-get install -y openssh-server); add it to the machine setup"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(d, "host_key", "", ED25519);
        keygen(d, "user_key", passphrase, ED25519);
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        // Running as root, sshd insists on its privilege separation directory, which the
        // package's service unit would create at boot.
        if whoami() == "root" && !Path::new("/run/sshd").is_dir() {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd for sshd");
        }
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPermitRootLogin prohibit-password\nAllowUsers {user}\n\
             Subsystem sftp internal-sftp\n",
            d = d.display(),
            user = whoami(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let proc = Proc::spawn(
            Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        let mut sshd = Sshd {
            proc,
            port,
            key: std::fs::read_to_string(d.join("user_key")).unwrap(),
            passphrase: passphrase.to_string(),
            dir,
        };
        eventually(Duration::from_secs(10), || {
            if let Ok(Some(st)) = sshd.proc.child().try_wait() {
                panic!("sshd exited ({st}):\n{}", sshd.log());
            }
            std::net::TcpStream::connect(("127.0.0.1", port))
                .map_err(|e| format!("sshd is not listening ({e}):\n{}", sshd.log()))
        });
        sshd
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Host variables for a host reached through this sshd.
    pub fn host_vars(&self) -> Value {
        json!({
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": whoami(),
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "ansible_ssh_common_args":
                "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o PreferredAuthentications=publickey",
        })
    }

    /// Long runs of the key's body: none of them may be found anywhere after a job.
    pub fn key_fragments(&self) -> Vec<String> {
        let mut out = Vec::new();
        for line in self.key.lines().filter(|l| !l.starts_with("-----")) {
            for run in line.split(|c: char| !c.is_ascii_alphanumeric()) {
                if run.len() >= 16 {
                    out.push(run.to_string());
                }
            }
        }
        assert!(
            out.len() >= 3,
            "key body too short to check: {:?}",
            self.key
        );
        out
    }
}
