//! The `nkbackup/share` stanza: one member's share of a k-of-n group.
//!
//! ```text
//! -> nkbackup/share <group> <threshold> <index> <inner tag> [<inner args>…]
//! <inner body, base64, wrapped at 64 columns>
//! ```
//!
//! The file key is split with Shamir's scheme over GF(256), byte by byte
//! (threshold `k`, one share per member at x = `index`, 1…255). A share's
//! value is 16 bytes, the size of a file key, so it is wrapped to the
//! member exactly as a file key would be: the *inner* stanza is the one the
//! member's own recipient type writes (`X25519` for an age key or a
//! Curve25519 card, `nkbackup/openpgp` for an RSA or NIST card), and it is
//! carried here with its tag and arguments after ours and its body as
//! ours. Stock age ignores the stanza (an unknown type); nkbackup collects
//! `k` shares of one group, combines them, and the header MAC proves the
//! result is the file key. docs/FORMAT.md §8.4 specifies it.

use age_core::format::Stanza;

/// The stanza's tag.
pub const TAG: &str = "nkbackup/share";

/// A parsed `nkbackup/share` stanza.
#[derive(Debug, PartialEq, Eq)]
pub struct ShareStanza {
    /// The group's name.
    pub group: String,
    /// How many shares rebuild the file key (2…255).
    pub threshold: u8,
    /// This share's x coordinate (1…255).
    pub index: u8,
    /// The member's own stanza, wrapping the 16-byte share value.
    pub inner: Stanza,
}

impl ShareStanza {
    /// Parses `s`: `None` if it is not an `nkbackup/share` stanza, an
    /// error naming the defect if it is one but malformed.
    pub fn parse(s: &Stanza) -> Option<Result<Self, String>> {
        if s.tag != TAG {
            return None;
        }
        Some((|| {
            let [group, threshold, index, tag, args @ ..] = s.args.as_slice() else {
                return Err("it has fewer than 4 arguments".to_owned());
            };
            // Matched against configured names later; here only bounded.
            if group.len() > 64 || !age_core::format::is_arbitrary_string(group) {
                return Err("its group name is malformed".to_owned());
            }
            let number = |v: &str, what: &str| -> Result<u8, String> {
                // Canonical decimal only: no sign, no leading zero.
                if v.is_empty()
                    || v.len() > 3
                    || v.starts_with('0')
                    || !v.bytes().all(|c| c.is_ascii_digit())
                {
                    return Err(format!("its {what} is not a number from 1 to 255"));
                }
                v.parse::<u8>()
                    .map_err(|_| format!("its {what} is not a number from 1 to 255"))
            };
            let threshold = number(threshold, "threshold")?;
            let index = number(index, "index")?;
            if threshold < 2 {
                return Err("its threshold is below 2".into());
            }
            if tag == TAG {
                return Err("it nests another share stanza".into());
            }
            Ok(ShareStanza {
                group: group.clone(),
                threshold,
                index,
                inner: Stanza {
                    tag: tag.clone(),
                    args: args.to_vec(),
                    body: s.body.clone(),
                },
            })
        })())
    }

    /// The stanza as written into a header.
    pub fn to_stanza(&self) -> Stanza {
        let mut args = vec![
            self.group.clone(),
            self.threshold.to_string(),
            self.index.to_string(),
            self.inner.tag.clone(),
        ];
        args.extend(self.inner.args.iter().cloned());
        Stanza {
            tag: TAG.into(),
            args,
            body: self.inner.body.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_malformed_stanzas() {
        let s = ShareStanza {
            group: "officers".into(),
            threshold: 2,
            index: 3,
            inner: Stanza {
                tag: "X25519".into(),
                args: vec!["abc".into()],
                body: vec![1, 2, 3],
            },
        };
        let st = s.to_stanza();
        assert_eq!(st.args, ["officers", "2", "3", "X25519", "abc"]);
        assert_eq!(ShareStanza::parse(&st).unwrap().unwrap(), s);
        let other = Stanza {
            tag: "X25519".into(),
            args: vec![],
            body: vec![],
        };
        assert!(ShareStanza::parse(&other).is_none());
        for args in [
            &["officers", "2", "3"][..],
            &[
                "officers-and-a-name-that-is-much-longer-than-sixty-four-characters-in-all",
                "2",
                "3",
                "X25519",
            ],
            &["officers", "1", "3", "X25519"],
            &["officers", "2", "0", "X25519"],
            &["officers", "2", "03", "X25519"],
            &["officers", "2", "256", "X25519"],
            &["officers", "+2", "3", "X25519"],
            &["officers", "2", "3", TAG],
        ] {
            let st = Stanza {
                tag: TAG.into(),
                args: args.iter().map(|a| a.to_string()).collect(),
                body: vec![],
            };
            assert!(ShareStanza::parse(&st).unwrap().is_err(), "{args:?}");
        }
    }
}
