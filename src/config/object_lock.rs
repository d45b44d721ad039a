//! `object_lock`: the S3 Object Lock retention mode every backup object of
//! a bucket repository is written with (docs/STORAGE.md, "Object Lock").

use serde::{Deserialize, Serialize};
use std::fmt;

/// An S3 Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Nobody, not even the account's root, can delete the object's
    /// version or shorten its retention before the retain-until date.
    Compliance,
    /// Only a principal with `s3:BypassGovernanceRetention` who asks for
    /// the bypass can delete the version or shorten its retention early.
    Governance,
}

impl LockMode {
    /// The mode as S3 spells it (`COMPLIANCE`, `GOVERNANCE`).
    pub fn as_s3(self) -> &'static str {
        match self {
            LockMode::Compliance => "COMPLIANCE",
            LockMode::Governance => "GOVERNANCE",
        }
    }

    /// The mode from S3's spelling (any case); `None` for anything else.
    pub fn from_s3(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "COMPLIANCE" => Some(LockMode::Compliance),
            "GOVERNANCE" => Some(LockMode::Governance),
            _ => None,
        }
    }
}

impl LockMode {
    /// The mode as the configuration spells it (`compliance`,
    /// `governance`).
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Compliance => "compliance",
            LockMode::Governance => "governance",
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_in_both_spellings() {
        for m in [LockMode::Compliance, LockMode::Governance] {
            assert_eq!(LockMode::from_s3(m.as_s3()), Some(m));
            assert_eq!(LockMode::from_s3(&m.to_string()), Some(m));
        }
        assert_eq!(LockMode::from_s3("LEGALHOLD"), None);
        assert_eq!(LockMode::from_s3(""), None);
    }
}
