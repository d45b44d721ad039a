//! Errors of the smartcard layer (`crate::card`).
//!
//! Like [`crate::Error`], every message says what to do next and never
//! carries a PIN or key material: only labels, idents (`000F:1234ABCD`),
//! reader names and retry counters.

use super::ErrorKind;

/// Everything that can go wrong talking to an OpenPGP card.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The PC/SC service cannot be reached.
    #[error(
        "cannot talk to the PC/SC service ({message}); start pcscd (`systemctl start pcscd.socket`, or install the Debian package pcscd) and try again"
    )]
    NoPcsc {
        /// The PC/SC error.
        message: String,
    },

    /// No OpenPGP card is in any reader.
    #[error("no OpenPGP card found in any reader; insert your token and try again")]
    NoCards,

    /// `--card` was given but the repository has no card recipients.
    #[error(
        "this repository has no card recipients, so no card can open its backups (backups sealed before one is enrolled stay closed to it)"
    )]
    NoneEnrolled,

    /// A card was asked for by ident and is not in any reader.
    #[error("no OpenPGP card {ident} in any reader")]
    NotFound {
        /// The ident asked for.
        ident: String,
    },

    /// Several cards are present and the command needs exactly one.
    #[error("several OpenPGP cards are present ({idents})")]
    SeveralCards {
        /// The idents present.
        idents: String,
    },

    /// None of the enrolled tokens appeared before the timeout.
    #[error(
        "token {wanted} was not inserted within {waited_secs} s; insert it and run the command again, or open the backup with the recovery key"
    )]
    TokenAbsent {
        /// `alice-nk3 (000F:1234ABCD)`, or several joined with ` or `.
        wanted: String,
        /// How long we waited.
        waited_secs: u64,
    },

    /// A reader's card is held exclusively by another program: PC/SC
    /// answers `SCARD_E_SHARING_VIOLATION`. The token is there, but busy.
    #[error(
        "the card in reader {reader:?} is in use by another program that holds it exclusively (most likely GnuPG's scdaemon): free it with `gpgconf --kill scdaemon`, or let both share it with `pcsc-shared` and `disable-ccid` in ~/.gnupg/scdaemon.conf; then run the command again"
    )]
    Busy {
        /// The PC/SC reader name.
        reader: String,
    },

    /// The card has no decryption key.
    #[error("card {ident} has no decryption key; generate one, or import one with gpg")]
    NoDecryptionKey {
        /// The card.
        ident: String,
    },

    /// The card's decryption key uses an algorithm nkbackup cannot use.
    #[error(
        "card {ident}: its decryption key is {algorithm}, which nkbackup does not support (use Curve25519, RSA 2048-4096 or NIST P-256/384/521)"
    )]
    UnsupportedAlgorithm {
        /// The card.
        ident: String,
        /// What the card reports.
        algorithm: String,
    },

    /// The enrolled token now holds a different decryption key.
    #[error(
        "token {label} ({ident}) holds a different decryption key than the one enrolled (fingerprint {enrolled}); it was reset or its key regenerated. Open the backup with another enrolled token or the recovery key"
    )]
    KeyMismatch {
        /// The recipient label.
        label: String,
        /// The card.
        ident: String,
        /// The enrolled fingerprint.
        enrolled: String,
    },

    /// The user PIN was wrong.
    #[error(
        "wrong PIN for token {label} ({ident}): {retries_left} {} left before the PIN locks; check the PIN and try again",
        tries(*.retries_left)
    )]
    WrongPin {
        /// The recipient label (or the ident when not enrolled).
        label: String,
        /// The card.
        ident: String,
        /// User PIN retries left.
        retries_left: u8,
    },

    /// The admin PIN was wrong.
    #[error(
        "wrong admin PIN for card {ident}: {retries_left} tries left before the card locks for good; check the admin PIN (factory default 12345678)"
    )]
    WrongAdminPin {
        /// The card.
        ident: String,
        /// Admin PIN retries left.
        retries_left: u8,
    },

    /// Only one PIN try is left and the caller did not allow using it.
    #[error(
        "token {label} ({ident}) has only ONE PIN try left; a wrong PIN now locks it. If you are sure of the PIN, allow the last try explicitly; otherwise unblock it with the admin PIN first"
    )]
    LastPinTry {
        /// The recipient label.
        label: String,
        /// The card.
        ident: String,
    },

    /// The user PIN is blocked.
    #[error(
        "the PIN of token {label} ({ident}) is blocked (no tries left); unblock it with the admin PIN or reset code (e.g. `gpg --card-edit`, then `admin`, `passwd`), or open the backup with the recovery key"
    )]
    PinBlocked {
        /// The recipient label.
        label: String,
        /// The card.
        ident: String,
    },

    /// The person asked for the PIN cancelled the dialog.
    #[error(
        "PIN entry for token {label} was cancelled; nothing was decrypted and no PIN try was used"
    )]
    PinCancelled {
        /// The recipient label.
        label: String,
    },

    /// No PIN could be obtained.
    #[error("no PIN for token {label}: {reason}. Give it interactively (a terminal or pinentry)")]
    PinUnavailable {
        /// The recipient label.
        label: String,
        /// Why.
        reason: String,
    },

    /// The card went away (pulled, reader unplugged, card process stopped)
    /// while it was being used.
    #[error(
        "token {label} ({ident}) was removed or stopped answering while {during}; nothing was decrypted. Insert it and run the command again"
    )]
    Removed {
        /// The recipient label.
        label: String,
        /// The card.
        ident: String,
        /// What was being done.
        during: String,
    },

    /// The backup's header does not fit its sidecar's recipient list.
    #[error(
        "the backup's header does not match its sidecar: {detail}. The sidecar was edited or belongs to another file, or the header is damaged; {ops} card operation(s) were made. Check the backup's ciphertext against its sidecar (that tells a changed file from an edited sidecar) and compare with another copy"
    )]
    HeaderMismatch {
        /// What does not fit.
        detail: String,
        /// Card operations made before noticing (0 or 1).
        ops: u32,
    },

    /// The token's stanza in the backup's header is damaged: it does not
    /// parse, the card refused its ciphertext, or the card's answer does
    /// not authenticate. The token is not at fault. age authenticates the
    /// whole header, so no other key opens this backup either.
    #[error(
        "the backup is damaged: stanza #{stanza} of its header, the one for token {label} ({ident}), {detail}; the token is not at fault ({ops} card operation(s) were made). age authenticates the whole header, so no other key opens this backup either. Do not trust it: restore an older backup or another copy"
    )]
    DamagedStanza {
        /// The stanza's position in the header, from 1.
        stanza: usize,
        /// The recipient label.
        label: String,
        /// The card.
        ident: String,
        /// What is wrong with it.
        detail: String,
        /// Card operations made before noticing (0 or 1).
        ops: u32,
    },

    /// An X25519 card stanza cannot be chosen without the sidecar.
    #[error(
        "this backup has {count} X25519 stanzas and no sidecar says which one is for token {label}; open it through its repository (the sidecar names the stanza) so the token is used once"
    )]
    AmbiguousStanza {
        /// The recipient label.
        label: String,
        /// How many X25519 stanzas there are.
        count: usize,
    },

    /// A recipient entry of a card type is malformed.
    #[error("card recipient {label}: {reason}")]
    InvalidRecipient {
        /// The label.
        label: String,
        /// What is wrong.
        reason: String,
    },

    /// Any other card failure, with the card's own message.
    #[error("card {ident}: {message}")]
    Card {
        /// The card (or reader).
        ident: String,
        /// What failed.
        message: String,
    },
}

