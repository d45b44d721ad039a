//! The `nkbackup` command: a thin layer over the library.
//!
//! Exit codes (documented in docs/CLI.md):
//! 0 success · 1 error · 2 usage error · 3 a backup is damaged or unsafe ·
//! 4 no usable key for a backup · 5 repository locked by another process ·
//! 6 a retention promise is broken · 7 retention problems need a person.

mod card;
mod catalog;
mod drill;
mod erasure;
mod escrow;
mod examples;
mod keys;
mod output;
mod pins;
mod progress;
mod recovery;
mod retention;
mod rewrap;
mod run;
mod secrets;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use keys::KeyArgs;
use nkbackup::config::RecipientConfig;
use nkbackup::storage::S3Settings;
use nkbackup::{ErrorKind, Repository, RestoreOptions, Sealer};
use output::{human_bytes, print_json};
use std::path::PathBuf;
use std::process::ExitCode;

/// Encrypted backups that open only with an OpenPGP smartcard or an offline
/// recovery key.
#[derive(Parser)]
#[command(name = "nkbackup", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// S3 endpoint, region and credentials for s3:// repositories (TOML;
    /// see docs/STORAGE.md). Default: the AWS_* environment variables.
    #[arg(long, global = true, env = "NKBACKUP_S3_CONFIG", value_name = "FILE")]
    s3_config: Option<PathBuf>,
    /// Where a bucket repository's sidecars are cached, so that listing
    /// it fetches only new ones (docs/STORAGE.md, "Sidecar cache").
    /// Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup.
    #[arg(long, global = true, env = "NKBACKUP_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Fetch every sidecar from the bucket; neither read nor write the
    /// sidecar cache.
    #[arg(long, global = true)]
    no_cache: bool,
}

/// What every command may need besides its own arguments: the global
/// options, passed down explicitly (no global state).
pub struct Ctx {
    /// `--s3-config`.
    s3_config: Option<PathBuf>,
    /// The sidecar cache's directory, `None` with `--no-cache` or without
    /// a home.
    cache_dir: Option<PathBuf>,
}

impl Ctx {
    /// The S3 settings from `--s3-config` and the environment.
    pub fn s3_settings(&self) -> Result<S3Settings> {
        Ok(match &self.s3_config {
            Some(p) => S3Settings::from_file(p)?,
            None => S3Settings::from_env(),
        })
    }

    /// Opens the repository named by `--repo` / `NKBACKUP_REPO`.
    pub fn open(&self, repo: &RepoArg) -> Result<Repository> {
        let r = Repository::open_url(&repo.repo, &self.s3_settings()?)?;
        Ok(match &self.cache_dir {
            Some(dir) => r.with_sidecar_cache(dir),
            None => r,
        })
    }
}

/// What a seal leaves out.
#[derive(Args)]
#[command(next_help_heading = "Exclusions")]
pub struct ExcludeArgs {
    /// Leave out what PATTERN matches (gitignore syntax against absolute
    /// paths: '*.tmp', '/var/lib/app/cache', 'tmp/'); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Read exclude patterns from FILE, one per line; repeatable.
    #[arg(long, value_name = "FILE")]
    pub exclude_from: Vec<PathBuf>,
    /// Do not descend into other file systems (mount points are stored
    /// empty).
    #[arg(long)]
    pub one_file_system: bool,
    /// Leave out the content of directories holding a CACHEDIR.TAG.
    #[arg(long)]
    pub exclude_caches: bool,
}

impl ExcludeArgs {
    /// Applies the options to a seal.
    pub fn apply<'a>(&self, s: Sealer<'a>) -> Result<Sealer<'a>> {
        let mut patterns = self.exclude.clone();
        for f in &self.exclude_from {
            patterns.extend(nkbackup::archive::Exclusions::read_patterns(f)?);
        }
        Ok(s.excludes(&patterns)
            .one_file_system(self.one_file_system)
            .exclude_caches(self.exclude_caches))
    }
}

#[derive(Args)]
pub struct RepoArg {
    /// The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md).
    #[arg(long, env = "NKBACKUP_REPO", value_name = "DIR|s3://BUCKET/PREFIX")]
    pub repo: String,
}

