//! Recovery keys: the offline way back in when no smartcard is at hand.

mod check;
pub mod encoding;
mod error;
mod key;
pub mod passphrase;

pub use check::KeyCheck;
pub use error::RecoveryError;
pub use key::{KeyId, RecoveryKey};
pub use passphrase::PassphraseParams;
