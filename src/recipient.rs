//! Recipients: the public keys every backup is sealed to.
//!
//! A recipient is configured as a label, a type and a public key. Sealing
//! turns each into an `age` recipient producing one stanza. This version
//! knows the `age` type (native X25519, `age1…`), `recovery` (the recovery
//! key's public half, also X25519) and the smartcard types `card-x25519` and
//! `card-openpgp` ([`crate::card`]).

use crate::config::{Config, RecipientConfig, RecipientKind};
use crate::error::{Error, Result};
use crate::group::GroupRecipient;
use crate::manifest::RecipientInfo;

/// Parses a configured recipient into an age recipient.
pub fn parse(r: &RecipientConfig) -> Result<Box<dyn age::Recipient + Send>> {
    match &r.kind {
        RecipientKind::Age | RecipientKind::Recovery => Ok(Box::new(parse_age(&r.key)?)),
        // The card holds the secret half; sealing is ordinary X25519.
        RecipientKind::CardX25519 => {
            crate::card::key::from_recipient(r)?;
            Ok(Box::new(parse_age(&r.key)?))
        }
        RecipientKind::CardOpenpgp => Ok(Box::new(crate::card::openpgp::OpenpgpRecipient::new(
            &crate::card::key::from_recipient(r)?,
        ))),
        RecipientKind::Other(other) => Err(Error::InvalidRecipient {
            input: r.label.clone(),
            reason: format!(
                "unknown recipient type {other:?} (known: age, recovery, card-x25519, card-openpgp)"
            ),
        }),
    }
}

pub use crate::format::age_key::parse_age;

/// A default label for a key: its first 12 and last 4 characters.
pub fn default_label(key: &str) -> String {
    let k = key.trim();
    if k.len() > 20 {
        format!("{}..{}", &k[..12], &k[k.len() - 4..])
    } else {
        k.to_owned()
    }
}

/// What the sidecar records about a recipient (with its group's
/// threshold, for a group member).
pub fn info(r: &RecipientConfig, config: &Config) -> RecipientInfo {
    RecipientInfo {
        label: r.label.clone(),
        kind: r.kind.to_string(),
        key: r.key.clone(),
        group: r.group.clone(),
        threshold: r
            .group
            .as_deref()
            .and_then(|g| config.group(g))
            .map(|g| g.threshold),
    }
}

/// What a seal encrypts to: every recipient's sidecar entry, in stanza
/// order ([`Config::sealing_recipients`]), and the age recipients that
/// write those stanzas: one per recipient on its own and the recovery
/// key, one [`GroupRecipient`] per group (writing one stanza per member).
#[allow(clippy::type_complexity)]
pub fn sealing(
    config: &Config,
) -> Result<(Vec<RecipientInfo>, Vec<Box<dyn age::Recipient + Send>>)> {
    let all = config.sealing_recipients();
    let infos = all.iter().map(|r| info(r, config)).collect();
    let mut out = Vec::new();
    for r in all.iter().filter(|r| r.group.is_none()) {
        out.push(parse(r)?);
    }
    for g in &config.groups {
        let members = all
            .iter()
            .filter(|r| r.group.as_deref() == Some(&g.name))
            .map(parse)
            .collect::<Result<Vec<_>>>()?;
        if let Some(why) = crate::config::group::shortfall(g, members.len()) {
            return Err(Error::InvalidRecipient {
                input: format!("group {}", g.name),
                reason: why,
            });
        }
        out.push(Box::new(GroupRecipient::new(&g.name, g.threshold, members)?) as _);
    }
    Ok((infos, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_age_keys_and_rejects_others() {
        let id = age::x25519::Identity::generate();
        let pk = id.to_public().to_string();
        assert_eq!(parse_age(&pk).unwrap().to_string(), pk);
        let err = parse_age("age1notakey").unwrap_err().to_string();
        assert!(
            err.contains("age1notakey") && err.contains("age-keygen"),
            "{err}"
        );
        let bad = RecipientConfig {
            label: "x".into(),
            kind: "pgp".into(),
            key: pk.clone(),
            ..Default::default()
        };
        let err = parse(&bad)
            .err()
            .expect("unknown type is refused")
            .to_string();
        assert!(err.contains("unknown recipient type"), "{err}");
        assert!(default_label(&pk).starts_with("age1") && default_label(&pk).len() == 18);
    }
}
