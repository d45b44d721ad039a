//! A real Garage object store on loopback for the storage tests, started
//! and stopped (by PID) through tests/garage/garage.sh.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running Garage cluster; stopped on drop.
pub struct Garage {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/garage/garage.sh")
}

impl Garage {
    /// Starts `nodes` (1 or 3) nodes with a key and the bucket `nkb`.
    /// Fails (never skips) when Garage is not installed.
    pub fn start(nodes: u8) -> Self {
        let have = Command::new("bash")
            .args([
                "-c",
                "PATH=\"${CARGO_HOME:-$HOME/.cargo}/bin:$PATH\" command -v garage",
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            have,
            "the storage tests need a real Garage server and `garage` is not installed: run tests/garage/garage.sh install (tests/run-all.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .arg(nodes.to_string())
            .output()
            .unwrap();
        let mut g = Garage {
            env: HashMap::new(),
            dir,
        };
        assert!(
            out.status.success(),
            "garage.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        g.env = super::read_env(&g.dir.path().join("env"));
        g
    }

    /// The `AWS_*` value `name`.
    pub fn var(&self, name: &str) -> &str {
        &self.env[name]
    }

    /// S3 settings for the library.
    pub fn settings(&self) -> nkbackup::storage::S3Settings {
        nkbackup::storage::S3Settings {
            endpoint: Some(self.var("AWS_ENDPOINT_URL").to_owned()),
            region: Some("garage".into()),
            access_key_id: Some(self.var("AWS_ACCESS_KEY_ID").to_owned()),
            secret_access_key: Some(self.var("AWS_SECRET_ACCESS_KEY").to_owned().into()),
            ..Default::default()
        }
    }

    /// The CLI with this cluster's endpoint and credentials in its
    /// environment (and no other AWS_* variables).
    pub fn nkbackup(&self) -> Command {
        let mut c = super::nkbackup();
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
            c.env_remove(k);
        }
        for (k, v) in self.env.iter().filter(|(k, _)| k.starts_with("AWS_")) {
            c.env(k, v);
        }
        // The sidecar cache lives and dies with the cluster.
        c.env("NKBACKUP_CACHE_DIR", self.cache_dir());
        c
    }

    /// Where the CLI run by [`Garage::nkbackup`] caches sidecars.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("sidecar-cache")
    }

    /// Runs `garage` against node 1 (the CLI speaks RPC to the cluster).
    pub fn garage(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg("-c")
            .arg("PATH=\"${CARGO_HOME:-$HOME/.cargo}/bin:$PATH\" exec garage \"$@\"")
            .arg("garage")
            .arg("-c")
            .arg(self.dir.path().join("node1/garage.toml"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Stops node `n` (1-based) by its PID.
    pub fn stop_node(&self, n: u8) {
        self.node("stop-node", n);
    }

    /// Starts node `n` again.
    pub fn start_node(&self, n: u8) {
        self.node("start-node", n);
    }

    fn node(&self, action: &str, n: u8) {
        let ok = Command::new(script())
            .arg(action)
            .arg(self.dir.path())
            .arg(n.to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "garage.sh {action} {n}");
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in 1..=3 {
                if let Ok(log) =
                    std::fs::read_to_string(self.dir.path().join(format!("node{n}/log")))
                {
                    let tail: Vec<&str> = log.lines().rev().take(15).collect();
                    eprintln!(
                        "--- garage node {n} log (last lines, newest first) ---\n{}",
                        tail.join("\n")
                    );
                }
            }
        }
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
