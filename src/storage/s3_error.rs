//! Turning the S3 client's errors into messages an admin can act on.

use crate::error::Error;
use opendal::ErrorKind as K;

/// What was being done when the store failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Connect,
    Read,
    Write,
    Upload,
    Abort,
    List,
    Stat,
    Delete,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Connect => "connecting to",
            Action::Read => "reading",
            Action::Write => "writing",
            Action::Upload => "uploading",
            Action::Abort => "aborting the upload of",
            Action::List => "listing",
            Action::Stat => "looking up",
            Action::Delete => "deleting",
        }
    }
}

/// An [`Error::Storage`] for `key` of the repository at `location`. The
/// client's message is classified, not copied whole: it can quote
/// request headers.
pub(crate) fn storage_error(location: &str, action: Action, key: &str, e: opendal::Error) -> Error {
    let text = e.to_string();
    let has = |s: &str| text.contains(s);
    let (problem, hint): (&str, &str) = if has("NoSuchBucket") {
        (
            "the bucket does not exist",
            "check the bucket name in the repository URL, or create the bucket (docs/STORAGE.md)",
        )
    } else if has("InvalidAccessKeyId")
        || has("SignatureDoesNotMatch")
        || (e.kind() == K::PermissionDenied && (has("key") || has("Key") || has("signature")))
    {
        (
            "the store refused the credentials",
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or --s3-config) and the region",
        )
    } else if e.kind() == K::PermissionDenied {
        (
            "access denied",
            "the credentials are valid but their policy does not allow this; see the policies in docs/STORAGE.md",
        )
    } else if has("error sending request")
        || has("connect")
        || has("Connection refused")
        || has("timed out")
        || has("dns error")
        || e.kind() == K::RateLimited
    {
        (
            "the endpoint cannot be reached",
            "check that the object store is running and the endpoint URL (AWS_ENDPOINT_URL or ?endpoint=) is right, then run the command again",
        )
    } else if e.kind() == K::Unsupported {
        (
            "the store does not support this operation",
            "use a store with S3 multipart uploads and conditional writes (docs/STORAGE.md)",
        )
    } else {
        ("the store returned an error", "")
    };
    let what = if key.is_empty() {
        location.to_owned()
    } else {
        format!("{location}/{key}")
    };
    let detail = summary(&e);
    Error::Storage {
        location: location.to_owned(),
        action: format!("{} {what}", action.verb()),
        problem: format!("{problem} ({detail})"),
        hint: hint.to_owned(),
    }
}

/// The error's kind and the service's message, without the request
/// context opendal appends (it can include header values).
fn summary(e: &opendal::Error) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}: {msg}", e.kind()).chars().take(300).collect()
}
