//! Rewrap: give existing backups a new header for the repository's
//! current recipients and groups, keeping their payload bytes.
//!
//! An age file's payload depends only on its file key, so a lost token is
//! revoked, a new token given old backups, or a k-of-n group introduced
//! without re-encrypting any data: open the header with a key that can
//! ([`Keys`]: a card makes exactly one operation per backup, or the
//! recovery key, shares, a key file), check its MAC, wrap the same file key
//! to the current recipients ([`crate::recipient::sealing`]), and write the
//! new header followed by the old payload.
//!
//! ```no_run
//! # fn main() -> nkbackup::Result<()> {
//! let repo = nkbackup::Repository::open("/srv/backups".as_ref())?;
//! let mut keys = nkbackup::unlock::Keys::new();
//! for id in nkbackup::identity::load_file("offsite.key".as_ref())? {
//!     keys.add(id);
//! }
//! let report = nkbackup::rewrap::Rewrap::new(&repo, &keys).run()?;
//! println!("{} rewrapped", report.rewrapped);
//! # Ok(()) }
//! ```
//!
//! # Crash safety
//!
//! Under the write lock, per backup:
//!
//! 1. the new file is streamed to an upload that is not visible yet (a
//!    directory's `tmp/`, a bucket's multipart upload), hashing the old
//!    file on the way (it must be the one the sidecar describes);
//! 2. the sidecar gets `rewrap_pending`: the new file's header digest,
//!    length, SHA-256 and recipients ([`PendingRewrap`]). An open accepts
//!    the data file the sidecar describes or the pending one, and takes
//!    the recipient list that matches the header it reads;
//! 3. the upload is committed: the new file replaces the old one under the
//!    same key, atomically (a rename; a completed multipart upload);
//! 4. the rewrap journal (`journal/rewraps.jsonl`, hash-chained like the
//!    others) records the backup, old and new recipients and digests;
//! 5. the sidecar is rewritten for the new file, without `rewrap_pending`.
//!
//! A `kill -9` anywhere leaves the old file under a sidecar that describes
//! it, or the new file under a sidecar whose pending rewrap describes it:
//! openable by the old recipients or the new ones, never neither. The next
//! rewrap finishes a pending one whose new file is in place without any
//! key (steps 4–5, not journaling twice), and starts again one whose old
//! file is still there.

use crate::digest::{HashingReader, HashingWriter};
use crate::error::{Error, Result};
use crate::escrow::EscrowItem;
use crate::format::age_header::{Header, read_prefix};
use crate::journal::JournalWriter;
use crate::keyring::StoredKeyItem;
use crate::manifest::{PendingRewrap, RecipientInfo, Sidecar};
use crate::progress::ProgressReader;
use crate::repo::{BackupInfo, DEFAULT_LOCK_WAIT, Repository};
use crate::unlock::Keys;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, Write};
use std::time::Duration;
use time::OffsetDateTime;

/// The rewrap journal's name: `journal/rewraps.jsonl`.
pub const JOURNAL: &str = "rewraps";

/// Environment variable of the crash hook used by the tests:
/// `STEP:N` aborts the process at the N-th time (from 1) a rewrap reaches
/// `STEP` (`after-upload`, `after-intent`, `after-data`, `after-journal`,
/// `after-sidecar`). Only in builds with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
pub const CRASH_HOOK_ENV: &str = "NKBACKUP_TEST_CRASH_REWRAP";

#[cfg(feature = "test-hooks")]
fn crash_hook(step: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let Ok(v) = std::env::var(CRASH_HOOK_ENV) else {
        return;
    };
    let Some((s, n)) = v.split_once(':') else {
        return;
    };
    if s == step && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == n.parse().unwrap_or(0) {
        std::process::abort();
    }
}

#[cfg(not(feature = "test-hooks"))]
fn crash_hook(_step: &str) {}

/// One line of the rewrap journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewrapRecord {
    /// When the new file was put in place (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `backup`, `escrow` or `period-key`.
    pub item: String,
    /// The backup's (or escrow version's) id.
    pub id: String,
    /// The backup's class, or the escrowed secret's name.
    pub class: String,
    /// Who could open the old file: `label (type)`, stanza order.
    pub old_recipients: Vec<String>,
    /// Who can open the new file.
    pub new_recipients: Vec<String>,
    /// SHA-256 of the old file.
    pub old_ciphertext_sha256: String,
    /// SHA-256 of the new file.
    pub new_ciphertext_sha256: String,
    /// Which keys opened the old header (labels).
    pub opened_with: Vec<String>,
    /// Host that ran the rewrap.
    pub host: String,
    /// Tool and version.
    pub tool: String,
}

