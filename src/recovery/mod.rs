//! Recovery keys: the offline way back in when no smartcard is at hand.

pub mod encoding;
mod error;
mod key;

pub use error::RecoveryError;
pub use key::{KeyId, RecoveryKey};
