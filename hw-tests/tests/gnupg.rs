//! Living beside GnuPG (issue 24): a real scdaemon (Debian's `scdaemon`,
//! started by `gpg --card-status` in a throw-away GNUPGHOME) shares the
//! virtual card with nkbackup over the real pcscd.
//!
//! * With `pcsc-shared`, `gpg --card-status` still works right after
//!   `nkbackup card list` and `card enroll` (no PIN: nkbackup leaves the
//!   card as it was). After a restore, which presented a PIN, the card was
//!   reset on purpose, and scdaemon's next command fails once, as it does
//!   after any resetting client (the control below, which proves the check
//!   can fail).
//! * Without `pcsc-shared` (GnuPG's default) scdaemon holds the card
//!   exclusively: nkbackup says the card is busy and what frees it.

use crate::support::*;
use std::path::Path;
use std::process::Command;

/// A GNUPGHOME whose scdaemon talks to one reader through pcscd. Its
/// daemons are stopped on drop (`gpgconf --kill all`, through their
/// sockets in this home: no process is looked up by name).
pub struct Gnupg {
    pub home: tempfile::TempDir,
}

impl Gnupg {
    /// A home for `reader`; `shared`: scdaemon's `pcsc-shared`.
    pub fn new(reader: &str, shared: bool) -> Self {
        for tool in ["gpg", "gpgconf", "/usr/lib/gnupg/scdaemon"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is not installed: these tests need GnuPG's scdaemon (Debian packages gnupg and scdaemon; hw-tests/scripts/install-deps.sh installs them)"
            );
        }
        let home = tempfile::Builder::new()
            .prefix("nkb-gnupg")
            .tempdir_in("/tmp")
            .unwrap();
        let mut conf = format!("disable-ccid\nreader-port \"{reader}\"\n");
        if shared {
            conf.push_str("pcsc-shared\n");
        }
        std::fs::write(home.path().join("scdaemon.conf"), conf).unwrap();
        std::fs::write(
            home.path().join("gpg-agent.conf"),
            "allow-loopback-pinentry\n",
        )
        .unwrap();
        Gnupg { home }
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// `gpg` with this home.
    pub fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.path()).arg("--batch");
        c
    }

    /// `gpg --card-status`: `Ok(stdout)` or `Err(stderr)`.
    pub fn card_status(&self) -> Result<String, String> {
        let out = self.gpg().arg("--card-status").output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(stderr(&out))
        }
    }

    /// Asserts that `gpg --card-status` works now and shows `serial`.
    pub fn assert_card_status(&self, serial: &str, after: &str) {
        match self.card_status() {
            Ok(s) => assert!(s.contains(serial), "card status after {after}: {s}"),
            Err(e) => panic!("gpg --card-status failed right after {after}: {e}"),
        }
    }

    /// Stops this home's gpg-agent and scdaemon; the next gpg starts them
    /// afresh. (Only killing scdaemon leaves gpg-agent's pipe to the old
    /// one for a moment: the next command fails with "Broken pipe".)
    pub fn restart(&self) {
        assert!(self.gpgconf_kill("all").success());
    }

    /// Stops this home's scdaemon (it frees the card).
    pub fn kill_scdaemon(&self) {
        assert!(self.gpgconf_kill("scdaemon").success());
    }

    /// `gpgconf --kill what` in this home.
    fn gpgconf_kill(&self, what: &str) -> std::process::ExitStatus {
        Command::new("gpgconf")
            .env("GNUPGHOME", self.path())
            .args(["--kill", what])
            .status()
            .unwrap()
    }
}

impl Drop for Gnupg {
    fn drop(&mut self) {
        let _ = self.gpgconf_kill("all");
    }
}

/// The 8-digit serial of an ident `FFFE:4E4B0000`.
pub fn serial(ident: &str) -> &str {
    ident.split_once(':').map_or(ident, |(_, s)| s)
}

/// Connects to `reader` as a plain PC/SC client and disconnects with a
/// reset (what every card command of nkbackup did before issue 24).
fn reset_by_another_client(reader: &str) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(reader).unwrap();
    let card = ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .unwrap();
    card.disconnect(pcsc::Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .unwrap();
}

#[test]
pub fn scdaemon_shares_the_card_and_nkbackup_leaves_it_alone() {
    let Some((_g, ident, s)) = card0_setup(false) else {
        return;
    };
    let reader = reader_of(&ident);
    let serial = serial(&ident);
    let gnupg = Gnupg::new(&reader, true);
    gnupg.assert_card_status(serial, "starting scdaemon");

    // The control: a client that resets the card makes scdaemon's next
    // command fail once. If it did not, the checks below could not fail.
    reset_by_another_client(&reader);
    assert!(
        gnupg.card_status().is_err(),
        "scdaemon did not notice a reset: this test cannot tell a reset from none"
    );
    gnupg.assert_card_status(serial, "scdaemon recovered from the reset");

    let out = ok(nkbackup().args(["card", "list"]).output().unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&ident),
        "{out:?}"
    );
    gnupg.assert_card_status(serial, "nkbackup card list");

    ok(nkbackup()
        .args(["card", "enroll", "--repo"])
        .arg(&s.repo)
        .args(["--ident", &ident, "--label", "nk-a"])
        .output()
        .unwrap());
    gnupg.assert_card_status(serial, "nkbackup card enroll");

    // A restore presents the PIN: the card is reset on disconnect so the
    // verified PIN does not linger, and scdaemon notices once.
    ok(s.restore("r", &ident, &user_pin(), &[]));
    s.compare("r");
    assert!(
        gnupg.card_status().is_err(),
        "the card was not reset after a PIN was presented"
    );
    gnupg.assert_card_status(serial, "scdaemon recovered after the restore");
}

#[test]
pub fn scdaemon_holding_the_card_makes_it_busy() {
    let Some((_g, ident, s)) = card0_setup(false) else {
        return;
    };
    let reader = reader_of(&ident);
    let gnupg = Gnupg::new(&reader, false);
    gnupg.assert_card_status(serial(&ident), "starting scdaemon");

    let out = ok(nkbackup().args(["card", "list"]).output().unwrap());
    let err = stderr(&out);
    assert!(
        err.contains(&reader) && err.contains("in use by another program"),
        "{err}"
    );
    assert!(err.contains("gpgconf --kill scdaemon"), "{err}");

    // What the message says frees it does.
    gnupg.kill_scdaemon();
    ok(s.restore("r", &ident, &user_pin(), &[]));
    s.compare("r");
}
