//! Changing `nkbackup.toml` under the write lock: recipients and the
//! recovery key. Each edit keeps the comments and layout an administrator
//! added (`toml_edit`) and is resolved again before it is written.

use super::*;

impl Repository {
    /// Adds a recipient to the configuration, keeping the file's comments.
    pub fn add_recipient(&mut self, r: RecipientConfig) -> Result<()> {
        config::check_name("recipient label", &r.label)?;
        crate::recipient::parse(&r)?;
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        // Re-read under the lock: another writer may have changed it.
        let fresh = Self::open_in(self.storage.clone())?;
        if fresh.config.recipients.iter().any(|x| x.label == r.label) {
            return Err(Error::DuplicateRecipient {
                what: format!("labelled {:?}", r.label),
            });
        }
        if let Some(g) = &r.group
            && fresh.config.group(g).is_none()
        {
            return Err(Error::ConfigInvalid {
                path: PathBuf::from(self.storage.describe(&config_key())),
                message: format!(
                    "there is no group {g:?}; make it first with `nkbackup group add {g} --threshold K`"
                ),
            });
        }
        if let Some(x) = fresh.config.recipients.iter().find(|x| x.key == r.key) {
            return Err(Error::DuplicateRecipient {
                what: format!("with this key (labelled {:?})", x.label),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .entry("recipients")
                .or_insert(toml_edit::Item::ArrayOfTables(Default::default()))
                .as_array_of_tables_mut()
                .ok_or("`recipients` is not an array of tables")?;
            arr.push(recipient_table(&r));
            Ok(())
        })
    }

    /// Replaces the `age` recipient `label` by `r`, a card with the same
    /// key, in the same place (`card enroll --adopt`). Backups sealed to
    /// the old entry open with the card: its stanza is the card's.
    pub fn replace_recipient(&mut self, label: &str, r: RecipientConfig) -> Result<()> {
        config::check_name("recipient label", &r.label)?;
        crate::recipient::parse(&r)?;
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        let fresh = Self::open_in(self.storage.clone())?;
        let cannot = |reason| Error::CannotAdopt {
            label: label.to_owned(),
            reason,
        };
        let old = fresh
            .config
            .recipients
            .iter()
            .find(|x| x.label == label)
            .ok_or(cannot("there is no recipient with this label"))?;
        if old.kind != config::RecipientKind::Age || !old.key.eq_ignore_ascii_case(&r.key) {
            return Err(cannot(
                "it is no longer an `age` recipient with this card's key",
            ));
        }
        if r.label != label && fresh.config.recipients.iter().any(|x| x.label == r.label) {
            return Err(Error::DuplicateRecipient {
                what: format!("labelled {:?}", r.label),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .get_mut("recipients")
                .and_then(|i| i.as_array_of_tables_mut())
                .ok_or("`recipients` is not an array of tables")?;
            let t = arr
                .iter_mut()
                .find(|t| t.get("label").and_then(|v| v.as_str()) == Some(label))
                .ok_or("the recipient to adopt is gone")?;
            let decor = t.decor().clone();
            *t = recipient_table(&r);
            *t.decor_mut() = decor;
            Ok(())
        })
    }

    /// Adds a k-of-n group (`[[groups]]`); its members are enrolled after
    /// it with `group = NAME`.
    pub fn add_group(&mut self, g: config::GroupConfig) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        let fresh = Self::open_in(self.storage.clone())?;
        if fresh.config.group(&g.name).is_some() {
            return Err(Error::DuplicateRecipient {
                what: format!("group named {:?}", g.name),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .entry("groups")
                .or_insert(toml_edit::Item::ArrayOfTables(Default::default()))
                .as_array_of_tables_mut()
                .ok_or("`groups` is not an array of tables")?;
            let mut t = toml_edit::Table::new();
            t["name"] = toml_edit::value(g.name.clone());
            t["threshold"] = toml_edit::value(i64::from(g.threshold));
            arr.push(t);
            Ok(())
        })
    }

    /// Removes the group `name`, which must have no members left.
    pub fn remove_group(&mut self, name: &str) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        let fresh = Self::open_in(self.storage.clone())?;
        if fresh.config.group(name).is_none() {
            return Err(Error::UnknownRecipient {
                label: format!("group {name}"),
            });
        }
        let members: Vec<&str> = fresh
            .config
            .recipients
            .iter()
            .filter(|r| r.group.as_deref() == Some(name))
            .map(|r| r.label.as_str())
            .collect();
        if !members.is_empty() {
            return Err(Error::ConfigInvalid {
                path: PathBuf::from(self.storage.describe(&config_key())),
                message: format!(
                    "group {name:?} still has members ({}); remove or revoke them first",
                    members.join(", ")
                ),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .get_mut("groups")
                .and_then(|i| i.as_array_of_tables_mut())
                .ok_or("`groups` is not an array of tables")?;
            arr.retain(|t| t.get("name").and_then(|v| v.as_str()) != Some(name));
            Ok(())
        })
    }

    /// Sets (or, with `None`, removes) the signature key of the card
    /// recipient labelled `label`: `(signing_key, signing_fingerprint)`.
    pub fn set_signing_key(&mut self, label: &str, key: Option<(String, String)>) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        let fresh = Self::open_in(self.storage.clone())?;
        let Some(r) = fresh.config.recipients.iter().find(|x| x.label == label) else {
            return Err(Error::UnknownRecipient {
                label: label.to_owned(),
            });
        };
        let mut updated = r.clone();
        (updated.signing_key, updated.signing_fingerprint) = key.clone().unzip();
        crate::card::signing::from_recipient(&updated)?;
        self.edit_config(|doc| {
            let arr = doc
                .get_mut("recipients")
                .and_then(|i| i.as_array_of_tables_mut())
                .ok_or("`recipients` is not an array of tables")?;
            for t in arr.iter_mut() {
                if t.get("label").and_then(|v| v.as_str()) != Some(label) {
                    continue;
                }
                match &key {
                    Some((k, fp)) => {
                        t["signing_key"] = toml_edit::value(k.clone());
                        t["signing_fingerprint"] = toml_edit::value(fp.clone());
                    }
                    None => {
                        t.remove("signing_key");
                        t.remove("signing_fingerprint");
                    }
                }
            }
            Ok(())
        })
    }

    /// Removes the recipient labelled `label`.
    pub fn remove_recipient(&mut self, label: &str) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        if !Self::open_in(self.storage.clone())?
            .config
            .recipients
            .iter()
            .any(|x| x.label == label)
        {
            return Err(Error::UnknownRecipient {
                label: label.to_owned(),
            });
        }
        self.edit_config(|doc| {
            let arr = doc
                .get_mut("recipients")
                .and_then(|i| i.as_array_of_tables_mut())
                .ok_or("`recipients` is not an array of tables")?;
            arr.retain(|t| t.get("label").and_then(|v| v.as_str()) != Some(label));
            Ok(())
        })
    }

