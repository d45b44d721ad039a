//! The repository configuration file, `nkbackup.toml`.
//!
//! Read with serde for checking, edited with `toml_edit` so that comments
//! and layout an administrator added survive `recipient add`.

use crate::compression::Compression;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub mod duration;
pub mod erasure;
pub mod group;
pub mod job;
pub mod object_lock;
pub mod policy;
mod recipient_kind;
pub mod recovery;

pub use duration::Period;
pub use erasure::ErasurePeriod;
pub use group::GroupConfig;
pub use job::{CommandConfig, JobConfig};
pub use object_lock::LockMode;
pub use policy::{ClassPolicy, FOREVER, KeepRules, Policy, PromiseBound};
pub use recipient_kind::RecipientKind;
pub use recovery::{KeyCheck, PassphraseParams, RecoveryConfig};

/// The config format version this nkbackup reads and writes.
pub const CONFIG_FORMAT: u32 = 1;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Identity of the repository.
    pub repository: RepositoryConfig,
    /// Who backups are sealed to.
    #[serde(default)]
    pub recipients: Vec<RecipientConfig>,
    /// k-of-n token groups (members are recipients with `group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupConfig>,
    /// Retention classes by name.
    #[serde(default)]
    pub classes: BTreeMap<String, ClassConfig>,
    /// Restore-drill settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillConfig>,
    /// The offline recovery key, if one was made (`recovery-key new`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryConfig>,
    /// Where period keys are kept (default: `keys/` in the repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring: Option<KeyringConfig>,
    /// What `nkbackup run` seals, by job name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: BTreeMap<String, JobConfig>,
    /// Where each new journal head is also written, append-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessConfig>,
}

/// `[witness]`: a second directory or bucket that receives every new
/// journal head, append-only, so that `retention verify` can prove the
/// journals were not rewritten since (docs/RETENTION.md §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// A directory or `s3://bucket[/prefix]`, not the repository itself.
    pub location: String,
}

/// `[keyring]`: where the key items of classes with `erasure_period` live
/// (docs/FORMAT.md §11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    /// A directory or `s3://bucket[/prefix]` holding `keys/…`; default the
    /// repository itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Further locations every key item is written to and erased from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
}

/// The label of the one recipient a period backup's sidecar lists: its
/// period key.
pub const PERIOD_KEY_LABEL: &str = "period-key";

/// `[drill]`: how often every class and token must pass a restore drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    /// Longest acceptable time since the last passed drill (default `90d`).
    #[serde(default)]
    pub max_interval: Option<String>,
}

/// The label the recovery recipient has in sidecars and messages.
pub const RECOVERY_LABEL: &str = "recovery-key";

/// `[repository]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Random repository id (hex).
    pub id: String,
    /// Config format version.
    pub format: u32,
    /// When the repository was created (RFC 3339).
    pub created: String,
    /// Bucket repositories: every backup object is written with this S3
    /// Object Lock retention mode, retained until the backup's deadline
    /// (docs/STORAGE.md, "Object Lock"). Set by `init --object-lock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<LockMode>,
}

/// One `[[recipients]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientConfig {
    /// Human label, unique in the repository (`offsite-1`, `alice-nk3`).
    pub label: String,
    /// `age` for an X25519 `age1…` key; `card-x25519` / `card-openpgp` for
    /// an OpenPGP card's decryption key (see docs/FORMAT.md §8).
    #[serde(rename = "type")]
    pub kind: RecipientKind,
    /// The public key.
    pub key: String,
    /// Card recipients: the card's ident, `MMMM:SSSSSSSS` (manufacturer and
    /// serial in hex), used to find the token and to ask for it by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ident: Option<String>,
    /// Card recipients: the key algorithm (`cv25519`, `rsa2048`, `nistp256`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Card recipients: the OpenPGP v4 fingerprint of the decryption key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Card recipients: the key's creation time on the card (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Card recipients with a signature key: base64 of its OpenPGP
    /// public-key packet. Drills with the card sign their journal record
    /// with it, and verification checks them against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// The signature key's OpenPGP v4 fingerprint (for people; checked
    /// against `signing_key` when the configuration is loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_fingerprint: Option<String>,
    /// The `[[groups]]` this recipient is a member of: it then opens a
    /// backup only together with the group's threshold of members, and is
    /// not a recipient on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The shape of a recipient's `signing_key` and `signing_fingerprint`
/// (the key itself is parsed where it is used, in the card module).
fn check_signing_key(r: &RecipientConfig) -> std::result::Result<(), String> {
    let label = &r.label;
    match (&r.signing_key, &r.signing_fingerprint) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(format!(
            "recipient {label:?} has a signing_fingerprint but no signing_key"
        )),
        (Some(_), _) if !r.kind.is_card() => Err(format!(
            "recipient {label:?} is not a card: only a card's signature key signs drill records"
        )),
        (Some(k), _) if k.len() > crate::limits::SIGNING_KEY_CHARS => Err(format!(
            "recipient {label:?}: signing_key has {} characters, at most {} are accepted",
            k.len(),
            crate::limits::SIGNING_KEY_CHARS
        )),
        (Some(_), Some(fp)) if fp.len() != 40 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) => Err(
            format!("recipient {label:?}: signing_fingerprint is not 40 hex digits"),
        ),
        (Some(_), _) => Ok(()),
    }
}

