//! The examples every `--help` ends with, the top-level help's nightly
//! workflow, and the exit codes and environment the man pages list.

use clap::Command;

/// The nightly workflow, in four lines (top-level `--help`).
const WORKFLOW: &str = "\
The night's work, in four lines:
  nkbackup init --repo /srv/backups && nkbackup card enroll --repo /srv/backups --label alice-nk3
  nkbackup recovery-key new --repo /srv/backups --sheet sheet.html    # print it, lock it away
  # describe [jobs] in /srv/backups/nkbackup.toml (docs/JOBS.md), then every night:
  nkbackup run --repo /srv/backups --metrics-file /var/lib/prometheus/node-exporter/nkbackup.prom";

/// Exit codes and environment (top-level long help and `man nkbackup`).
const REFERENCE: &str = "\
Exit status:
  0  success
  1  error: configuration, I/O, missing repository, unreadable source
  2  usage error
  3  a backup, sidecar, journal or key item is damaged or refused
  4  no usable key (wrong key, PIN, absent token), or the backup was crypto-erased
  5  the repository is locked by another nkbackup
  6  retention: a promise is broken (overdue backups, a verify violation)
  7  retention: problems a person must look at
  8  drill status: a class or token not drilled within the interval
  9  run: a job failed (nothing was committed for it)

Environment:
  NKBACKUP_REPO         the repository when --repo is not given
  NKBACKUP_S3_CONFIG    S3 settings file (--s3-config)
  NKBACKUP_CACHE_DIR    where a bucket's sidecars are cached (--cache-dir)
  AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                        S3 endpoint and credentials
  NKBACKUP_PIN, NKBACKUP_ADMIN_PIN
                        card PINs for unattended use (else pinentry or the terminal)
  NKBACKUP_NOW          the time retention evaluates at (tests, what-if)

Documentation: docs/CLI.md, docs/CONFIG.md, docs/JOBS.md, docs/RETENTION.md, docs/RECOVERY.md";