/// What happened to one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new header was written.
    Rewrapped,
    /// An interrupted rewrap was finished (its new file was in place).
    Finished,
    /// It is already sealed to the current recipients.
    UpToDate,
    /// A dry run: it would be rewrapped.
    WouldRewrap,
}

/// One backup's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    /// `backup`, `escrow` or `period-key`.
    pub item: &'static str,
    /// Its id.
    pub id: String,
    /// Its class (or escrow name).
    pub class: String,
    /// What was done.
    pub action: Action,
    /// Who could open it before.
    pub old_recipients: Vec<String>,
    /// Who can open it now (or would, in a dry run).
    pub new_recipients: Vec<String>,
    /// Bytes written (the new file), 0 if nothing was written.
    pub bytes: u64,
    /// On a bucket with Object Lock: the old file's version, still open
    /// to the old recipients, is locked until then and stays.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub old_version_locked_until: Option<time::OffsetDateTime>,
}

/// What a rewrap did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RewrapReport {
    /// Every selected backup and escrow item, in order.
    pub items: Vec<ItemReport>,
    /// How many got a new header (or would, in a dry run).
    pub rewrapped: usize,
    /// How many interrupted rewraps were finished.
    pub finished: usize,
    /// How many were already sealed to the current recipients.
    pub up_to_date: usize,
}

/// A rewrap of some or all backups (and escrow items).
pub struct Rewrap<'r> {
    repo: &'r Repository,
    keys: &'r Keys<'r>,
    class: Option<String>,
    ids: Vec<String>,
    dry_run: bool,
    escrow: bool,
    lock_wait: Duration,
    on_item: Option<OnItem<'r>>,
    on_progress: Option<OnProgress<'r>>,
}

/// The caller's callback after each item.
type OnItem<'r> = Box<dyn Fn(&ItemReport) + 'r>;

/// The caller's callback with bytes done and bytes in all.
type OnProgress<'r> = Box<dyn Fn(u64, u64) + 'r>;

impl<'r> Rewrap<'r> {
    /// A rewrap of every backup and escrow item of `repo`, opening with `keys`.
    pub fn new(repo: &'r Repository, keys: &'r Keys<'r>) -> Self {
        Rewrap {
            repo,
            keys,
            class: None,
            ids: Vec::new(),
            dry_run: false,
            escrow: true,
            lock_wait: DEFAULT_LOCK_WAIT,
            on_item: None,
            on_progress: None,
        }
    }

    /// Only backups of this class (and no escrow items).
    pub fn class(mut self, class: Option<String>) -> Self {
        self.class = class;
        self
    }

    /// Only these backups (ids, unique prefixes or `latest`; no escrow items).
    pub fn ids(mut self, ids: Vec<String>) -> Self {
        self.ids = ids;
        self
    }

    /// Only say what would be rewrapped; no key is used, nothing written.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// How long to wait for the write lock (default one hour).
    pub fn lock_wait(mut self, d: Duration) -> Self {
        self.lock_wait = d;
        self
    }

    /// Calls `f` after each backup or escrow item (for progress lines).
    pub fn on_item(mut self, f: impl Fn(&ItemReport) + 'r) -> Self {
        self.on_item = Some(Box::new(f));
        self
    }

