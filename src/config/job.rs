//! `[jobs.NAME]`: what `nkbackup run` seals every night.
//!
//! ```toml
//! [jobs.chat]
//! class = "archive"
//! paths = ["/var/lib/prosody", "/var/lib/matrix-media"]
//! exclude = ["*.tmp", "/var/lib/matrix-media/thumbnails"]
//! one_file_system = true
//! exclude_caches = true
//! every = "24h"                 # due when its last backup is older (default: always)
//!
//! [[jobs.chat.commands]]
//! name = "chat.sql"             # stored as this file in the backup
//! run = ["pg_dump", "chat"]     # argv, no shell
//! timeout = "1h"                # default 1h
//! ```

use super::Period;
use serde::{Deserialize, Serialize};

/// Most command sources one job may have.
pub const MAX_COMMANDS: usize = 64;
/// Default command timeout.
pub const DEFAULT_TIMEOUT: u64 = 3_600;

/// One `[jobs.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// The class its backups get.
    pub class: String,
    /// Files and directories to seal.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Gitignore-style exclude patterns.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Do not descend into other file systems.
    #[serde(default)]
    pub one_file_system: bool,
    /// Leave out directories tagged with `CACHEDIR.TAG`.
    #[serde(default)]
    pub exclude_caches: bool,
    /// Record unreadable files as skipped instead of failing.
    #[serde(default)]
    pub skip_unreadable: bool,
    /// Due when the job's newest backup is older than this (default:
    /// due at every run).
    #[serde(default)]
    pub every: Option<String>,
    /// Commands whose standard output is sealed as a file.
    #[serde(default)]
    pub commands: Vec<CommandConfig>,
}

/// One `[[jobs.NAME.commands]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The file name its output is stored as.
    pub name: String,
    /// The program and its arguments (no shell).
    pub run: Vec<String>,
    /// How long it may run (default `1h`); it is killed after.
    #[serde(default)]
    pub timeout: Option<String>,
}

impl JobConfig {
    /// Checks a job: a class, something to seal, well-formed durations
    /// and commands. `name` is for messages.
    pub fn check(&self, name: &str) -> Result<(), String> {
        super::check_name("job", name).map_err(|e| e.to_string())?;
        if self.paths.is_empty() && self.commands.is_empty() {
            return Err(format!(
                "[jobs.{name}] seals nothing: give paths or commands"
            ));
        }
        if self.commands.len() > MAX_COMMANDS {
            return Err(format!(
                "[jobs.{name}] has more than {MAX_COMMANDS} commands"
            ));
        }
        self.every_period()
            .map_err(|e| format!("[jobs.{name}] every: {e}"))?;
        for c in &self.commands {
            if c.run.is_empty() || c.run[0].is_empty() {
                return Err(format!(
                    "[jobs.{name}] command {:?} has an empty run: give the program and its arguments, e.g. run = [\"pg_dump\", \"chat\"]",
                    c.name
                ));
            }
            c.timeout_secs()
                .map_err(|e| format!("[jobs.{name}] command {:?} timeout: {e}", c.name))?;
        }
        Ok(())
    }

    /// `every`, parsed.
    pub fn every_period(&self) -> crate::Result<Option<Period>> {
        self.every.as_deref().map(Period::parse).transpose()
    }
}

impl CommandConfig {
    /// The timeout in seconds.
    pub fn timeout_secs(&self) -> crate::Result<u64> {
        Ok(match &self.timeout {
            Some(t) => Period::parse(t)?.as_secs(),
            None => DEFAULT_TIMEOUT,
        })
    }
}
