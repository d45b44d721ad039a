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
//!
//! # Module map
//!
//! The modules form layers; each uses only its own layer (without cycles)
//! and the layers below it, which `tests/layers.rs` enforces.
//! docs/ARCHITECTURE.md shows how a seal and a restore flow through them.
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | foundation | [`error`], [`limits`], [`text`], [`util`] | every error type, every bound on hostile input, escaping for terminals, time and host helpers |
//! | I/O primitives | `beneath`, [`compression`], [`digest`], `fsio`, `progress`, `spool`, `stage` | path resolution beneath a root, zstd, hashing readers and writers, fsync'd writes, byte counts for progress bars, encrypted spill files, the staging pipeline |
//! | formats | [`format`](mod@format), [`id`], [`config`], [`manifest`] | pure codecs: tar/pax framing, a seekable payload's seek table, age header and key text, backup ids, `nkbackup.toml` with typed class policies, sidecar and inner manifest |
//! | storage and streams | [`storage`], [`journal`], [`archive`] | repository objects (directory or S3 bucket) and locks, hash-chained journals, the tar stream: walk, write, read, extract, commit |
//! | keys | [`recovery`], [`card`], [`identity`], [`group`], [`recipient`], [`unlock`] | the recovery key, its shares and the forms it is typed in, OpenPGP cards over PC/SC, age identity files, k-of-n token groups, turning configured recipients into age recipients, every key a caller holds turned into a header's file key |
//! | repository | [`keyring`], [`repo`] | period keys and where they live (crypto-erasure), an opened repository: its configuration, listing (with a bucket's sidecar cache), config edits |
//! | commands | [`seal`], [`open`], [`catalog`], [`copy`], [`enroll`], [`escrow`], [`drill`], [`retention`], [`rewrap`], [`run`] | what a caller does: seal, verify and restore, list a backup's entries and find paths across backups, replicate, the night's jobs, make the recovery key, escrow, drills, retention evaluate/prune/erase/verify, rewrap and revoke |
//! | rendering | [`render`] | the compliance report and the recovery-key sheet |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// foundation
pub mod error;
pub mod limits;
pub mod text;
pub mod util;

// I/O primitives
mod beneath;
pub mod compression;
pub mod digest;
mod fsio;
mod progress;
mod spool;
mod stage;

// formats
pub mod config;
pub mod format;
pub mod id;
pub mod manifest;

// storage and streams
pub mod archive;
pub mod journal;
pub mod storage;

// keys
pub mod card;
pub mod group;
pub mod identity;
pub mod recipient;
pub mod recovery;
pub mod unlock;

// repository
pub mod keyring;
pub mod repo;

// commands
pub mod catalog;
pub mod copy;
pub mod drill;
pub mod enroll;
pub mod escrow;
pub mod open;
pub mod retention;
pub mod rewrap;
pub mod run;
pub mod seal;

// rendering
pub mod render;

pub use compression::Compression;
pub use error::{CommitFailure, Error, ErrorKind, Hint, Result};
pub use id::BackupId;
pub use open::{IndexReport, Opener, RestoreOptions, RestoreReport, VerifyReport};
pub use repo::{BackupInfo, Repository};
pub use seal::{SealReport, Sealer};
pub use util::{host_name, now_rfc3339, tool_version};