    /// Calls `f(done, total)` as backups' data is rewritten, at most every
    /// 4 MiB: `total` is the size of every selected backup's data file; a
    /// backup already up to date counts as done at once (for progress
    /// bars; escrow and key items are small and not counted).
    pub fn on_progress(mut self, f: impl Fn(u64, u64) + 'r) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Runs it. Stops at the first backup that fails (a wrong PIN must not
    /// be tried again on the next): what was done stays done, and the next
    /// run goes on from there.
    pub fn run(self) -> Result<RewrapReport> {
        let repo = self.repo;
        let _lock = if self.dry_run {
            None
        } else {
            Some(repo.lock(self.lock_wait)?)
        };
        // Under the lock: the configuration as it is now.
        let fresh = Repository::open_in(repo.storage().clone())?;
        let (target, recipients) = fresh.sealing_recipients()?;
        if let Some(c) = &self.class {
            fresh.class_policy(c)?;
        }
        let selected: Vec<BackupInfo> = if self.ids.is_empty() {
            fresh
                .list()?
                .backups
                .into_iter()
                .filter(|b| self.class.as_ref().is_none_or(|c| *c == b.sidecar.class))
                .collect()
        } else {
            self.ids
                .iter()
                .map(|q| fresh.find(q))
                .collect::<Result<_>>()?
        };
        // A period backup is rewrapped through its key item.
        let selected: Vec<BackupInfo> = selected
            .into_iter()
            .filter(|b| b.sidecar.period_key.is_none())
            .collect();
        let mut journal = if self.dry_run {
            None
        } else {
            Some(repo.journal_writer::<RewrapRecord>(JOURNAL)?)
        };
        let mut report = RewrapReport::default();
        let step = Step {
            repo: &fresh,
            keys: self.keys,
            target: &target,
            recipients: &recipients,
            dry_run: self.dry_run,
        };
        let total: u64 = selected.iter().map(|b| b.sidecar.ciphertext_bytes).sum();
        let mut done = 0u64;
        for b in &selected {
            let progress = self.on_progress.as_ref().map(|f| {
                let base = done;
                move |n: u64| f(base + n, total)
            });
            let item = step.backup(b, journal.as_mut(), progress)?;
            done += b.sidecar.ciphertext_bytes;
            if let Some(f) = &self.on_progress {
                f(done, total);
            }
            report.count(item, self.on_item.as_deref());
        }
        if self.escrow && self.class.is_none() && self.ids.is_empty() {
            for e in crate::escrow::list(&fresh)? {
                let item = step.small(&e, journal.as_mut())?;
                report.count(item, self.on_item.as_deref());
            }
        }
        // Period backups are sealed to their period key, not to the
        // recipients: only the key items are rewrapped, in every keyring
        // location.
        if self.ids.is_empty() {
            for k in fresh.keyring().items(self.class.as_deref())? {
                let item = step.small(&k, journal.as_mut())?;
                report.count(item, self.on_item.as_deref());
            }
        }
        Ok(report)
    }
}

impl RewrapReport {
    fn count(&mut self, item: ItemReport, on_item: Option<&(dyn Fn(&ItemReport) + '_)>) {
        match item.action {
            Action::Rewrapped | Action::WouldRewrap => self.rewrapped += 1,
            Action::Finished => self.finished += 1,
            Action::UpToDate => self.up_to_date += 1,
        }
        if let Some(f) = on_item {
            f(&item);
        }
        self.items.push(item);
    }
}

/// What every item's rewrap needs.
struct Step<'s> {
    repo: &'s Repository,
    keys: &'s Keys<'s>,
    target: &'s [RecipientInfo],
    recipients: &'s [Box<dyn age::Recipient + Send>],
    dry_run: bool,
}

/// `label (type)` for the journal and reports; members with their group.
pub fn describe(r: &[RecipientInfo]) -> Vec<String> {
    r.iter()
        .map(|x| match (&x.group, x.threshold) {
            (Some(g), Some(t)) => format!("{} ({}, group {g} of {t})", x.label, x.kind),
            _ => format!("{} ({})", x.label, x.kind),
        })
        .collect()
}

/// The new header for the file whose header is `prefix`: opened with
/// `keys` (the sidecar's `hint` says whose stanza is whose), its MAC
/// checked, the same file key wrapped to `recipients`. Also says which
/// keys opened it.
fn new_header(
    id: &str,
    prefix: &[u8],
    keys: &Keys<'_>,
    hint: &[RecipientInfo],
    recipients: &[Box<dyn age::Recipient + Send>],
) -> Result<(Vec<u8>, Vec<String>)> {
    let damaged = |detail: String| Error::Damaged {
        id: id.to_owned(),
        detail,
    };
    let header = Header::parse(prefix).map_err(|e| damaged(format!("its age header: {e}")))?;
    let fk = keys
        .unwrap(&header.stanzas, hint)
        .map_err(|e| crate::unlock::in_context(e, id))?
        .ok_or_else(|| Error::NoMatchingIdentity {
            id: id.to_owned(),
            labels: describe(hint).join(", "),
        })?;
    if !header.verify_mac(&fk) {
        return Err(damaged(
            "a key opened its stanza but the header MAC does not verify: the header was changed"
                .into(),
        ));
    }
    let mut stanzas = Vec::new();
    for r in recipients {
        let (s, _) = r.wrap_file_key(&fk).map_err(|e| Error::InvalidRecipient {
            input: "configured recipients".into(),
            reason: e.to_string(),
        })?;
        stanzas.extend(s);
    }
    let used = keys.opened_with();
    Ok((Header::encode(&stanzas, &fk), used))
}

impl Step<'_> {
    fn backup(
        &self,
        b: &BackupInfo,
        journal: Option<&mut JournalWriter<RewrapRecord>>,
        progress: Option<impl Fn(u64)>,
    ) -> Result<ItemReport> {
        let storage = self.repo.storage();
        let mut sc = b.sidecar.clone();
        let mut report = self.report("backup", &sc.id, &sc.class, &sc.recipients);
        let put = |s: &Sidecar| {
            put_sidecar(storage.as_ref(), &b.sidecar_key, s)?;
            self.repo.relock(&b.sidecar_key, &s.class, s.created)
        };
        let current = || Ok(b.verify_ciphertext()?.ciphertext_sha256);
        let mut journal = journal;
        if !self.settle(&mut sc, &mut report, journal.as_deref_mut(), current, put)? {
            return Ok(report);
        }
        let data = ProgressReader::new(b.open_data()?, 0, progress);
        let mut old = HashingReader::new(BufReader::with_capacity(1 << 20, data));
        let prefix = read_prefix(&mut old).map_err(|e| Error::Damaged {
            id: sc.id.clone(),
            detail: e.to_string(),
        })?;
        let (header, opened_with) =
            new_header(&sc.id, &prefix, self.keys, &sc.recipients, self.recipients)?;
        let ioe = |e| {
            Error::io(
                format!("rewrapping backup {} (the old file stays in place)", sc.id),
                e,
            )
        };
        let upload = storage.upload(&b.data_key)?;
        let mut new = HashingWriter::new(upload);
        new.write_all(&header).map_err(ioe)?;
        std::io::copy(&mut old, &mut new).map_err(ioe)?;
        let old_digest = old.finish();
        let (upload, new_digest) = new.finish();
        if !(old_digest.len == sc.ciphertext_bytes && old_digest.hex() == sc.ciphertext_sha256) {
            upload.abort()?;
            return Err(Error::Damaged {
                id: sc.id.clone(),
                detail: "its data file differs from what the sidecar recorded; it was not rewrapped (verify it)".into(),
            });
        }
        crash_hook("after-upload");
        let pending = PendingRewrap {
            header_sha256: crate::digest::sha256_hex(&header),
            ciphertext_bytes: new_digest.len,
            ciphertext_sha256: new_digest.hex(),
            recipients: self.target.to_vec(),
            opened_with,
        };
        sc.rewrap_pending = Some(pending.clone());
        put(&sc)?;
        crash_hook("after-intent");
        upload.commit()?;
        self.repo.relock(&b.data_key, &sc.class, sc.created)?;
        crash_hook("after-data");
        let j = journal.expect("a journal unless dry");
        finish(j, &mut sc, pending, "backup", &b.sidecar.class, put)?;
        report.action = Action::Rewrapped;
        report.bytes = new_digest.len;
        // On a bucket that keeps versions the old file would stay, still
        // open to the old recipients: it goes, unless a lock holds it.
        let held = storage.delete_noncurrent(&b.data_key)?;
        report.old_version_locked_until = held.max(storage.delete_noncurrent(&b.sidecar_key)?);
        Ok(report)
    }

