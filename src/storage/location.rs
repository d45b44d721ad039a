//! Parsing a `--repo` argument: a directory or `s3://bucket[/prefix]`.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Where a repository is, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory.
    Local(PathBuf),
    /// An S3-compatible bucket, optionally under a key prefix.
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix inside the bucket, without leading or trailing
        /// `/` (empty for the bucket's root).
        prefix: String,
        /// `?endpoint=` from the URL.
        endpoint: Option<String>,
        /// `?region=` from the URL.
        region: Option<String>,
    },
}

impl Location {
    /// Parses `s3://bucket[/prefix][?endpoint=URL&region=NAME]`; anything
    /// else is a directory path. Credentials are refused in the URL: they
    /// would end up in shell history, `ps` and logs.
    pub fn parse(s: &str) -> Result<Self> {
        let Some(rest) = s.strip_prefix("s3://") else {
            if s.contains("://") {
                return Err(bad(
                    s,
                    "only s3:// URLs and directory paths are repositories",
                ));
            }
            return Ok(Location::Local(PathBuf::from(s)));
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if path.contains('@') {
            return Err(bad(
                s,
                "credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use --s3-config",
            ));
        }
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        {
            return Err(bad(
                s,
                "the bucket name must be lowercase letters, digits, '-' and '.'",
            ));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        if prefix
            .split('/')
            .any(|c| c == "." || c == ".." || (c.is_empty() && !prefix.is_empty()))
        {
            return Err(bad(s, "the prefix must not contain '.', '..' or '//'"));
        }
        let (mut endpoint, mut region) = (None, None);
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("endpoint", v)) if !v.is_empty() => endpoint = Some(v.to_owned()),
                Some(("region", v)) if !v.is_empty() => region = Some(v.to_owned()),
                _ => {
                    return Err(bad(
                        s,
                        "the only URL parameters are endpoint= and region=; credentials go in AWS_* variables or --s3-config",
                    ));
                }
            }
        }
        Ok(Location::S3 {
            bucket: bucket.to_owned(),
            prefix,
            endpoint,
            region,
        })
    }
}

fn bad(s: &str, why: &str) -> Error {
    // Never echo what might carry a secret: user info or parameters.
    let shown = if s.contains('@') {
        "<the URL>"
    } else {
        s.split('?').next().unwrap_or(s)
    };
    Error::BadRepositoryUrl {
        url: shown.to_owned(),
        reason: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buckets_prefixes_and_parameters() {
        assert_eq!(
            Location::parse("/srv/backups").unwrap(),
            Location::Local("/srv/backups".into())
        );
        assert_eq!(
            Location::parse("s3://my-bucket/a/b/?region=garage&endpoint=http://[::1]:3900")
                .unwrap(),
            Location::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b".into(),
                endpoint: Some("http://[::1]:3900".into()),
                region: Some("garage".into()),
            }
        );
        assert_eq!(
            Location::parse("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new(),
                endpoint: None,
                region: None
            }
        );
    }

    #[test]
    fn refuses_credentials_and_odd_urls() {
        for bad in [
            "s3://AKIA:secret@bucket/x",
            "s3://bucket/x?secret_access_key=abc",
            "s3://Bucket/x",
            "s3:///x",
            "s3://b/a/../c",
            "gs://b/x",
        ] {
            let e = Location::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("abc") && !e.contains(":secret@"), "{bad}: {e}");
            assert!(e.contains("repository URL"), "{bad}: {e}");
        }
    }
}