/// One `[classes.NAME]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassConfig {
    /// `none`, `zstd` or `zstd:LEVEL` (default `zstd:3`).
    #[serde(default)]
    pub compression: Option<String>,
    /// What the class holds, or the promise it implements.
    #[serde(default)]
    pub description: Option<String>,
    /// Retention: a backup must be gone by created + max_age (`7d`, `24h`),
    /// or `forever` (with `reason`) for a class kept without a deadline on
    /// purpose.
    #[serde(default)]
    pub max_age: Option<String>,
    /// Retention: why a class with `max_age = "forever"` keeps its backups
    /// without a deadline (required there, refused elsewhere).
    #[serde(default)]
    pub reason: Option<String>,
    /// Retention: how late a deletion may complete and still count as
    /// keeping the promise (default: not at all).
    #[serde(default)]
    pub deletion_tolerance: Option<String>,
    /// Retention: the bound the promise makes: no datum of the class may
    /// exist anywhere, at the source and in backups together, longer than
    /// this. Checked at load against source_max_age + max_age
    /// (+ erasure_period) + deletion_tolerance.
    #[serde(default)]
    pub promise_max: Option<String>,
    /// Retention: the privacy-policy promise this class implements.
    #[serde(default)]
    pub promise: Option<String>,
    /// Retention: keep the newest backup of this many recent days.
    #[serde(default)]
    pub keep_daily: Option<u32>,
    /// Retention: keep the newest backup of this many recent ISO weeks.
    #[serde(default)]
    pub keep_weekly: Option<u32>,
    /// Retention: keep the newest backup of this many recent months.
    #[serde(default)]
    pub keep_monthly: Option<u32>,
    /// Retention: sealed files older than this are reported at seal time.
    #[serde(default)]
    pub source_max_age: Option<String>,
    /// Crypto-erasure: seal each period of this length to a key of its own
    /// (`7d`), erased when the period's last backup passes its deadline.
    #[serde(default)]
    pub erasure_period: Option<String>,
}

impl ClassConfig {
    /// The class's compression.
    pub fn compression(&self) -> Result<Compression> {
        self.compression
            .as_deref()
            .map(Compression::parse)
            .unwrap_or(Ok(Compression::default()))
    }
}