    /// An item's report before anything was done: up to date.
    fn report(
        &self,
        item: &'static str,
        id: &str,
        class: &str,
        recipients: &[RecipientInfo],
    ) -> ItemReport {
        ItemReport {
            item,
            id: id.to_owned(),
            class: class.to_owned(),
            action: Action::UpToDate,
            old_recipients: describe(recipients),
            new_recipients: describe(self.target),
            bytes: 0,
            old_version_locked_until: None,
        }
    }

    /// Before a new header: finishes a pending rewrap whose new file is in
    /// place (`current` gives the data file's SHA-256) or forgets one whose
    /// old file is still there, then says whether the item still needs a
    /// new header (a dry run: never; the report says what it would do).
    fn settle<S: Rewrappable>(
        &self,
        item: &mut S,
        report: &mut ItemReport,
        journal: Option<&mut JournalWriter<RewrapRecord>>,
        current: impl FnOnce() -> Result<String>,
        put: impl Fn(&S) -> Result<()>,
    ) -> Result<bool> {
        if let Some(p) = item.fields().pending.clone() {
            if self.dry_run {
                report.action = Action::WouldRewrap;
                return Ok(false);
            }
            if current()? == p.ciphertext_sha256 {
                let j = journal.expect("a journal unless dry");
                finish(j, item, p, report.item, &report.class, put)?;
                report.action = Action::Finished;
            } else {
                *item.fields().pending = None;
            }
        }
        let recipients = &*item.fields().recipients;
        if recipients == self.target {
            return Ok(false);
        }
        report.old_recipients = describe(recipients);
        if self.dry_run {
            report.action = Action::WouldRewrap;
            return Ok(false);
        }
        Ok(true)
    }

