//! Codecs for what nkbackup writes and reads, without I/O of their own.
//!
//! Each parser here turns bytes that may come from a hostile repository
//! into checked values, once, with a bound on every length
//! ([`crate::limits`]); each has a fuzz target (`fuzz/`).

pub mod age_header;
pub mod age_key;
pub mod pax;
pub mod seekable;
pub mod share_stanza;
pub mod tar;