fn tries(n: u8) -> &'static str {
    if n == 1 { "try" } else { "tries" }
}

impl CardError {
    /// What to do next, when the message does not say it.
    pub fn hint(&self) -> Option<super::Hint> {
        use super::Hint;
        Some(match self {
            CardError::NoneEnrolled => Hint::EnrollCard,
            CardError::NotFound { .. } => Hint::ListCards,
            CardError::SeveralCards { .. } => Hint::ChooseCard,
            CardError::TokenAbsent { .. } => Hint::LongerCardTimeout,
            CardError::NoDecryptionKey { .. } => Hint::GenerateCardKey,
            CardError::LastPinTry { .. } => Hint::AllowLastPinTry,
            CardError::PinUnavailable { .. } => Hint::GivePin,
            CardError::HeaderMismatch { .. } => Hint::VerifyBackup,
            _ => return None,
        })
    }

    /// The broad kind, for exit codes: missing/locked tokens, wrong or
    /// cancelled PINs are [`ErrorKind::Key`]; a header that does not fit its
    /// sidecar and a damaged stanza are [`ErrorKind::Integrity`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            CardError::HeaderMismatch { .. } | CardError::DamagedStanza { .. } => {
                ErrorKind::Integrity
            }
            CardError::NoCards
            | CardError::NotFound { .. }
            | CardError::NoneEnrolled
            | CardError::TokenAbsent { .. }
            | CardError::Busy { .. }
            | CardError::KeyMismatch { .. }
            | CardError::WrongPin { .. }
            | CardError::LastPinTry { .. }
            | CardError::PinBlocked { .. }
            | CardError::PinUnavailable { .. }
            | CardError::PinCancelled { .. }
            | CardError::Removed { .. }
            | CardError::AmbiguousStanza { .. } => ErrorKind::Key,
            _ => ErrorKind::Other,
        }
    }

    /// Wraps an openpgp-card error about card `ident`.
    pub(crate) fn card(ident: &str, e: impl std::fmt::Display) -> Self {
        CardError::Card {
            ident: ident.to_owned(),
            message: e.to_string(),
        }
    }
}