    /// An escrow or key item: small enough to rewrap in memory.
    fn small<S: SmallItem>(
        &self,
        e: &S,
        journal: Option<&mut JournalWriter<RewrapRecord>>,
    ) -> Result<ItemReport> {
        let mut item = e.clone();
        let what = e.what();
        let (kind, id, class) = e.names();
        let mut report = self.report(kind, &id, &class, e.recipients());
        let read = || -> Result<Vec<u8>> {
            e.blob()?.ok_or_else(|| Error::DataMissing {
                id: what.clone(),
                path: e.path().into(),
            })
        };
        let current = || Ok(crate::digest::sha256_hex(&read()?));
        let mut journal = journal;
        let put = |i: &S| i.put_sidecar();
        if !self.settle(&mut item, &mut report, journal.as_deref_mut(), current, put)? {
            return Ok(report);
        }
        let blob = read()?;
        if crate::digest::sha256_hex(&blob) != *item.fields().ciphertext_sha256 {
            return Err(Error::Damaged {
                id: what,
                detail: "the file differs from what its sidecar recorded; it was not rewrapped"
                    .into(),
            });
        }
        let hint = item.recipients().to_vec();
        let (new, pending) = rewrap_blob(self, &what, &blob, &hint)?;
        crash_hook("after-upload");
        *item.fields().pending = Some(pending.clone());
        put(&item)?;
        crash_hook("after-intent");
        item.put_blob(&new)?;
        crash_hook("after-data");
        let j = journal.expect("a journal unless dry");
        finish(j, &mut item, pending, kind, &class, put)?;
        report.action = Action::Rewrapped;
        report.bytes = new.len() as u64;
        Ok(report)
    }
}

/// An escrow item or a period key item: its sidecar and small age file.
trait SmallItem: Rewrappable + Clone {
    /// `escrow …` or `period key …`, for errors.
    fn what(&self) -> String;
    /// The report's item kind, id and class (or escrow name).
    fn names(&self) -> (&'static str, String, String);
    fn recipients(&self) -> &[RecipientInfo];
    fn path(&self) -> &std::path::Path;
    fn blob(&self) -> Result<Option<Vec<u8>>>;
    fn put_blob(&self, blob: &[u8]) -> Result<()>;
    fn put_sidecar(&self) -> Result<()>;
}

impl SmallItem for EscrowItem {
    fn what(&self) -> String {
        format!("escrow {}/{}", self.name, self.id)
    }
    fn names(&self) -> (&'static str, String, String) {
        ("escrow", self.id.clone(), self.name.clone())
    }
    fn recipients(&self) -> &[RecipientInfo] {
        &self.recipients
    }
    fn path(&self) -> &std::path::Path {
        &self.path
    }
    fn blob(&self) -> Result<Option<Vec<u8>>> {
        self.read_blob()
    }
    fn put_blob(&self, blob: &[u8]) -> Result<()> {
        self.write_blob(blob)
    }
    fn put_sidecar(&self) -> Result<()> {
        self.write_sidecar()
    }
}

impl SmallItem for StoredKeyItem {
    fn what(&self) -> String {
        format!("period key {} in {}", self.place(), self.location)
    }
    fn names(&self) -> (&'static str, String, String) {
        (
            "period-key",
            format!("{}/{}", self.item.period, self.item.key_id),
            self.item.class.clone(),
        )
    }
    fn recipients(&self) -> &[RecipientInfo] {
        &self.item.recipients
    }
    fn path(&self) -> &std::path::Path {
        &self.path
    }
    fn blob(&self) -> Result<Option<Vec<u8>>> {
        self.read_blob()
    }
    fn put_blob(&self, blob: &[u8]) -> Result<()> {
        self.write_blob(blob)
    }
    fn put_sidecar(&self) -> Result<()> {
        self.write_sidecar()
    }
}

impl Rewrappable for StoredKeyItem {
    fn fields(&mut self) -> Fields<'_> {
        Fields {
            id: &self.item.key_id,
            recipients: &mut self.item.recipients,
            ciphertext_sha256: &mut self.item.ciphertext_sha256,
            ciphertext_bytes: None,
            pending: &mut self.item.rewrap_pending,
        }
    }
}