impl Config {
    /// Parses and checks `text`, read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let cfg: Config = toml::from_str(text).map_err(|e| Error::ConfigSyntax {
            path: path.to_owned(),
            message: parser_message(&e.to_string()),
        })?;
        cfg.check(path)?;
        Ok(cfg)
    }

    /// Checks what the types alone cannot.
    pub fn check(&self, path: &Path) -> Result<()> {
        let invalid = |message: String| Error::ConfigInvalid {
            path: path.to_owned(),
            message,
        };
        if self.repository.format != CONFIG_FORMAT {
            return Err(invalid(format!(
                "repository format {} is not supported by this nkbackup (it reads {CONFIG_FORMAT}); upgrade nkbackup",
                self.repository.format
            )));
        }
        for (name, class) in &self.classes {
            check_name("class", name).map_err(|e| invalid(e.to_string()))?;
            ClassPolicy::from_config(name, class)
                .map_err(|e| invalid(format!("[classes.{name}]: {e}")))?;
        }
        let mut labels = std::collections::HashSet::new();
        for r in &self.recipients {
            if !labels.insert(r.label.as_str()) {
                return Err(invalid(format!(
                    "recipient label {:?} appears twice; labels must be unique",
                    r.label
                )));
            }
            if r.label == PERIOD_KEY_LABEL {
                return Err(invalid(format!(
                    "the label {PERIOD_KEY_LABEL:?} is reserved for period keys"
                )));
            }
            if r.label == RECOVERY_LABEL {
                return Err(invalid(format!(
                    "the label {RECOVERY_LABEL:?} is reserved for the [recovery] key"
                )));
            }
            check_signing_key(r).map_err(invalid)?;
        }
        group::check(&self.groups, &self.recipients).map_err(invalid)?;
        for (name, job) in &self.jobs {
            job.check(name).map_err(invalid)?;
            if !self.classes.contains_key(&job.class) {
                return Err(invalid(format!(
                    "[jobs.{name}] class {:?} is not defined in [classes]",
                    job.class
                )));
            }
        }
        if let Some(k) = &self.keyring {
            if k.mirrors.len() > 8 {
                return Err(invalid("[keyring] lists more than 8 mirrors".into()));
            }
            if k.location
                .iter()
                .chain(&k.mirrors)
                .any(|l| l.is_empty() || l.len() > 1024)
            {
                return Err(invalid(
                    "[keyring] has an empty location or one longer than 1024 bytes".into(),
                ));
            }
        }
        self.drill_max_interval()
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(r) = &self.recovery {
            crate::format::age_key::parse_age(&r.recipient)
                .map_err(|e| invalid(format!("[recovery] recipient: {e}")))?;
            r.check
                .verify_well_formed()
                .map_err(|e| invalid(format!("[recovery] check: {e}")))?;
        }
        Ok(())
    }

    /// Every recipient a seal encrypts to, in stanza order: the configured
    /// recipients on their own, then the recovery key (type `recovery`) if
    /// there is one, then each group's members (groups in configuration
    /// order, members in recipient order), one share stanza each.
    pub fn sealing_recipients(&self) -> Vec<RecipientConfig> {
        let mut all: Vec<RecipientConfig> = self
            .recipients
            .iter()
            .filter(|r| r.group.is_none())
            .cloned()
            .collect();
        if let Some(r) = &self.recovery {
            all.push(RecipientConfig {
                label: RECOVERY_LABEL.into(),
                kind: RecipientKind::Recovery,
                key: r.recipient.clone(),
                ..Default::default()
            });
        }
        for g in &self.groups {
            all.extend(
                self.recipients
                    .iter()
                    .filter(|r| r.group.as_deref() == Some(&g.name))
                    .cloned(),
            );
        }
        all
    }

    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// `[drill] max_interval`, default 90 days.
    pub fn drill_max_interval(&self) -> Result<time::Duration> {
        match self.drill.as_ref().and_then(|d| d.max_interval.as_deref()) {
            None => Ok(time::Duration::days(90)),
            Some(s) => Ok(Period::parse(s)
                .map_err(|e| Error::ConfigInvalid {
                    path: "nkbackup.toml".into(),
                    message: format!("[drill] max_interval: {e}"),
                })?
                .to_duration()),
        }
    }

    /// The class named `name`, or an error listing the defined ones.
    pub fn class(&self, name: &str) -> Result<&ClassConfig> {
        self.classes.get(name).ok_or_else(|| Error::UnknownClass {
            class: name.to_owned(),
            known: self.classes.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

/// A TOML parser's message for people: it quotes the offending line, which
/// a planted configuration can make megabytes long or fill with escape
/// sequences, so each quoted line is escaped and cut.
pub(crate) fn parser_message(m: &str) -> String {
    m.trim_end()
        .lines()
        .map(|l| {
            let cut: String = l.chars().take(160).collect();
            let more = if cut.len() < l.len() { " …" } else { "" };
            format!("{}{more}", crate::text::escape(&cut))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks a class name or label: 1–64 of `[a-z0-9._-]`, starting with a
/// letter or digit, so it is safe as a directory name and in messages.
pub fn check_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what,
            value: name.to_owned(),
            reason: "use 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit".into(),
        })
    }
}

/// The text `init` writes: commented, with the default classes.
pub fn initial_text(id: &str, created: &str, object_lock: Option<LockMode>) -> String {
    let lock = match object_lock {
        Some(m) => format!(
            "# Every backup is locked in the bucket until its deadline (S3 Object Lock,\n# docs/STORAGE.md): classes need max_age and deletion_tolerance.\nobject_lock = \"{m}\"\n"
        ),
        None => String::new(),
    };
    format!(
        r#"# nkbackup repository configuration (docs/CONFIG.md describes every key).

[repository]
id = "{id}"
format = {CONFIG_FORMAT}
created = "{created}"
{lock}
# Recipients: every backup is sealed to all of them; any one can open it.
# Add with `nkbackup recipient add --repo DIR age1... --label NAME`.

# Classes: what kind of data a backup holds. compression: none | zstd | zstd:LEVEL
# Retention (docs/RETENTION.md): max_age = "90d" (deadline), promise = "...",
# keep_daily / keep_weekly / keep_monthly = N, source_max_age = "7d",
# promise_max = "97d" (checked: source_max_age + max_age must fit in it),
# deletion_tolerance = "1h" (none by default: a late deletion fails verify).
[classes.archive]
# No deadline yet: retention check and verify flag this class until it has
# one (or max_age = "forever" with reason = "...", if that is on purpose).
#max_age = "90d"
#promise = "Message archives are deleted from backups 90 days after they are made."
description = "message archives and uploads"
compression = "zstd:3"

[classes.db]
# No deadline yet (see above).
#max_age = "30d"
description = "database dumps"
compression = "zstd:3"

[classes.logs]
# No deadline yet (see above).
#max_age = "7d"
description = "service logs"
compression = "zstd:6"

[classes.media]
# No deadline yet (see above).
#max_age = "90d"
description = "already-compressed media"
compression = "none"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_line_is_not_echoed_whole() {
        let text = format!(
            "x = {}\u{1b}[2J{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = Config::parse(&text, Path::new("nkbackup.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 2000, "{} bytes", e.len());
        let e = Config::parse("x = \u{1b}]0;owned\u{7}\n", Path::new("nkbackup.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\\u{1b}]0;owned"), "{e}");
        assert!(!e.contains('\u{1b}'), "{e:?}");
    }
}