    /// Stores the recovery key's public data (`[recovery]`). Refuses to
    /// replace an existing one unless `replace`.
    pub fn set_recovery(&mut self, cfg: config::RecoveryConfig, replace: bool) -> Result<()> {
        let _lock = self.lock(DEFAULT_LOCK_WAIT)?;
        if let Some(old) = Self::open_in(self.storage.clone())?.config.recovery
            && !replace
        {
            return Err(Error::RecoveryKeyExists {
                path: PathBuf::from(self.location()),
                key_id: old.key_id,
            });
        }
        let mut t = toml_edit::Table::new();
        t.decor_mut().set_prefix(
            "\n# The offline recovery key: public data only (`nkbackup recovery-key new`).\n",
        );
        t["key_id"] = toml_edit::value(cfg.key_id.clone());
        t["recipient"] = toml_edit::value(cfg.recipient.clone());
        t["created"] = toml_edit::value(cfg.created.clone());
        let mut check = toml_edit::InlineTable::new();
        check.insert("iv", cfg.check.iv.clone().into());
        check.insert("mac", cfg.check.mac.clone().into());
        t["check"] = toml_edit::value(check);
        if let Some(p) = &cfg.passphrase {
            let mut pp = toml_edit::InlineTable::new();
            pp.insert("algorithm", p.algorithm.clone().into());
            pp.insert("salt", p.salt.clone().into());
            pp.insert("iterations", i64::from(p.iterations).into());
            pp.insert("bits", i64::from(p.bits).into());
            t["passphrase"] = toml_edit::value(pp);
        }
        self.edit_config(|doc| {
            doc["recovery"] = toml_edit::Item::Table(t);
            Ok(())
        })
    }

    /// Every sealing recipient's sidecar entry, in stanza order, and the
    /// age recipients a seal encrypts to ([`crate::recipient::sealing`]);
    /// an error if there are none.
    #[allow(clippy::type_complexity)]
    pub fn sealing_recipients(
        &self,
    ) -> Result<(
        Vec<crate::manifest::RecipientInfo>,
        Vec<Box<dyn age::Recipient + Send>>,
    )> {
        let (infos, parsed) = crate::recipient::sealing(&self.config)?;
        if infos.is_empty() {
            return Err(Error::NoRecipients {
                path: PathBuf::from(self.location()),
            });
        }
        Ok((infos, parsed))
    }

    /// The recovery key's configuration, or an error saying how to make one.
    pub fn recovery(&self) -> Result<&config::RecoveryConfig> {
        self.config
            .recovery
            .as_ref()
            .ok_or_else(|| Error::NoRecoveryKey {
                path: PathBuf::from(self.location()),
            })
    }

    fn edit_config(
        &mut self,
        f: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), &'static str>,
    ) -> Result<()> {
        let path = PathBuf::from(self.storage.describe(&config_key()));
        let text = self
            .storage
            .get(&config_key(), crate::limits::CONFIG_BYTES)?
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::RepositoryNotFound {
                path: PathBuf::from(self.location()),
            })?;
        let mut doc: toml_edit::DocumentMut =
            text.parse()
                .map_err(|e: toml_edit::TomlError| Error::ConfigSyntax {
                    path: path.clone(),
                    message: config::parser_message(&e.to_string()),
                })?;
        f(&mut doc).map_err(|m| Error::ConfigInvalid {
            path: path.clone(),
            message: m.to_owned(),
        })?;
        let new = doc.to_string();
        let (config, policy) = resolve(&new, &path)?;
        self.storage.put(&config_key(), new.as_bytes())?;
        self.config = config;
        self.policy = policy;
        Ok(())
    }
}

/// The `[[recipients]]` table of `r`.
fn recipient_table(r: &RecipientConfig) -> toml_edit::Table {
    let mut t = toml_edit::Table::new();
    t["label"] = toml_edit::value(r.label.clone());
    t["type"] = toml_edit::value(r.kind.as_str());
    t["key"] = toml_edit::value(r.key.clone());
    for (name, v) in [
        ("ident", &r.ident),
        ("algorithm", &r.algorithm),
        ("fingerprint", &r.fingerprint),
        ("created", &r.created),
        ("signing_key", &r.signing_key),
        ("signing_fingerprint", &r.signing_fingerprint),
        ("group", &r.group),
    ] {
        if let Some(v) = v {
            t[name] = toml_edit::value(v.clone());
        }
    }
    t
}