/// `--object-lock`'s values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LockModeArg {
    /// Nobody can delete a backup or shorten its lock before its deadline.
    Compliance,
    /// Only a principal with s3:BypassGovernanceRetention can.
    Governance,
}

impl LockModeArg {
    fn mode(self) -> nkbackup::config::LockMode {
        match self {
            LockModeArg::Compliance => nkbackup::config::LockMode::Compliance,
            LockModeArg::Governance => nkbackup::config::LockMode::Governance,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a repository and its nkbackup.toml.
    Init {
        #[command(flatten)]
        repo: RepoArg,
        /// Bucket repositories: lock every backup in the bucket until its
        /// deadline with S3 Object Lock in this mode (the bucket must have
        /// been created with Object Lock; docs/STORAGE.md, "Object Lock").
        #[arg(long, value_name = "MODE")]
        object_lock: Option<LockModeArg>,
    },
    /// Manage the public keys backups are sealed to.
    #[command(subcommand)]
    Recipient(RecipientCmd),
    /// OpenPGP smartcards: list, enroll, generate.
    #[command(subcommand)]
    Card(card::CardCmd),
    /// The offline recovery key: make, check, export, split, combine.
    #[command(subcommand, name = "recovery-key")]
    RecoveryKey(recovery::RecoveryCmd),
    /// Run a restore drill with one token (or `drill status`).
    Drill(drill::DrillCmd),
    /// Give existing backups a new header for the current recipients and
    /// groups (the payload is kept): after a token was added, revoked or
    /// a group changed.
    Rewrap(rewrap::RewrapArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (one per command) into DIR.
    #[command(hide = true)]
    Manpages {
        /// Where to write them.
        dir: PathBuf,
    },
    /// The night's work: every due job of [jobs], then prune, the
    /// retention check and the drill status; one summary, one exit code.
    Run(run::RunArgs),
    /// Crypto-erase periods now: delete their period keys from every
    /// keyring location (after saying which backups become unreadable).
    Erase(erasure::EraseArgs),
    /// Replicate backups (no keys) to another directory or bucket.
    Copy(erasure::CopyArgs),
    /// The period keys of classes with erasure_period.
    #[command(subcommand)]
    Keyring(erasure::KeyringCmd),
    /// k-of-n token groups: add, list, remove.
    #[command(subcommand)]
    Group(rewrap::GroupCmd),
    /// Escrow a service's own small secrets to the same recipients.
    #[command(subcommand)]
    Escrow(escrow::EscrowCmd),
    /// Seal paths (and/or standard input) into one encrypted backup.
    Seal {
        #[command(flatten)]
        repo: RepoArg,
        /// Retention class (a [classes.NAME] table of nkbackup.toml).
        #[arg(long)]
        class: String,
        /// Read a stream from standard input and store it as NAME.
        #[arg(long, value_name = "NAME")]
        stdin_name: Option<String>,
        /// Record unreadable files as skipped instead of failing.
        #[arg(long)]
        skip_unreadable: bool,
        /// Fail, committing nothing, if files are older than the class's
        /// source_max_age (default: warn).
        #[arg(long)]
        strict: bool,
        /// Seconds to wait for another writer's lock.
        #[arg(long, default_value_t = 3600, value_name = "SECS")]
        lock_wait: u64,
        #[command(flatten)]
        exclude: ExcludeArgs,
        #[command(flatten)]
        progress: progress::ProgressArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Files and directories to seal; each is stored under its name.
        paths: Vec<PathBuf>,
    },
    /// List backups.
    List {
        #[command(flatten)]
        repo: RepoArg,
        /// Only this class.
        #[arg(long)]
        class: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the entries of a backup (path, type, size, mode, mtime,
    /// digest) from its authenticated inner manifest; needs a key.
    Ls(catalog::LsArgs),
    /// Find which backups hold paths matching a glob; needs a key (one
    /// card operation per backup). Exit 1: none holds one.
    Find(catalog::FindArgs),
    /// Check a backup: without a key, its file against the sidecar; with
    /// --deep, every entry against the authenticated inner manifest.
    Verify {
        #[command(flatten)]
        repo: RepoArg,
        /// Backup id, unique prefix, or `latest`.
        id: String,
        /// Decrypt and check every entry (needs a key).
        #[arg(long)]
        deep: bool,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        progress: progress::ProgressArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retention: deadlines, states, proof of deletion.
    #[command(subcommand)]
    Retention(retention::RetentionCmd),
    /// Delete overdue and surplus backups and leftovers, journaling each.
    Prune(retention::PruneArgs),
    /// Restore a backup into a directory.
    Restore {
        #[command(flatten)]
        repo: RepoArg,
        /// Backup id, unique prefix, or `latest`.
        id: String,
        /// Target directory: new or empty (see --force).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Only restore this path (and what is below it), e.g. logs/x.log.
        #[arg(long)]
        path: Option<String>,
        /// Restore into a non-empty directory; files from the backup replace
        /// files at the same paths, other files stay.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        progress: progress::ProgressArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RecipientCmd {
    /// Add a software or offsite age key (age1...).
    Add {
        #[command(flatten)]
        repo: RepoArg,
        /// The public key.
        key: String,
        /// A label for messages and sidecars (default: the key abbreviated).
        #[arg(long)]
        label: Option<String>,
        /// Add it as a member of this k-of-n group (`nkbackup group add`).
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Then rewrap the existing backups so that it opens them too
        /// (needs a key that opens them now: --card, -i, --recovery-key…).
        #[arg(long)]
        rewrap: bool,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// List recipients.
    List {
        #[command(flatten)]
        repo: RepoArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a recipient by label. Existing backups stay sealed to it
    /// (use `revoke` for a lost or stolen token).
    Remove {
        #[command(flatten)]
        repo: RepoArg,
        /// The label.
        label: String,
    },
    /// Revoke a recipient (a lost or stolen token): remove it and rewrap
    /// every backup and escrow item so that its key opens none of them.
    Revoke {
        #[command(flatten)]
        repo: RepoArg,
        /// The label.
        label: String,
        /// Print the rewrap's result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// `nkbackup manpages DIR`: `nkbackup.1` and `nkbackup-<command>[-<sub>].1`
/// for every visible command.
fn write_manpages(dir: &std::path::Path) -> Result<()> {
    fn walk(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> Result<()> {
        let page = cmd
            .clone()
            .name(name.to_owned())
            .bin_name(name.replace('-', " "));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        std::fs::write(dir.join(format!("{name}.1")), out)?;
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            walk(sub, &format!("{name}-{}", sub.get_name()), dir)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = examples::decorate(Cli::command());
    cmd.build();
    walk(&cmd, "nkbackup", dir)
}

fn main() -> ExitCode {
    // Buffers of 1 MiB and more (upload parts, zstd jobs) are mapped and
    // unmapped, never kept in malloc's arenas: otherwise glibc raises its
    // mmap threshold after the first free and the arenas of the I/O
    // threads grow with the size of the backup (docs/STORAGE.md, "Memory").
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
    let cli = match examples::decorate(Cli::command())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let cache_dir = match (cli.no_cache, &cli.cache_dir) {
        (true, _) => None,
        (false, Some(d)) => Some(d.clone()),
        (false, None) => std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })
            .map(|d| d.join("nkbackup")),
    };
    let cx = Ctx {
        s3_config: cli.s3_config.clone(),
        cache_dir,
    };
    let code = match run(cli, &cx) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nkbackup: {}", output::safe(&message(&e)));
            ExitCode::from(exit_code(&e))
        }
    };
    report_peak_memory();
    code
}

/// Test hook (builds with the `test-hooks` feature only): with
/// `NKBACKUP_TEST_PEAK_RSS` set, says the process's peak resident memory
/// (`VmHWM`) on standard error, for the memory-bound tests (tests/limits.rs).
/// A parent's `wait4` cannot tell it: a child spawned with vfork inherits
/// the parent's peak.
fn report_peak_memory() {
    #[cfg(feature = "test-hooks")]
    if std::env::var_os("NKBACKUP_TEST_PEAK_RSS").is_some()
        && let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        eprintln!("nkbackup-test: {line}");
    }
}

/// The error and its causes, each said once (library errors already end
/// with their cause's text, `writing X: No space left on device`, so a
/// cause whose text is already in the message is not repeated), then the
/// library's hint of what to do, worded as a command ([`output::hint`]).
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    let hint = e.chain().find_map(|c| {
        c.downcast_ref::<nkbackup::Error>()
            .and_then(nkbackup::Error::hint)
    });
    if let Some(h) = hint {
        msg.push_str("; ");
        msg.push_str(output::hint(h));
    }
    msg
}

/// The documented exit code for an error (docs/CLI.md).
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<nkbackup::Error>() {
            return match err.kind() {
                ErrorKind::Integrity => 3,
                ErrorKind::Key => 4,
                ErrorKind::Locked => 5,
                _ => 1,
            };
        }
    }
    1
}

fn run(cli: Cli, cx: &Ctx) -> Result<ExitCode> {
    match cli.command {
        Command::Retention(cmd) => return retention::run(cmd, cx),
        Command::Prune(args) => return retention::prune(args, cx),
        Command::Ls(args) => return catalog::ls(args, cx),
        Command::Find(args) => return catalog::find(args, cx),
        Command::Drill(cmd) => return drill::run(cmd, cx),
        Command::RecoveryKey(cmd) => recovery::run(cmd, cx)?,
        Command::Escrow(cmd) => escrow::run(cmd, cx)?,
        Command::Init { repo, object_lock } => {
            let r = Repository::init_url_with(
                &repo.repo,
                &cx.s3_settings()?,
                object_lock.map(LockModeArg::mode),
            )?;
            println!(
                "created repository {} (id {})\nnext: nkbackup recipient add --repo {} age1...",
                r.location(),
                r.config().repository.id,
                r.location()
            );
            if let Some(m) = r.object_lock() {
                println!(
                    "every backup is locked in the bucket ({m} mode) until its deadline: give each class max_age and a deletion_tolerance of at least your prune interval"
                );
            }
            let open: Vec<&str> = r
                .policy()
                .classes
                .values()
                .filter(|c| c.keeps_forever())
                .map(|c| c.class.as_str())
                .collect();
            if !open.is_empty() {
                println!(
                    "then: give classes {} a deadline (max_age in {}; the lines are there, commented): until then they keep backups forever, and `retention check` and `retention verify` say so",
                    open.join(", "),
                    r.storage().describe(&nkbackup::repo::config_key())
                );
            }
        }
        Command::Recipient(RecipientCmd::Add {
            repo,
            key,
            label,
            group,
            rewrap,
            keys,
        }) => {
            if !rewrap && !keys.is_empty() {
                anyhow::bail!(
                    "keys were given without --rewrap: nothing was added; add --rewrap to give the new recipient the existing backups"
                );
            }
            let mut r = cx.open(&repo)?;
            let label = label.unwrap_or_else(|| nkbackup::recipient::default_label(&key));
            r.add_recipient(RecipientConfig {
                label: label.clone(),
                kind: "age".into(),
                key: key.trim().to_owned(),
                group,
                ..Default::default()
            })?;
            println!(
                "added recipient {label}; backups sealed from now on can be opened with its key"
            );
            if rewrap {
                rewrap::rewrap_after_add(&r, &keys, false)?;
            }
        }
        Command::Recipient(RecipientCmd::Revoke {
            repo,
            label,
            json,
            keys,
        }) => rewrap::revoke(&repo, &label, &keys, json, cx)?,
        Command::Rewrap(args) => rewrap::run(args, cx)?,
        Command::Erase(args) => return erasure::erase(args, cx),
        Command::Run(args) => return run::run(args, cx),
        Command::Completions { shell } => {
            let mut cmd = examples::decorate(Cli::command());
            clap_complete::generate(shell, &mut cmd, "nkbackup", &mut std::io::stdout());
        }
        Command::Manpages { dir } => write_manpages(&dir)?,
        Command::Copy(args) => return erasure::copy(args, cx),
        Command::Keyring(cmd) => return erasure::keyring(cmd, cx),
        Command::Group(cmd) => rewrap::group(cmd, cx)?,
        Command::Card(cmd) => card::run(cmd, cx)?,
        Command::Recipient(RecipientCmd::List { repo, json }) => {
            let r = cx.open(&repo)?;
            if json {
                print_json(&r.config().recipients)?;
            } else if r.config().recipients.is_empty() {
                println!("no recipients configured");
            } else {
                for x in &r.config().recipients {
                    println!("{:<24} {:<6} {}", x.label, x.kind, x.key);
                }
            }
        }
        Command::Recipient(RecipientCmd::Remove { repo, label }) => {
            cx.open(&repo)?.remove_recipient(&label)?;
            println!("removed recipient {label}; backups already sealed to it are unchanged");
        }
        Command::Seal {
            repo,
            class,
            stdin_name,
            skip_unreadable,
            strict,
            lock_wait,
            exclude,
            progress,
            json,
            paths,
        } => {
            let r = cx.open(&repo)?;
            let bar = progress.bar(json, &format!("sealing {class}"), None);
            let mut s = exclude.apply(
                Sealer::new(&r, &class)
                    .skip_unreadable(skip_unreadable)
                    .strict(strict)
                    .lock_wait(std::time::Duration::from_secs(lock_wait)),
            )?;
            for p in paths {
                s = s.path(p);
            }
            if let Some(name) = &stdin_name {
                s = s.reader(name, std::io::stdin());
            }
            if let Some(pb) = bar.clone() {
                s = s.on_progress(move |entries, bytes| {
                    pb.set_position(bytes);
                    pb.set_prefix(format!("{entries} entries"));
                });
            }
            let rep = s.seal();
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            let rep = rep?;
            for w in &rep.warnings {
                output::warn(w);
            }
            if rep.warning_count > rep.warnings.len() as u64 {
                output::warn(format!(
                    "{} more warnings; the inner manifest lists them all",
                    rep.warning_count - rep.warnings.len() as u64
                ));
            }
            if json {
                print_json(&rep)?;
            } else {
                let sc = &rep.sidecar;
                let to = match &sc.period_key {
                    Some(k) => format!(
                        "the key of period {} (key item {}/{}/{} in the keyring)",
                        k.period, sc.class, k.period, k.key_id
                    ),
                    None => sc.labels(),
                };
                let excluded = if rep.excluded > 0 {
                    format!(" ({} excluded)", rep.excluded)
                } else {
                    String::new()
                };
                println!(
                    "sealed {} ({}): {} entries{excluded}, {} of files, {} stored, to {to}",
                    sc.id,
                    sc.class,
                    sc.entries,
                    human_bytes(sc.file_bytes),
                    human_bytes(sc.ciphertext_bytes),
                );
            }
        }
        Command::List { repo, class, json } => {
            let r = cx.open(&repo)?;
            let mut l = r.list()?;
            output::warn_cache(&l);
            if let Some(c) = &class {
                r.config().class(c)?;
                l.backups.retain(|b| &b.sidecar.class == c);
            }
            for u in &l.unreadable {
                output::warn(u.error());
            }
            for o in &l.unexpected {
                output::warn(format!(
                    "{} is {} where nkbackup keeps its files; never followed: investigate and remove it",
                    r.storage().describe(&o.key),
                    o.kind.describe()
                ));
            }
            for p in &l.incomplete {
                output::warn(format!(
                    "incomplete write {} (data without sidecar; not a backup)",
                    r.storage().describe(&p.key)
                ));
            }
            if !l.partials.is_empty() {
                let bytes: u64 = l.partials.iter().map(|p| p.size).sum();
                output::warn(format!(
                    "{} partial writes of interrupted seals ({}) are left in the repository; `nkbackup prune` removes those older than a day",
                    l.partials.len(),
                    human_bytes(bytes)
                ));
            }
            if json {
                print_json(&l)?;
            } else if l.backups.is_empty() {
                println!("no backups");
            } else {
                println!(
                    "{:<25} {:<10} {:<20} {:>8} {:>10}",
                    "ID", "CLASS", "CREATED", "ENTRIES", "SIZE"
                );
                for b in &l.backups {
                    let s = &b.sidecar;
                    println!(
                        "{:<25} {:<10} {:<20} {:>8} {:>10}",
                        s.id,
                        s.class,
                        output::rfc3339(s.created),
                        s.entries,
                        human_bytes(s.ciphertext_bytes)
                    );
                }
            }
        }
        Command::Verify {
            repo,
            id,
            deep,
            keys,
            progress,
            json,
        } => {
            let r = cx.open(&repo)?;
            let b = r.find(&id)?;
            if deep {
                let bar = progress.bar(
                    json,
                    &format!("verifying {}", b.sidecar.id),
                    Some(b.sidecar.ciphertext_bytes),
                );
                let mut o = keys::opener(&r, &b, &keys)?;
                if let Some(pb) = bar.clone() {
                    o = o.on_progress(move |n| pb.set_position(n));
                }
                let rep = o.verify_deep();
                if let Some(pb) = bar {
                    pb.finish_and_clear();
                }
                let rep = rep?;
                if json {
                    print_json(&rep)?;
                } else {
                    println!(
                        "{} OK: {} entries and {} of files match the authenticated manifest; sidecar agrees ({:.1}s)",
                        rep.id,
                        rep.entries_checked,
                        human_bytes(rep.file_bytes),
                        rep.duration.as_secs_f64()
                    );
                }
            } else {
                if !keys.is_empty() {
                    anyhow::bail!(
                        "keys are only used with --deep; add --deep to decrypt and check every entry"
                    );
                }
                let rep = r.verify_shallow(&b)?;
                if json {
                    print_json(&rep)?;
                } else {
                    println!(
                        "{} OK: {} of ciphertext match the sidecar's SHA-256 (use --deep with a key to check the content)",
                        rep.id,
                        human_bytes(rep.ciphertext_bytes)
                    );
                }
            }
        }
        Command::Restore {
            repo,
            id,
            to,
            path,
            force,
            keys,
            progress,
            json,
        } => {
            let r = cx.open(&repo)?;
            let b = r.find(&id)?;
            let bar = progress.bar(
                json,
                &format!("restoring {}", b.sidecar.id),
                Some(b.sidecar.ciphertext_bytes),
            );
            let mut o = keys::opener(&r, &b, &keys)?;
            if let Some(pb) = bar.clone() {
                o = o.on_progress(move |n| pb.set_position(n));
            }
            let res = o.restore(&to, &RestoreOptions { path, force });
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            let rep = match res {
                Ok(rep) => rep,
                // Says itself what was put in place.
                Err(e @ nkbackup::Error::CommitFailed(_)) => return Err(e.into()),
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "restore of {} into {} failed; nothing was put in place",
                        b.sidecar.id,
                        to.display()
                    )));
                }
            };
            for w in &rep.warnings {
                output::warn(w);
            }
            if json {
                print_json(&rep)?;
            } else {
                let how = match &rep.index {
                    Some(ix) => format!(
                        "; read {} of {} through the backup's index, each entry checked against the authenticated manifest",
                        human_bytes(ix.ciphertext_read),
                        human_bytes(ix.ciphertext_bytes)
                    ),
                    None => "; every entry verified".to_owned(),
                };
                println!(
                    "restored {} into {}: {} entries, {}{how}",
                    rep.id,
                    rep.target.display(),
                    rep.entries,
                    human_bytes(rep.bytes)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod message_tests {
    use super::message;
    use anyhow::Context;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::other("No space left on device");
        let e = anyhow::Error::from(nkbackup::Error::io("writing /r/x.age", io));
        assert_eq!(message(&e), "writing /r/x.age: No space left on device");
        let e = Err::<(), _>(anyhow::anyhow!("bad header"))
            .context("reading the key file")
            .unwrap_err();
        assert_eq!(message(&e), "reading the key file: bad header");
    }
}