/// Examples by subcommand path.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "init",
        "nkbackup init --repo /srv/backups\nnkbackup init --repo s3://backups/chat --s3-config /etc/nkbackup/s3.toml",
    ),
    (
        "recipient",
        "nkbackup recipient list --repo /srv/backups\nnkbackup recipient add --repo /srv/backups age1... --label offsite-1",
    ),
    (
        "recipient add",
        "nkbackup recipient add --repo /srv/backups age1... --label offsite-1\nnkbackup recipient add --repo /srv/backups age1... --label bob --group officers\nnkbackup recipient add --repo /srv/backups age1... --label new-key --rewrap --card",
    ),
    (
        "recipient list",
        "nkbackup recipient list --repo /srv/backups\nnkbackup recipient list --repo /srv/backups --json",
    ),
    (
        "recipient remove",
        "nkbackup recipient remove --repo /srv/backups offsite-1",
    ),
    (
        "recipient revoke",
        "nkbackup recipient revoke --repo /srv/backups lost-nk3 --card\nnkbackup recipient revoke --repo /srv/backups lost-nk3 --recovery-key-file key.txt",
    ),
    (
        "card",
        "nkbackup card list\nnkbackup card enroll --repo /srv/backups --label alice-nk3",
    ),
    ("card list", "nkbackup card list\nnkbackup card list --json"),
    (
        "card enroll",
        "nkbackup card enroll --repo /srv/backups --label alice-nk3\nnkbackup card enroll --repo /srv/backups --ident 000F:1234ABCD --label bob-nk3 --group officers",
    ),
    (
        "card generate",
        "nkbackup card generate --ident 000F:1234ABCD --algo cv25519 --yes",
    ),
    (
        "recovery-key",
        "nkbackup recovery-key new --repo /srv/backups --sheet sheet.html\nnkbackup recovery-key check --repo /srv/backups",
    ),
    (
        "recovery-key new",
        "nkbackup recovery-key new --repo /srv/backups --sheet sheet.html\nnkbackup recovery-key new --repo /srv/backups --passphrase",
    ),
    (
        "recovery-key check",
        "nkbackup recovery-key check --repo /srv/backups\nnkbackup recovery-key check --repo /srv/backups --recovery-key-file key.txt",
    ),
    (
        "recovery-key export-age",
        "nkbackup recovery-key export-age --repo /srv/backups > key.txt   # for stock age; shred it after",
    ),
    (
        "recovery-key split",
        "nkbackup recovery-key split --repo /srv/backups --threshold 3 --shares 5 --recovery-key-file key.txt",
    ),
    (
        "recovery-key combine",
        "nkbackup recovery-key combine --repo /srv/backups --share-file s1 --share-file s2 --share-file s3",
    ),
    (
        "drill",
        "nkbackup drill --repo /srv/backups --class archive --card\nnkbackup drill --repo /srv/backups --backup latest --card --restore-to /tmp/drill\nnkbackup drill status --repo /srv/backups",
    ),
    (
        "drill status",
        "nkbackup drill status --repo /srv/backups\nnkbackup drill status --repo /srv/backups --json",
    ),
    (
        "rewrap",
        "nkbackup rewrap --repo /srv/backups --dry-run\nnkbackup rewrap --repo /srv/backups --card\nnkbackup rewrap --repo /srv/backups --class db --recovery-key-file key.txt",
    ),
    (
        "run",
        "nkbackup run --repo /srv/backups\nnkbackup run --repo /srv/backups --dry-run\nnkbackup run --repo /srv/backups chat --metrics-file /var/lib/prometheus/node-exporter/nkbackup.prom",
    ),
    (
        "erase",
        "nkbackup erase --repo /srv/backups --class chat --period 20261126T000000Z-7d\nnkbackup erase --repo /srv/backups --class chat --before 2026-11-01 --yes",
    ),
    (
        "copy",
        "nkbackup copy --repo /srv/backups --to /mnt/offsite/nkbackup\nnkbackup copy --repo /srv/backups --to s3://offsite/nkbackup --class archive",
    ),
    ("keyring", "nkbackup keyring list --repo /srv/backups"),
    (
        "keyring list",
        "nkbackup keyring list --repo /srv/backups\nnkbackup keyring list --repo /srv/backups --class chat --json",
    ),
    (
        "group",
        "nkbackup group add --repo /srv/backups officers --threshold 2\nnkbackup group list --repo /srv/backups",
    ),
    (
        "group add",
        "nkbackup group add --repo /srv/backups officers --threshold 2\nnkbackup card enroll --repo /srv/backups --label alice-nk3 --group officers",
    ),
    ("group list", "nkbackup group list --repo /srv/backups"),
    (
        "group remove",
        "nkbackup group remove --repo /srv/backups officers",
    ),
    (
        "escrow",
        "nkbackup escrow seal --repo /srv/backups --name synapse-signing-key < signing.key\nnkbackup escrow list --repo /srv/backups",
    ),
    (
        "escrow seal",
        "nkbackup escrow seal --repo /srv/backups --name synapse-signing-key < /etc/matrix-synapse/signing.key",
    ),
    (
        "escrow open",
        "nkbackup escrow open --repo /srv/backups --name synapse-signing-key --card --out signing.key",
    ),
    ("escrow list", "nkbackup escrow list --repo /srv/backups"),
    (
        "seal",
        "nkbackup seal --repo /srv/backups --class archive /var/lib/prosody /var/lib/matrix-media\npg_dump chat | nkbackup seal --repo /srv/backups --class db --stdin-name chat.sql\nnkbackup seal --repo /srv/backups --class archive /srv/app --exclude '*.tmp' --exclude-caches --one-file-system",
    ),
    (
        "list",
        "nkbackup list --repo /srv/backups\nnkbackup list --repo /srv/backups --class db --json",
    ),
    (
        "ls",
        "nkbackup ls --repo /srv/backups latest --card\nnkbackup ls --repo /srv/backups 20261201T023000Z var/mail/alice -i key.txt --json",
    ),
    (
        "find",
        "nkbackup find --repo /srv/backups 'alice.mbox' --card\nnkbackup find --repo /srv/backups 'var/mail/**' --class archive -i key.txt --json",
    ),
    (
        "verify",
        "nkbackup verify --repo /srv/backups latest\nnkbackup verify --repo /srv/backups latest --deep --card",
    ),
    (
        "retention",
        "nkbackup retention check --repo /srv/backups --summary\nnkbackup retention verify --repo /srv/backups --report audit.html",
    ),
    (
        "retention check",
        "nkbackup retention check --repo /srv/backups\nnkbackup retention check --repo /srv/backups --summary --at 2027-01-01",
    ),
    (
        "retention verify",
        "nkbackup retention verify --repo /srv/backups --report audit.html\nnkbackup retention verify --repo /srv/backups --since 2026-11-01 --digests --json\nnkbackup retention verify --repo /srv/backups --expect-head deletions=42:HEAD_FROM_THE_LAST_REPORT",
    ),
    (
        "prune",
        "nkbackup prune --repo /srv/backups --dry-run\nnkbackup prune --repo /srv/backups && nkbackup retention verify --repo /srv/backups\nnkbackup prune --repo /srv/backups --ahead 2h    # from an hourly timer, for a 12-hour class",
    ),
    (
        "restore",
        "nkbackup restore --repo /srv/backups latest --to /tmp/r --card\nnkbackup restore --repo /srv/backups 20261201T023000Z --to /tmp/r -i key.txt --path logs/x.log",
    ),
    (
        "completions",
        "nkbackup completions bash > /usr/share/bash-completion/completions/nkbackup\nnkbackup completions zsh > /usr/share/zsh/vendor-completions/_nkbackup\nnkbackup completions fish > /usr/share/fish/vendor_completions.d/nkbackup.fish",
    ),
];

/// The examples of the subcommand at `path` (`"recipient add"`).
pub fn examples(path: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// `cmd` with the workflow, the reference and every subcommand's examples.
pub fn decorate(cmd: Command) -> Command {
    fn walk(cmd: Command, path: &str) -> Command {
        let mut cmd = cmd;
        if !path.is_empty()
            && let Some(e) = examples(path)
        {
            let text: String = e.lines().map(|l| format!("  {l}\n")).collect();
            let examples = format!("Examples:\n{}", text.trim_end());
            cmd = cmd.after_long_help(format!(
                "{examples}\n\nExit status and environment: see `nkbackup --help` or nkbackup(1); docs/CLI.md"
            ));
            cmd = cmd.after_help(examples);
        }
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        for n in names {
            let sub = if path.is_empty() {
                n.clone()
            } else {
                format!("{path} {n}")
            };
            cmd = cmd.mut_subcommand(&n, |c| walk(c, &sub));
        }
        cmd
    }
    walk(cmd, "")
        .after_help(WORKFLOW)
        .after_long_help(format!("{WORKFLOW}\n\n{REFERENCE}"))
}
