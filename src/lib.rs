//! nkbackup: encrypted backups that open only with an OpenPGP smartcard or
//! an offline recovery key, with retention classes and proof of deletion.
//!
//! The library is the product; the `nkbackup` binary is a thin layer over
//! it. A service seals its own data in-process:
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! nkbackup::Sealer::new(&repo, "db")
//!     .bytes("chat.sql", b"-- dump".to_vec())
//!     .path("/var/lib/prosody")
//!     .seal()?;
//! # Ok(()) }
//! ```
//!
//! Opening needs a private key: an age identity file, the recovery key, or
//! an OpenPGP smartcard ([`card::CardIdentity`], passed with
//! [`Opener::card`], with a PIN callback the caller supplies).
//!
//! The format (an age v1 file holding a zstd-compressed pax tar stream that
//! ends with an inner manifest, plus a JSON sidecar) is documented in
//! `docs/FORMAT.md`; stock `age`, `zstd` and `tar` can restore a backup.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod archive;
mod beneath;
pub mod card;
pub mod compression;
pub mod config;
pub mod digest;
pub mod drill;
mod error;
pub mod escrow;
pub mod format;
pub mod id;
pub mod journal;
pub mod limits;
pub mod manifest;
pub mod open;
pub mod recipient;
pub mod recovery;
pub mod repo;
pub mod retention;
pub mod seal;
mod spool;
mod stage;
pub mod storage;
pub mod text;

pub use compression::Compression;
pub use error::{CommitFailure, Error, ErrorKind, Result};
pub use id::BackupId;
pub use open::{Opener, RestoreOptions, RestoreReport, VerifyReport};
pub use repo::{BackupInfo, Repository};
pub use seal::{SealReport, Sealer};

/// This host's name, as recorded in manifests.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// `nkbackup <version>`.
pub fn tool_version() -> String {
    format!("nkbackup {}", env!("CARGO_PKG_VERSION"))
}

/// The current UTC time in RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    now.format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 formats every UTC time")
}
