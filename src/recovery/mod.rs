//! Recovery keys: the offline way back in when no smartcard is at hand.
//!
//! Every backup is sealed to the operator's cards *and* to one recovery key
//! that is printed once and kept offline, the way Matrix key backup works.
//! This module is everything about that key:
//!
//! * [`RecoveryKey`] (`key`) — 32 random bytes used directly as an X25519
//!   secret key, so the key's public half is an ordinary age `X25519`
//!   recipient (`age1…`) and a restore needs nothing but stock `age` and the
//!   [`export_age`](RecoveryKey::export_age) text.
//! * [`encoding`] — Matrix's recovery-key text (`EsTc LW2K …`): people
//!   already know it, it has a parity byte that catches a mistyped
//!   character, and it avoids look-alike characters.
//! * [`KeyCheck`] (`check`) — Matrix secret-storage key check
//!   (`m.secret_storage.v1.aes-hmac-sha2`): stored beside the repository so
//!   a typed key can be confirmed *before* a long restore starts, without
//!   storing anything that helps an attacker more than the public key does.
//! * [`passphrase`] — Matrix `m.pbkdf2`: derive the key from a passphrase
//!   instead of printing it.
//! * [`shares`] — split the key k-of-n between custodians, each share a
//!   printable, checksummed text that names its key and threshold.
//! * [`source`] — the forms a caller supplies the key in (typed, file,
//!   share files, passphrase), each checked against the repository.
//! * [`RecoveryError`] (in [`crate::error`]) — one variant per mistake a person can
//!   make, with messages that say what to do and never contain the key.
//!
//! Secrets live in zeroizing types, come out only as
//! [`SecretString`](secrecy::SecretString), and never reach `Debug` output.

mod check;
pub mod encoding;
mod key;
pub mod passphrase;
pub mod setup;
pub mod shares;
pub mod source;

pub use crate::error::RecoveryError;
pub use check::KeyCheck;
pub use key::{KeyId, RecoveryKey};
pub use passphrase::PassphraseParams;
pub use shares::Share;
pub use source::{RecoveryKeySource, read_secret_file};
