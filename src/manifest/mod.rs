//! Manifests: the authenticated inner manifest inside every backup, and the
//! plaintext sidecar beside it.
//!
//! The inner manifest is the last entry of the tar stream and so is covered
//! by age's authentication: it is the truth about what a backup holds. The
//! sidecar repeats what unattended jobs (list, retention, shallow verify)
//! need without a key, and is written last as the commit point of a seal.
//! `verify --deep` checks the two against each other.

mod entry;
mod inner;
mod log;
mod path;
mod sidecar;

pub use entry::{Entry, EntryKind, implied_next};
pub use inner::{InnerHeader, MANIFEST_DIR, MANIFEST_PATH, MANIFEST_VERSION, MANIFEST_VERSION_MIN};
pub use log::EntryLog;
pub use path::EntryPath;
pub use sidecar::{
    DefectKind, PendingRewrap, PeriodKeyRef, RecipientInfo, SIDECAR_FORMAT, Sidecar, SidecarDefect,
    is_key_id, is_sha256_hex,
};
