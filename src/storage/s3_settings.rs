//! Endpoint, region and credentials of an S3-compatible store.
//!
//! Sources, first found wins for each field: the repository URL
//! (`?endpoint=`, `?region=`), an S3 settings file (`--s3-config`,
//! `NKBACKUP_S3_CONFIG`), then the standard environment variables
//! `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`. The secret key never appears in `Debug`, messages
//! or logs.

use crate::error::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// How to reach and authenticate to an S3-compatible store.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// The endpoint URL (`http://127.0.0.1:3900`); `None` = AWS S3.
    pub endpoint: Option<String>,
    /// The region (`garage`, `us-east-1`); default `us-east-1`.
    pub region: Option<String>,
    /// The access key id (not secret, but not printed either).
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<SecretString>,
    /// A session token for temporary credentials.
    pub session_token: Option<SecretString>,
    /// Use virtual-host-style URLs (`bucket.endpoint`) instead of
    /// path-style (`endpoint/bucket`, the default, which Garage and MinIO
    /// serve without DNS set-up).
    pub virtual_host_style: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "…"))
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .field("virtual_host_style", &self.virtual_host_style)
            .finish()
    }
}

/// The settings file: TOML with these keys, all optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    endpoint: Option<String>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    secret_access_key_file: Option<String>,
    session_token: Option<String>,
    virtual_host_style: Option<bool>,
}

impl S3Settings {
    /// Settings from the environment only.
    pub fn from_env() -> Self {
        Self::default().with_env()
    }

    /// Reads a settings file, then fills what it leaves open from the
    /// environment.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::ConfigInvalid {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading S3 settings {}", path.display()), e))?;
        let f: File = toml::from_str(&text).map_err(|e| Error::ConfigSyntax {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        let secret = match (f.secret_access_key, f.secret_access_key_file) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "give secret_access_key or secret_access_key_file, not both".into(),
                ));
            }
            (Some(s), None) => Some(SecretString::from(s)),
            (None, Some(p)) => {
                let s = std::fs::read_to_string(&p).map_err(|e| {
                    bad(format!(
                        "cannot read secret_access_key_file {p}: {e}; check the path and its permissions"
                    ))
                })?;
                Some(SecretString::from(s.trim().to_owned()))
            }
            (None, None) => None,
        };
        Ok(S3Settings {
            endpoint: f.endpoint,
            region: f.region,
            access_key_id: f.access_key_id,
            secret_access_key: secret,
            session_token: f.session_token.map(SecretString::from),
            virtual_host_style: f.virtual_host_style.unwrap_or(false),
        }
        .with_env())
    }

    /// Fills fields still unset from the `AWS_*` environment variables.
    pub fn with_env(mut self) -> Self {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        self.endpoint = self
            .endpoint
            .or_else(|| var(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]));
        self.region = self
            .region
            .or_else(|| var(&["AWS_REGION", "AWS_DEFAULT_REGION"]));
        if self.access_key_id.is_none() && self.secret_access_key.is_none() {
            self.access_key_id = var(&["AWS_ACCESS_KEY_ID"]);
            self.secret_access_key = var(&["AWS_SECRET_ACCESS_KEY"]).map(SecretString::from);
            self.session_token = self
                .session_token
                .or_else(|| var(&["AWS_SESSION_TOKEN"]).map(SecretString::from));
        }
        self
    }

    /// The secret key, for the S3 client only.
    pub(crate) fn secret(&self) -> Option<&str> {
        self.secret_access_key.as_ref().map(|s| s.expose_secret())
    }

    /// The session token, for the S3 client only.
    pub(crate) fn token(&self) -> Option<&str> {
        self.session_token.as_ref().map(|s| s.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let s = S3Settings {
            endpoint: Some("http://127.0.0.1:3900".into()),
            access_key_id: Some("GK1234".into()),
            secret_access_key: Some(SecretString::from("very-secret-value".to_owned())),
            session_token: Some(SecretString::from("token-value".to_owned())),
            ..Default::default()
        };
        let d = format!("{s:?}");
        assert!(d.contains("127.0.0.1:3900"), "{d}");
        for hidden in ["GK1234", "very-secret-value", "token-value"] {
            assert!(!d.contains(hidden), "{d}");
        }
    }

    #[test]
    fn file_with_secret_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t\n").unwrap();
        let cfg = dir.path().join("s3.toml");
        std::fs::write(
            &cfg,
            format!(
                "endpoint = \"http://x:1\"\nregion = \"garage\"\naccess_key_id = \"GKa\"\nsecret_access_key_file = {:?}\n",
                secret.display().to_string()
            ),
        )
        .unwrap();
        let s = S3Settings::from_file(&cfg).unwrap();
        assert_eq!(s.secret(), Some("s3cr3t"));
        assert_eq!(s.region.as_deref(), Some("garage"));
        std::fs::write(&cfg, "endpont = \"typo\"\n").unwrap();
        let e = S3Settings::from_file(&cfg).unwrap_err().to_string();
        assert!(e.contains("endpont"), "{e}");
    }
}
