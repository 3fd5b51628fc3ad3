//! A PostgreSQL server of the test's own: a fresh cluster (`initdb`) in a scratch folder, on a
//! free port, that the test may stop and start again. The shared server `scripts/postgres.sh`
//! starts serves every other test and must never go away under them.
//!
//! PostgreSQL refuses to run as root, so as root (CI) its commands run as the `postgres` user
//! the Debian package creates.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ports;

/// A running PostgreSQL cluster of one test; stopped when dropped.
pub struct OwnPostgres {
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// The folder holding the cluster, removed when dropped.
    _dir: tempfile::TempDir,
}

impl OwnPostgres {
    /// Creates a cluster and starts it on a free port; user `c2c`, no password (trust).
    pub fn start() -> OwnPostgres {
        let bin = server_bin();
        let as_postgres = output("id", &["-u"]).trim() == "0";
        let dir = tempfile::Builder::new()
            .prefix("c2c-own-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        if as_postgres {
            // The folder of the cluster must be the server user's, and reachable by it.
            let uid: u32 = output("id", &["-u", "postgres"])
                .trim()
                .parse()
                .expect("uid");
            let gid: u32 = output("id", &["-g", "postgres"])
                .trim()
                .parse()
                .expect("gid");
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).expect("chown");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let pg = OwnPostgres {
            data,
            bin,
            port: ports::free_tcp(),
            as_postgres,
            _dir: dir,
        };
        let data = pg.data.display().to_string();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "c2c",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start_again();
        pg
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://c2c@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (fast shutdown: open connections are cut, as in an outage).
    pub fn stop(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    /// Starts the server (again), waiting until it takes connections.
    pub fn start_again(&self) {
        let data = self.data.display().to_string();
        let options = format!(
            "-p {} -h 127.0.0.1 -k {data} -c fsync=off -c full_page_writes=off",
            self.port
        );
        let log = self.data.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start",
            ],
        );
    }

    /// Runs a server program, as the server user when we are root; panics if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).output().unwrap_or_else(|e| {
            panic!("cannot run {}: {e}", path.display());
        });
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let path = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // Already stopped is fine; nothing is left running either way.
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The newest installed server's programs (`/usr/lib/postgresql/<version>/bin`).
fn server_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!(
                "no PostgreSQL server in {} ({e}): run `make test`",
                root.display()
            )
        })
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| panic!("no initdb under {}", root.display()))
}

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
