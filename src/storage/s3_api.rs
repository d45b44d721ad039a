//! The S3 requests opendal does not make: `GetBucketVersioning`,
//! `GetObjectLockConfiguration`, `PutObjectRetention` and
//! `GetObjectRetention`. Signed with SigV4 by `reqsign` (the signer opendal
//! uses), sent with `reqwest`; answers are read up to
//! [`ANSWER_BYTES`](super::retention::ANSWER_BYTES) and parsed in
//! [`super::retention`].

use super::S3Settings;
use super::retention::{self, ANSWER_BYTES, LockSupport, Retention};
use crate::error::{Error, Result};
use base64::Engine;
use md5::Md5;
use reqsign_aws_v4::{Credential, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A signed-request client for one bucket and prefix.
#[derive(Clone)]
pub(crate) struct S3Api {
    client: reqwest::Client,
    signer: Signer<Credential>,
    /// `scheme://host[:port]` of the bucket (virtual-host style: with the
    /// bucket in the host).
    base: String,
    /// `/bucket` (path style) or empty (virtual-host style).
    bucket_path: String,
    /// The repository's prefix inside the bucket, without slashes around.
    prefix: String,
    location: String,
}

/// An answer: status and (bounded) body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl S3Api {
    /// A client for `bucket`/`prefix` with the credentials in `settings`
    /// (the caller checked they are complete).
    pub(crate) fn new(
        bucket: &str,
        prefix: &str,
        settings: &S3Settings,
        location: &str,
    ) -> Result<Self> {
        let region = settings.region.as_deref().unwrap_or("us-east-1");
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = endpoint.trim_end_matches('/');
        let (base, bucket_path) = if settings.virtual_host_style {
            let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            (format!("{scheme}://{bucket}.{host}"), String::new())
        } else {
            (endpoint.to_owned(), format!("/{}", encode(bucket)))
        };
        let mut creds = StaticCredentialProvider::new(
            settings.access_key_id.as_deref().unwrap_or_default(),
            settings.secret().unwrap_or_default(),
        );
        if let Some(t) = settings.token() {
            creds = creds.with_session_token(t);
        }
        let signer = Signer::new(Context::new(), creds, RequestSigner::new("s3", region));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Storage {
                location: location.to_owned(),
                action: "connecting".into(),
                problem: format!("cannot make an HTTP client ({e})"),
                hint: String::new(),
            })?;
        Ok(S3Api {
            client,
            signer,
            base,
            bucket_path,
            prefix: prefix.trim_matches('/').to_owned(),
            location: location.to_owned(),
        })
    }

    /// Whether the bucket keeps versions and enforces Object Lock.
    pub(crate) async fn lock_support(&self) -> Result<LockSupport> {
        let what = "checking versioning and Object Lock of";
        let a = self
            .call(http::Method::GET, None, "versioning=", None, what)
            .await?;
        let versioning = self.expect_ok(&a, what, None)?;
        if !retention::versioning_enabled(&versioning).map_err(|p| self.bad(what, None, p))? {
            return Ok(LockSupport::Missing(
                "versioning is not enabled on the bucket".into(),
            ));
        }
        let a = self
            .call(http::Method::GET, None, "object-lock=", None, what)
            .await?;
        if a.status == 404 {
            return Ok(LockSupport::Missing(
                "the bucket has no Object Lock configuration (Object Lock is enabled when a bucket is created)".into(),
            ));
        }
        let lock = self.expect_ok(&a, what, None)?;
        Ok(
            if retention::object_lock_enabled(&lock).map_err(|p| self.bad(what, None, p))? {
                LockSupport::Enabled
            } else {
                LockSupport::Missing("Object Lock is not enabled on the bucket".into())
            },
        )
    }

    /// Sets the retention of the current version of `key`.
    pub(crate) async fn put_retention(&self, key: &str, r: &Retention) -> Result<()> {
        let what = "setting the Object Lock retention of";
        let body = r.to_xml().into_bytes();
        let a = self
            .call(http::Method::PUT, Some(key), "retention=", Some(body), what)
            .await?;
        self.expect_ok(&a, what, Some(key)).map(|_| ())
    }

    /// The retention of `key` (its current version, or `version`);
    /// `None` if it has none, or if there is no such object.
    pub(crate) async fn get_retention(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Retention>> {
        let what = "reading the Object Lock retention of";
        let query = match version {
            Some(v) => format!("retention=&versionId={}", encode(v).replace('/', "%2F")),
            None => "retention=".into(),
        };
        let a = self
            .call(http::Method::GET, Some(key), &query, None, what)
            .await?;
        if a.status == 404 {
            return Ok(None);
        }
        let body = self.expect_ok(&a, what, Some(key))?;
        Retention::from_xml(&body)
            .map(Some)
            .map_err(|p| self.bad(what, Some(key), p))
    }

    async fn call(
        &self,
        method: http::Method,
        key: Option<&str>,
        query: &str,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<Answer> {
        let path = match key {
            Some(k) if self.prefix.is_empty() => format!("/{}", encode(k)),
            Some(k) => format!("/{}/{}", encode(&self.prefix), encode(k)),
            None => "/".to_owned(),
        };
        let path = if self.bucket_path.is_empty() {
            path
        } else if key.is_none() {
            self.bucket_path.clone()
        } else {
            format!("{}{path}", self.bucket_path)
        };
        let uri = format!("{}{path}?{query}", self.base);
        let body = body.unwrap_or_default();
        let mut req = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("x-amz-content-sha256", hex::encode(Sha256::digest(&body)));
        if !body.is_empty() {
            // PutObjectRetention requires an integrity header.
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
            req = req
                .header("content-md5", md5)
                .header("content-type", "application/xml");
        }
        let req = req
            .body(())
            .map_err(|e| self.bad(what, key, e.to_string()))?;
        let (mut parts, ()) = req.into_parts();
        self.signer
            .sign(&mut parts, None)
            .await
            .map_err(|e| self.bad(what, key, format!("cannot sign the request ({})", e.kind())))?;
        let req = reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|e| self.bad(what, key, format!("cannot build the request ({e})")))?;
        let mut resp = self.client.execute(req).await.map_err(|e| Error::Storage {
            location: self.location.clone(),
            action: format!("{what} {}", self.name(key)),
            problem: format!("the endpoint cannot be reached ({})", summary(&e)),
            hint: "check that the object store is running and the endpoint URL, then run the command again".into(),
        })?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.bad(what, key, format!("reading the answer: {}", summary(&e))))?
        {
            if (body.len() + chunk.len()) as u64 > ANSWER_BYTES {
                return Err(self.bad(
                    what,
                    key,
                    format!("the answer is larger than {ANSWER_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// The body of a 2xx answer, or the error the store's code explains.
    fn expect_ok(&self, a: &Answer, what: &str, key: Option<&str>) -> Result<Vec<u8>> {
        if (200..300).contains(&a.status) {
            return Ok(a.body.clone());
        }
        let code = retention::error_code(&a.body).unwrap_or_else(|| format!("HTTP {}", a.status));
        let (problem, hint) = match code.as_str() {
            "AccessDenied" => (
                "access denied",
                "the credentials' policy must allow the Object Lock actions (s3:PutObjectRetention, s3:GetObjectRetention, s3:GetBucketVersioning, s3:GetBucketObjectLockConfiguration; docs/STORAGE.md, \"Object Lock\")",
            ),
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" => (
                "the store refused the credentials",
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or --s3-config) and the region",
            ),
            "NoSuchBucket" => (
                "the bucket does not exist",
                "check the bucket name in the repository URL",
            ),
            "NotImplemented" | "HTTP 501" => (
                "the store does not implement S3 Object Lock",
                "use a store that does (AWS S3, Ceph RGW, MinIO), or a repository without object_lock",
            ),
            "InvalidRequest" | "InvalidArgument" => (
                "the store refused the retention",
                "a retention can be lengthened, not shortened, while the lock holds; see docs/STORAGE.md, \"Object Lock\"",
            ),
            _ => ("the store returned an error", ""),
        };
        Err(Error::Storage {
            location: self.location.clone(),
            action: format!("{what} {}", self.name(key)),
            problem: format!("{problem} ({code})"),
            hint: hint.into(),
        })
    }

    fn bad(&self, what: &str, key: Option<&str>, problem: String) -> Error {
        Error::Storage {
            location: self.location.clone(),
            action: format!("{what} {}", self.name(key)),
            problem,
            hint: String::new(),
        }
    }

    fn name(&self, key: Option<&str>) -> String {
        match key {
            Some(k) => format!("{}/{k}", self.location),
            None => self.location.clone(),
        }
    }
}

/// Percent-encodes a URI path: everything but unreserved characters and
/// `/` (S3's canonical form, which the signature covers).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client error without its URL (which names the bucket and key, said
/// elsewhere) or anything from the request's headers.
fn summary(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_encoded_once() {
        assert_eq!(super::encode("backups/db/x y.age"), "backups/db/x%20y.age");
        assert_eq!(super::encode("a+b=c"), "a%2Bb%3Dc");
    }
}
