//! The library's error types: [`Error`], and the errors of the card,
//! recovery-key and retention layers it wraps.
//!
//! This module is the bottom layer (docs/ARCHITECTURE.md): it uses nothing
//! else of the crate, so every other module can return its errors.
//!
//! Every variant says what went wrong and, where that needs none of the
//! caller's commands, what to do about it, because the person reading it is
//! usually an administrator at a terminal, often during an incident. What
//! to type or click next is a separate [`Hint`] ([`Error::hint`]), which
//! each caller words in its own terms (the CLI as a command line).
//! Messages never contain secret material: no keys, PINs or plaintext, only
//! paths, backup ids and labels.

mod card;
mod hint;
mod key;
mod recovery;
mod retention;

pub use card::CardError;
pub use hint::Hint;
pub use key::KeyError;
pub use recovery::{KeyId, RecoveryError};
pub use retention::RetentionError;

use std::io;
use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in nkbackup's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository directory or its `nkbackup.toml` does not exist.
    #[error("no nkbackup repository at {path}")]
    RepositoryNotFound {
        /// The path that was given as the repository.
        path: PathBuf,
    },

    /// `init` was asked to create a repository where one already exists.
    #[error(
        "{path} already holds an nkbackup repository; use it as it is or choose another directory"
    )]
    RepositoryExists {
        /// The repository path.
        path: PathBuf,
    },

    /// `init` was pointed at a non-empty directory that is not a repository.
    #[error(
        "{path} is not empty and is not an nkbackup repository; choose an empty or new directory"
    )]
    NotEmptyNotRepository {
        /// The path given.
        path: PathBuf,
    },

    /// `nkbackup.toml` is not valid TOML; the message carries line and column.
    #[error("{path}: syntax error: {message}\nfix the file (it is plain TOML) and try again")]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },

    /// `nkbackup.toml` parses but says something impossible.
    #[error("{path}: {message}")]
    ConfigInvalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Sealing was asked for but the repository has no recipients.
    #[error("the repository at {path} has no recipients, so nothing could ever open a backup")]
    NoRecipients {
        /// The repository path.
        path: PathBuf,
    },

    /// A recipient string could not be parsed.
    #[error("invalid recipient {input:?}: {reason}")]
    InvalidRecipient {
        /// What was given (public key material, never secret).
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A recipient with this label or key is already configured.
    #[error(
        "a recipient {what} is already configured; choose another label or remove the old one first"
    )]
    DuplicateRecipient {
        /// `label "x"` or `with key age1…`.
        what: String,
    },

    /// The card being enrolled has the key of an `age` recipient already
    /// configured (age-plugin-openpgp-card's recipient, say).
    #[error(
        "this card's key is already the age recipient {label:?} (age-plugin-openpgp-card's recipient is the card's own key); run `nkbackup card enroll --adopt {label}` to make that entry this card's, so backups sealed to it open with --card"
    )]
    CardKeyIsRecipient {
        /// The `age` recipient's label.
        label: String,
    },

    /// `card enroll --adopt LABEL` found nothing to take over.
    #[error("cannot adopt recipient {label:?}: {reason}")]
    CannotAdopt {
        /// The label given to `--adopt`.
        label: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// No recipient with this label exists.
    #[error("no recipient labelled {label:?}")]
    UnknownRecipient {
        /// The label asked for.
        label: String,
    },

    /// A class name is not defined in the repository configuration.
    #[error(
        "class {class:?} is not defined in nkbackup.toml (defined: {known}); add a [classes.{class}] table or use one of those"
    )]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// Comma-separated defined classes.
        known: String,
    },

    /// A name (class, label, stdin name) is not acceptable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// What kind of name.
        what: &'static str,
        /// The rejected value.
        value: String,
        /// Why.
        reason: String,
    },

    /// No backup matches the id or prefix given.
    #[error("no backup {id:?} in this repository")]
    BackupNotFound {
        /// The id or prefix asked for.
        id: String,
    },

    /// An id prefix matches more than one backup.
    #[error("{id:?} matches several backups ({candidates}); give more of the id")]
    AmbiguousId {
        /// The prefix asked for.
        id: String,
        /// Some of the matches.
        candidates: String,
    },

    /// A sidecar manifest could not be read or parsed.
    #[error(
        "backup {id}: sidecar manifest {path} is refused: {message}. nkbackup neither opens nor prunes a backup whose sidecar is wrong; find out who changed it, and put back the sidecar from another copy of the repository"
    )]
    SidecarInvalid {
        /// The backup id.
        id: String,
        /// The sidecar path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The backup's data file is missing although its sidecar exists.
    #[error(
        "backup {id}: data file {path} is missing although its sidecar exists; the backup is lost (restore another one) and the sidecar should be investigated"
    )]
    DataMissing {
        /// The backup id.
        id: String,
        /// Where the data should be.
        path: PathBuf,
    },

    /// A source given to seal cannot be read.
    #[error("cannot read {path}: {source}; fix the permissions")]
    Unreadable {
        /// The source path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The sources are beyond what one backup holds.
    #[error("{reason}")]
    SourceTooLarge {
        /// What is too large and what to do.
        reason: String,
    },

    /// Two sources would be stored under the same top-level name.
    #[error(
        "two sources would be stored as {name:?} in the backup; seal them separately or give distinct names"
    )]
    DuplicateSourceName {
        /// The clashing name.
        name: String,
    },

    /// Input that one of the codecs of [`crate::format`] (or a card
    /// stanza parser) refuses, seen outside a backup's context; the
    /// commands report it as [`Error::Damaged`] with the backup's id.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// A string is not a repository object name.
    #[error(transparent)]
    ObjectKey(#[from] KeyError),

    /// The backup is damaged: truncated, corrupted or tampered with.
    #[error(
        "backup {id} is damaged: {detail}; do not trust this copy: restore an older backup or another copy of this one"
    )]
    Damaged {
        /// The backup id (or file name when opened outside a repository).
        id: String,
        /// What check failed.
        detail: String,
    },

    /// None of the given identities can open the backup.
    #[error(
        "none of the given keys can open backup {id}; it is sealed to: {labels}. Use the key (-i), card or recovery key of one of those"
    )]
    NoMatchingIdentity {
        /// The backup id.
        id: String,
        /// The recipient labels from the sidecar.
        labels: String,
    },

    /// Fewer members of a k-of-n group than its threshold could open
    /// their shares.
    #[error(
        "group {group} needs {threshold} of its tokens to open this; {opened}. Still needed: {more} more of {missing}"
    )]
    GroupIncomplete {
        /// The group's name.
        group: String,
        /// Its threshold.
        threshold: u8,
        /// Which members opened their share (`opened 1: alice-nk3`).
        opened: String,
        /// How many more are needed.
        more: u8,
        /// The members not used yet.
        missing: String,
    },

    /// Opening was requested without any identity.
    #[error("no key given to open backup {id}: pass -i KEYFILE (or a card or recovery key)")]
    NoIdentity {
        /// The backup id.
        id: String,
    },

    /// An identity file could not be read or parsed.
    #[error("cannot use identity file {path}: {message}")]
    IdentityFile {
        /// The identity file.
        path: PathBuf,
        /// What is wrong (never the key itself).
        message: String,
    },

    /// A key, share or passphrase file could not be read or parsed.
    #[error("cannot use key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key itself).
        message: String,
    },

    /// An archive entry would write outside the restore target or is of a
    /// forbidden kind.
    #[error(
        "backup {id}: refusing entry {path:?}: {reason}; nothing was restored. The archive was not written by nkbackup or has been tampered with"
    )]
    UnsafeEntry {
        /// The backup id.
        id: String,
        /// The entry's path as stored.
        path: String,
        /// Why it is refused.
        reason: String,
    },

    /// The restore target exists and is not empty.
    #[error("restore target {path} is not empty; choose a new or empty directory")]
    TargetNotEmpty {
        /// The target directory.
        path: PathBuf,
    },

    /// Moving a staged restore into an existing target failed part-way.
    #[error(transparent)]
    CommitFailed(Box<CommitFailure>),

    /// A restore target is the repository or lies inside it.
    #[error(
        "refusing to restore into {target}: it is the repository {repo} or lies inside it, and a restore there could replace the repository's own files; restore into a directory outside the repository"
    )]
    TargetInRepository {
        /// The target.
        target: PathBuf,
        /// The repository.
        repo: PathBuf,
    },

    /// A `--force` restore would replace or write into the repository,
    /// which lies below the target.
    #[error(
        "refusing to restore into {target}: the backup holds {}, which would replace or merge into the repository that lies there; restore into another directory (nothing was changed)", entry.display()
    )]
    TargetHoldsRepository {
        /// The target.
        target: PathBuf,
        /// The staged entry on the repository's path, relative to the target.
        entry: PathBuf,
    },

    /// A `--path` filter matched nothing in the backup.
    #[error(
        "backup {id} has no entry {path:?}: check the path (it starts with the source's name, as in the inner manifest)"
    )]
    PathNotInBackup {
        /// The backup id.
        id: String,
        /// The filter.
        path: String,
    },

    /// The object store failed or refused a request.
    #[error("{action}: {problem}{}", if hint.is_empty() { String::new() } else { format!("; {hint}") })]
    Storage {
        /// The repository URL (never credentials).
        location: String,
        /// What was being done, naming the object.
        action: String,
        /// What went wrong.
        problem: String,
        /// What to do about it.
        hint: String,
    },

    /// The repository is configured with `object_lock` and the store or
    /// the class cannot honour it; nothing was written.
    #[error("{location}: object_lock = \"{mode}\": {problem}; {hint}")]
    ObjectLock {
        /// The repository URL.
        location: String,
        /// The configured mode (`compliance`, `governance`).
        mode: &'static str,
        /// What is missing.
        problem: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// A `--repo` argument that is neither a directory nor a usable
    /// `s3://` URL.
    #[error("bad repository URL {url}: {reason}")]
    BadRepositoryUrl {
        /// The URL as given, with anything that might be secret removed.
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// Another process holds the repository lock for longer than we waited.
    #[error(
        "repository {path} is locked by another nkbackup process ({holder}); wait for it to finish, or if that process is gone, check with `ps` before removing {path}/lock"
    )]
    Locked {
        /// The repository path.
        path: PathBuf,
        /// Who holds it, as recorded in the lock file.
        holder: String,
    },

    /// A smartcard operation failed (no token, wrong PIN, token pulled…).
    #[error(transparent)]
    Card(#[from] CardError),

    /// A recovery key, passphrase or share was rejected.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),

    /// `recovery-key new` on a repository that already has one.
    #[error(
        "the repository at {path} already has a recovery key (key id {key_id}); backups sealed before a new one stay openable only with the old key"
    )]
    RecoveryKeyExists {
        /// The repository path.
        path: PathBuf,
        /// The existing key's id.
        key_id: String,
    },

    /// A recovery-key operation on a repository without one.
    #[error("the repository at {path} has no recovery key")]
    NoRecoveryKey {
        /// The repository path.
        path: PathBuf,
    },

    /// A period backup's key was erased on purpose: the backup is beyond
    /// use everywhere, which is what its retention promised.
    #[error(
        "backup {id} was crypto-erased: the key of its period {period} was erased at {when}; no key, card or copy opens it any more, by design (docs/RETENTION.md, \"Crypto-erasure\")"
    )]
    CryptoErased {
        /// The backup id.
        id: String,
        /// Its class and period, `<class>/<period>`.
        period: String,
        /// When the erasure was journaled, and why.
        when: String,
    },

    /// A period backup's key item is in no keyring location, and no
    /// erasure of it was journaled.
    #[error(
        "the period key of backup {id} ({place}) is in none of the keyring locations ({locations}) and no erasure of it is journaled: the keyring is incomplete or points elsewhere; check [keyring] in nkbackup.toml (a replica's keyring must name the original's)"
    )]
    PeriodKeyMissing {
        /// The backup id.
        id: String,
        /// The key item's place, `<class>/<period>/<key id>`.
        place: String,
        /// Every location looked in.
        locations: String,
    },

    /// A key item's sidecar cannot be used.
    #[error(
        "key item {place} at {path} is refused: {message}; restore it from a keyring mirror, or erase the period if that was meant"
    )]
    KeyItemInvalid {
        /// Its place, `<class>/<period>/<key id>`.
        place: String,
        /// Where it is.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// An escrowed item does not exist.
    #[error("no escrowed secret named {name:?}")]
    EscrowNotFound {
        /// The name asked for.
        name: String,
    },

    /// A retention policy, prune or proof-of-deletion problem.
    #[error(transparent)]
    Retention(#[from] RetentionError),

    /// A restore drill failed (and was journaled as failed: the record is
    /// line `seq` of the drill journal, `crate::drill::record` reads it).
    #[error("drill of backup {backup_id} failed: {cause}")]
    DrillFailed {
        /// The journal line recording the failed drill.
        seq: u64,
        /// The backup drilled.
        backup_id: String,
        /// The token's label.
        token: String,
        /// Why it failed.
        cause: Box<Error>,
    },

    /// There is no backup (of the class named) to drill.
    #[error("no backup to drill{}", class.as_ref().map(|c| format!(" in class {c}")).unwrap_or_default())]
    NothingToDrill {
        /// The class asked for, if any.
        class: Option<String>,
    },

    /// The keys given to a drill do not name exactly one token.
    #[error("{reason}")]
    DrillToken {
        /// What is unclear.
        reason: String,
        /// What to give instead.
        hint: Hint,
    },

    /// A journal fails its hash-chain checks.
    #[error(
        "journal {path} is damaged at line {line}: {reason}. Keep the file as evidence; nkbackup will not append to a damaged journal: once investigated, move it aside together with its .head file and a new one is started"
    )]
    JournalDamaged {
        /// The journal file.
        path: PathBuf,
        /// The first damaged line (1-based).
        line: u64,
        /// What check failed.
        reason: String,
    },

    /// An object read from the repository is larger than nkbackup ever
    /// writes: it was planted or damaged, and is not read into memory.
    #[error(
        "{what} is larger than {limit} bytes, more than nkbackup ever writes there: it is damaged or was put there by something else; investigate it (nothing of it was used)"
    )]
    TooLarge {
        /// The object (a path or object URL).
        what: String,
        /// The limit it exceeds (docs/FORMAT.md §10).
        limit: u64,
    },

    /// Something other than a regular file is where the repository keeps a
    /// file: nkbackup never follows a symlink inside a repository.
    #[error(
        "{path} is {kind}, not a file: nkbackup never follows symlinks or reads special files inside a repository; something other than nkbackup put it there: investigate, then remove it or put the real file back"
    )]
    NotAFile {
        /// Where.
        path: PathBuf,
        /// `a symlink`, `a directory`, `a special file`.
        kind: &'static str,
    },

    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    /// What to do next, when the message itself does not say it.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::Recovery(e) => e.hint(),
            Error::DrillFailed { cause, .. } => cause.hint(),
            Error::DrillToken { hint, .. } => Some(*hint),
            Error::Card(e) => e.hint(),
            Error::Retention(e) => e.hint(),
            Error::RepositoryNotFound { .. } => Some(Hint::InitRepository),
            Error::NoRecipients { .. } => Some(Hint::AddRecipient),
            Error::UnknownRecipient { .. } => Some(Hint::ListRecipients),
            Error::BackupNotFound { .. } => Some(Hint::ListBackups),
            Error::Unreadable { .. } => Some(Hint::SkipUnreadable),
            Error::TargetNotEmpty { .. } | Error::CommitFailed(_) => Some(Hint::ForceRestore),
            Error::RecoveryKeyExists { .. } => Some(Hint::ReplaceRecoveryKey),
            Error::NoRecoveryKey { .. } => Some(Hint::MakeRecoveryKey),
            Error::EscrowNotFound { .. } => Some(Hint::ListEscrow),
            Error::JournalDamaged { .. } => Some(Hint::AuditJournals),
            _ => None,
        }
    }

    /// Wraps an [`io::Error`] with a sentence saying what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The broad kind of failure, for exit codes and monitoring.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Damaged { .. }
            | Error::UnsafeEntry { .. }
            | Error::DataMissing { .. }
            | Error::TooLarge { .. }
            | Error::NotAFile { .. }
            | Error::SidecarInvalid { .. }
            | Error::KeyItemInvalid { .. } => ErrorKind::Integrity,
            Error::NoMatchingIdentity { .. }
            | Error::NoIdentity { .. }
            | Error::GroupIncomplete { .. }
            | Error::CryptoErased { .. }
            | Error::PeriodKeyMissing { .. } => ErrorKind::Key,
            Error::Recovery(e) if e.is_wrong_key() => ErrorKind::Key,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::Card(e) => e.kind(),
            Error::JournalDamaged { .. } => ErrorKind::Integrity,
            Error::Malformed { .. } | Error::ObjectKey(_) => ErrorKind::Integrity,
            Error::DrillFailed { cause, .. } => cause.kind(),
            Error::CommitFailed(f) => f.cause.kind(),
            _ => ErrorKind::Other,
        }
    }
}

