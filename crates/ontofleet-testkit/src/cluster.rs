//! Throwaway PostgreSQL clusters of the machine's server binaries (`/usr/lib/postgresql/*/bin`):
//! a private primary a test may crash, and a physical streaming standby made from it with
//! `pg_basebackup -R`. Each lives in its own temporary directory and listens on its own Unix
//! socket there (no TCP); it is stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};

use uuid::Uuid;

/// Whether the server binaries are installed (`initdb`, `pg_ctl`, `pg_basebackup`).
pub fn available() -> bool {
    ["initdb", "pg_ctl", "pg_basebackup"]
        .iter()
        .all(|b| find_bin(b).is_some())
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

fn pg_bin(name: &str) -> PathBuf {
    find_bin(name).unwrap_or_else(|| {
        panic!("{name} not found under /usr/lib/postgresql/*/bin: this test needs the PostgreSQL server binaries")
    })
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` as the `postgres` user when running as root (initdb and postgres refuse root).
fn as_postgres(program: &Path) -> std::process::Command {
    if is_root() {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        std::process::Command::new(program)
    }
}

fn check(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port number of its own per cluster of this test process (the socket lives in the
/// cluster's own directory; distinct numbers keep the servers' IPC keys apart).
fn next_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    45000 + (std::process::id() % 1000) as u16 * 10 + NEXT.fetch_add(1, Ordering::Relaxed) % 10
}

/// One private cluster.
pub struct Cluster {
    /// Its directory (data under `data/`, the log `log`, the socket).
    pub dir: PathBuf,
    /// Its port number (the socket's name).
    pub port: u16,
    /// `-c name=value` settings it is started with.
    options: Vec<String>,
}

impl Cluster {
    /// A fresh primary (`initdb`, trust authentication) started with the extra server
    /// `settings` (`name=value`).
    pub fn primary(settings: &[&str]) -> Self {
        let cluster = Self::empty(settings);
        check(
            as_postgres(&pg_bin("initdb"))
                .arg("-D")
                .arg(cluster.data())
                .args(["-A", "trust", "-U", "postgres", "--no-sync"])
                .stdout(Stdio::null())
                .output()
                .expect("initdb"),
            "initdb",
        );
        cluster.ctl(&["start", "-w"]);
        cluster
    }

    /// A physical streaming standby of this cluster (`pg_basebackup -R`), started and replaying;
    /// `name` is its `cluster_name`, so the primary's `pg_stat_replication` calls it so.
    pub fn standby(&self, name: &str, settings: &[&str]) -> Self {
        let mut all = vec![format!("cluster_name={name}")];
        all.extend(settings.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let standby = Self::empty(&refs);
        check(
            as_postgres(&pg_bin("pg_basebackup"))
                .arg("-D")
                .arg(standby.data())
                .arg("-h")
                .arg(&self.dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                ])
                .output()
                .expect("pg_basebackup"),
            "pg_basebackup",
        );
        standby.ctl(&["start", "-w"]);
        standby
    }

    fn empty(settings: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ofpg-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        if is_root() {
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(ok.success(), "chown {}", dir.display());
        }
        Self {
            dir,
            port: next_port(),
            options: settings.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `pg_ctl ARGS` on this cluster, with its settings.
    pub fn ctl(&self, args: &[&str]) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses='' -c fsync=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        for o in &self.options {
            opts.push_str(&format!(" -c {o}"));
        }
        check(
            as_postgres(&pg_bin("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-o", &opts])
                .args(args)
                .output()
                .expect("pg_ctl"),
            &format!("pg_ctl {args:?}"),
        );
    }

    /// The URL of database `db` on it.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{db}?host={}",
            self.port,
            self.dir.display()
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
