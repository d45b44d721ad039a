//! Making the recovery key as a library call: the policy checks, the
//! commit, and a sheet written only with a committed key.

use nkbackup::Repository;
use nkbackup::enroll::{self, RecoveryKeyOptions};
use nkbackup::render::sheet::SheetFile;
use secrecy::{ExposeSecret, SecretString};
use std::fs;

#[test]
fn the_sheet_holds_the_committed_key_and_nothing_is_left_when_the_commit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let mut repo = Repository::init(&root).unwrap();

    // The commit fails (the configuration was damaged after the repository
    // was opened): the reserved sheet is removed, no key is recorded.
    let good = fs::read_to_string(root.join("nkbackup.toml")).unwrap();
    let sheet_path = dir.path().join("sheet.html");
    let sheet = SheetFile::reserve(&sheet_path).unwrap();
    assert!(sheet_path.exists());
    fs::write(root.join("nkbackup.toml"), "[repository\n").unwrap();
    let e = enroll::recovery_key(&mut repo, &RecoveryKeyOptions::default())
        .err()
        .expect("the commit must fail");
    drop(sheet);
    assert!(e.to_string().contains("nkbackup.toml"), "{e}");
    assert!(
        !sheet_path.exists(),
        "a sheet was left for a key that does not exist"
    );
    fs::write(root.join("nkbackup.toml"), &good).unwrap();
    let mut repo = Repository::open(&root).unwrap();
    assert!(repo.config().recovery.is_none());

    // The commit succeeds: the sheet shows the key the repository records.
    let sheet = SheetFile::reserve(&sheet_path).unwrap();
    let made = enroll::recovery_key(&mut repo, &RecoveryKeyOptions::default()).unwrap();
    sheet.write(&repo, &made).unwrap();
    let html = fs::read_to_string(&sheet_path).unwrap();
    let key_id = &made.config().key_id;
    assert!(
        html.contains(key_id.as_str()),
        "sheet lacks key id {key_id}"
    );
    assert!(html.contains(made.key().to_encoded().expose_secret()));
    let reopened = Repository::open(&root).unwrap();
    assert_eq!(&reopened.config().recovery.as_ref().unwrap().key_id, key_id);
    assert!(made.replaced().is_none());

    // An existing key is kept unless replacing is asked for; the sheet
    // path must be new, checked before a key is made.
    let e = enroll::recovery_key(&mut repo, &RecoveryKeyOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains(key_id.as_str()), "{e}");
    assert!(SheetFile::reserve(&sheet_path).is_err());
    let again = enroll::recovery_key(
        &mut repo,
        &RecoveryKeyOptions {
            replace: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(again.replaced(), Some(key_id.as_str()));
}

#[test]
fn a_short_passphrase_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = Repository::init(&dir.path().join("repo")).unwrap();
    let e = enroll::recovery_key(
        &mut repo,
        &RecoveryKeyOptions {
            passphrase: Some(SecretString::from("too short")),
            replace: false,
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("shorter than 12"), "{e}");
    assert_eq!(e.hint(), Some(nkbackup::Hint::LongerPassphrase));
    assert!(repo.config().recovery.is_none());
}
