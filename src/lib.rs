//! nkbackup: encrypted backups that open only with an OpenPGP smartcard or an
//! offline recovery key.
#![forbid(unsafe_code)]

pub mod recovery;