/// Steps 4 and 5: journal the rewrap (unless the journal already has it)
/// and write the sidecar for the new file.
fn finish<S: Rewrappable>(
    journal: &mut JournalWriter<RewrapRecord>,
    sc: &mut S,
    p: PendingRewrap,
    item: &str,
    class: &str,
    put: impl Fn(&S) -> Result<()>,
) -> Result<()> {
    let f = sc.fields();
    let id = f.id.to_owned();
    let done = journal
        .state
        .records
        .iter()
        .any(|r| r.id == id && r.new_ciphertext_sha256 == p.ciphertext_sha256);
    if !done {
        journal.append(RewrapRecord {
            at: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .expect("0 is a valid nanosecond"),
            item: item.into(),
            id,
            class: class.into(),
            old_recipients: describe(f.recipients),
            new_recipients: describe(&p.recipients),
            old_ciphertext_sha256: f.ciphertext_sha256.clone(),
            new_ciphertext_sha256: p.ciphertext_sha256.clone(),
            opened_with: p.opened_with.clone(),
            host: crate::host_name(),
            tool: crate::tool_version(),
        })?;
    }
    crash_hook("after-journal");
    let f = sc.fields();
    *f.recipients = p.recipients;
    *f.ciphertext_sha256 = p.ciphertext_sha256;
    if let Some(b) = f.ciphertext_bytes {
        *b = p.ciphertext_bytes;
    }
    *f.pending = None;
    put(sc)?;
    crash_hook("after-sidecar");
    Ok(())
}

/// A sidecar a rewrap updates: a backup's or an escrow item's.
pub(crate) trait Rewrappable {
    /// The fields a rewrap reads and changes.
    fn fields(&mut self) -> Fields<'_>;
}

/// What a rewrap changes in a sidecar.
pub(crate) struct Fields<'f> {
    id: &'f str,
    recipients: &'f mut Vec<RecipientInfo>,
    ciphertext_sha256: &'f mut String,
    /// An escrow item records no length.
    ciphertext_bytes: Option<&'f mut u64>,
    pending: &'f mut Option<PendingRewrap>,
}

impl Rewrappable for Sidecar {
    fn fields(&mut self) -> Fields<'_> {
        Fields {
            id: &self.id,
            recipients: &mut self.recipients,
            ciphertext_sha256: &mut self.ciphertext_sha256,
            ciphertext_bytes: Some(&mut self.ciphertext_bytes),
            pending: &mut self.rewrap_pending,
        }
    }
}

impl Rewrappable for EscrowItem {
    fn fields(&mut self) -> Fields<'_> {
        Fields {
            id: &self.id,
            recipients: &mut self.recipients,
            ciphertext_sha256: &mut self.ciphertext_sha256,
            ciphertext_bytes: None,
            pending: &mut self.rewrap_pending,
        }
    }
}

fn put_sidecar(
    storage: &dyn crate::storage::Storage,
    key: &crate::storage::ObjectKey,
    sc: &Sidecar,
) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(sc).expect("sidecar serializes");
    json.push(b'\n');
    storage.put(key, &json)
}

/// The escrow item's file `blob` with a new header, and its pending record.
fn rewrap_blob(
    step: &Step<'_>,
    what: &str,
    blob: &[u8],
    hint: &[RecipientInfo],
) -> Result<(Vec<u8>, PendingRewrap)> {
    let mut rest = blob;
    let prefix = read_prefix(&mut rest).map_err(|e| Error::Damaged {
        id: what.to_owned(),
        detail: e.to_string(),
    })?;
    let (header, opened_with) = new_header(what, &prefix, step.keys, hint, step.recipients)?;
    let mut out = header.clone();
    out.extend_from_slice(rest);
    let pending = PendingRewrap {
        header_sha256: crate::digest::sha256_hex(&header),
        ciphertext_bytes: out.len() as u64,
        ciphertext_sha256: crate::digest::sha256_hex(&out),
        recipients: step.target.to_vec(),
        opened_with,
    };
    Ok((out, pending))
}

/// Reads the rewrap journal (for the compliance report and audits).
pub fn journal(repo: &Repository) -> Result<crate::journal::JournalState<RewrapRecord>> {
    crate::journal::read(repo.storage().as_ref(), JOURNAL)
}