/// What a merge into an existing restore target changed before it
/// failed ([`Error::CommitFailed`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "putting the restored tree into {target} failed at {at}: {cause}. {target} is now partly restored: {added} entries were added and {replaced} replaced before the failure (first: {examples}); the replaced originals are kept in {originals} (its index.txt says what each was) and what was not moved yet is in {staging}. Move the originals back to undo, or fix the cause and restore again",
    target = target.display(),
    staging = staging.display()
)]
pub struct CommitFailure {
    /// The target directory.
    pub target: PathBuf,
    /// The entry being moved, relative to the target.
    pub at: String,
    /// Why it failed.
    pub cause: Error,
    /// Entries added where nothing was.
    pub added: u64,
    /// Entries that replaced what was there.
    pub replaced: u64,
    /// The first few changes.
    pub examples: String,
    /// Where the replaced originals are.
    pub originals: String,
    /// The staging directory, with what was not moved.
    pub staging: PathBuf,
}

/// Broad classes of errors; the CLI turns them into exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A backup failed an integrity check or contains something unsafe.
    Integrity,
    /// No usable key was given for a backup.
    Key,
    /// The repository is locked by another process.
    Locked,
    /// Anything else: configuration, I/O, usage of the library.
    Other,
}

/// Adds a context sentence to `io::Result`s.
pub(crate) trait IoContext<T> {
    /// Maps an I/O error into [`Error::Io`] with the context produced by `f`.
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::io(f(), e))
    }
}
