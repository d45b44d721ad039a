//! The error of a string that is not a repository object name (the check
//! itself is `storage::ObjectKey`'s).

use std::fmt;

/// Why a string is not an object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key as given, escaped for messages and cut to 200 characters.
    pub key: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a repository object name: {}",
            self.key, self.reason
        )
    }
}

impl std::error::Error for KeyError {}
