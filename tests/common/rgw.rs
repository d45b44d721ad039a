//! A real Ceph RADOS Gateway on loopback (one monitor, one memstore OSD)
//! for the versioned-bucket tests, started and stopped (by PID) through
//! tests/rgw/rgw.sh. RGW implements S3 versioning and Object Lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running gateway; stopped on drop.
pub struct Rgw {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rgw/rgw.sh")
}

impl Rgw {
    /// Starts the gateway with an S3 user. Fails (never skips) when Ceph
    /// is not installed.
    pub fn start() -> Self {
        let have = Command::new("sh")
            .args(["-c", "command -v radosgw && command -v ceph-osd"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            have,
            "the versioned-bucket tests need a real Ceph RADOS Gateway and radosgw is not installed: run tests/rgw/rgw.sh install (tests/run-all.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        let mut r = Rgw {
            env: HashMap::new(),
            dir,
        };
        assert!(
            out.status.success(),
            "rgw.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        r.env = super::read_env(&r.dir.path().join("env"));
        r
    }

    /// Makes bucket `name`: `versioned`, or `locked` (versioning and
    /// Object Lock).
    pub fn bucket(&self, name: &str, mode: &str) {
        let out = Command::new(script())
            .arg("bucket")
            .arg(self.dir.path())
            .args([name, mode])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rgw.sh bucket {name} {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every version id of `key` in `bucket` and every delete marker, as
    /// the gateway lists them (not through nkbackup): `(versions, markers)`.
    pub fn versions(&self, bucket: &str, key: &str) -> (Vec<String>, Vec<String>) {
        // Query parameters sorted and encoded as SigV4 signs them (curl
        // 7.88 signs them as written).
        let prefix = key.replace('/', "%2F");
        let out = self.s3("GET", &format!("/{bucket}?prefix={prefix}&versions="), &[]);
        let text = String::from_utf8(out).unwrap();
        let ids = |tag: &str| -> Vec<String> {
            text.split(&format!("<{tag}>"))
                .skip(1)
                .filter_map(|s| s.split(&format!("</{tag}>")).next())
                .filter(|s| s.contains(&format!("<Key>{key}</Key>")))
                .filter_map(|s| {
                    s.split("<VersionId>")
                        .nth(1)
                        .and_then(|v| v.split("</VersionId>").next())
                })
                .map(str::to_owned)
                .collect()
        };
        (ids("Version"), ids("DeleteMarker"))
    }

    /// A SigV4-signed S3 request with curl; returns the body. Panics on an
    /// HTTP error.
    pub fn s3(&self, method: &str, path: &str, extra: &[&str]) -> Vec<u8> {
        let (status, body) = self.try_s3(method, path, extra);
        assert!(
            (200..300).contains(&status),
            "curl {method} {path}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// A SigV4-signed S3 request with curl: the HTTP status and the body.
    pub fn try_s3(&self, method: &str, path: &str, extra: &[&str]) -> (u16, Vec<u8>) {
        let body = self.dir.path().join("curl.out");
        let out = Command::new("curl")
            .args(["-sS", "-o"])
            .arg(&body)
            .args(["-w", "%{http_code}", "-X", method, "--aws-sigv4"])
            .arg(format!("aws:amz:{}:s3", self.env["AWS_REGION"]))
            .arg("--user")
            .arg(format!(
                "{}:{}",
                self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"]
            ))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args(extra)
            .arg(format!("{}{path}", self.env["AWS_ENDPOINT_URL"]))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        (status, std::fs::read(&body).unwrap_or_default())
    }

    /// S3 settings for the library.
    pub fn settings(&self) -> nkbackup::storage::S3Settings {
        nkbackup::storage::S3Settings {
            endpoint: Some(self.env["AWS_ENDPOINT_URL"].clone()),
            region: Some(self.env["AWS_REGION"].clone()),
            access_key_id: Some(self.env["AWS_ACCESS_KEY_ID"].clone()),
            secret_access_key: Some(self.env["AWS_SECRET_ACCESS_KEY"].clone().into()),
            ..Default::default()
        }
    }
}

impl Drop for Rgw {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(log) = std::fs::read_to_string(self.dir.path().join("log/client.rgw.a.log"))
        {
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!(
                "--- radosgw log (last lines, newest first) ---\n{}",
                tail.join("\n")
            );
        }
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
