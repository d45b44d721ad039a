//! What to do next about an error, apart from its message.

/// What a person should do next about an error, kept apart from the
/// message so that each caller can word it: the CLI names its options, a
/// service its own buttons ([`crate::Error::hint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Open with the recovery key itself (typed, from a file or shares).
    UseRecoveryKey,
    /// Choose a longer passphrase, a few words.
    LongerPassphrase,
    /// Enroll a card in the repository.
    EnrollCard,
    /// Look at the list of the repository's recipients.
    ListRecipients,
    /// Name one card by its ident.
    NameCard,
    /// Name exactly one token: one identity file, one card or the recovery key.
    NameOneToken,
    /// Create a repository there, or name an existing one.
    InitRepository,
    /// Add a recipient to the repository.
    AddRecipient,
    /// Look at the list of the repository's backups.
    ListBackups,
    /// Seal anyway, recording unreadable files as skipped.
    SkipUnreadable,
    /// Restore with force: replace the backup's top-level entries.
    ForceRestore,
    /// Make a new recovery key, replacing the old one.
    ReplaceRecoveryKey,
    /// Make the repository's recovery key.
    MakeRecoveryKey,
    /// Look at the list of escrowed secrets.
    ListEscrow,
    /// Audit the journals (every damaged line is listed).
    AuditJournals,
    /// Seal without the strict source-age check, which then only warns.
    SealWithoutStrict,
    /// Look at the list of cards present.
    ListCards,
    /// Name the card by its ident.
    ChooseCard,
    /// Wait longer for the token.
    LongerCardTimeout,
    /// Generate a decryption key on the card.
    GenerateCardKey,
    /// Allow the last PIN try explicitly.
    AllowLastPinTry,
    /// Give the PIN another way (a file, the environment).
    GivePin,
    /// Check the backup's ciphertext against its sidecar.
    VerifyBackup,
}

impl Hint {
    /// Every hint, so that a caller can check it words each one.
    pub const ALL: &'static [Hint] = &[
        Hint::UseRecoveryKey,
        Hint::LongerPassphrase,
        Hint::EnrollCard,
        Hint::ListRecipients,
        Hint::NameCard,
        Hint::NameOneToken,
        Hint::InitRepository,
        Hint::AddRecipient,
        Hint::ListBackups,
        Hint::SkipUnreadable,
        Hint::ForceRestore,
        Hint::ReplaceRecoveryKey,
        Hint::MakeRecoveryKey,
        Hint::ListEscrow,
        Hint::AuditJournals,
        Hint::SealWithoutStrict,
        Hint::ListCards,
        Hint::ChooseCard,
        Hint::LongerCardTimeout,
        Hint::GenerateCardKey,
        Hint::AllowLastPinTry,
        Hint::GivePin,
        Hint::VerifyBackup,
    ];
}
