//! Every length nkbackup accepts from a repository, in one place.
//!
//! Whoever can write a repository can make any object claim any size: a
//! sidecar of gigabytes, a tar header announcing a 2 GiB path, a zstd frame
//! asking for a 2 GiB window. Each such length has a bound here, far above
//! what nkbackup itself ever writes, and each exceeded bound is a "damaged"
//! error (exit code 3) raised before the memory is spent.
//! docs/FORMAT.md §10 lists them; `tests/limits.rs` checks each with a
//! crafted input that claims gigabytes while peak memory stays small.

/// Largest sidecar (`backups/<class>/<id>.json`) read.
pub const SIDECAR_BYTES: u64 = 1 << 20;
/// Largest `nkbackup.toml` read.
pub const CONFIG_BYTES: u64 = 1 << 20;
/// Largest journal (`journal/<name>.jsonl`) read: about 200 000 lines.
pub const JOURNAL_BYTES: u64 = 128 << 20;
/// Longest journal line, including its newline.
pub const JOURNAL_LINE_BYTES: usize = 64 << 10;
/// Largest journal head record, lock object or other small status object.
pub const SMALL_OBJECT_BYTES: u64 = 64 << 10;
/// Largest escrow sidecar read.
pub const ESCROW_SIDECAR_BYTES: u64 = 1 << 20;
/// Largest escrow item (an age file holding at most 1 MiB of secret).
pub const ESCROW_ITEM_BYTES: u64 = 2 << 20;

/// Longest age header read (one stanza per recipient, at most 256
/// recipients of at most about 1 KiB each).
pub const AGE_HEADER_BYTES: usize = 256 << 10;
/// Most lines of an age header.
pub const AGE_HEADER_LINES: usize = 4096;

/// Longest path of an entry in a backup, in bytes: `PATH_MAX` less its NUL.
/// A longer path cannot be restored by name on Linux; the seal skips such
/// an object (listing it as `skipped`) and readers refuse the entry.
pub const PATH_BYTES: usize = 4095;
/// Longest component of an entry path (`NAME_MAX`).
pub const NAME_BYTES: usize = 255;
/// Largest pax extended header (`x`) accepted: a path, a link target and a
/// few numbers need less than 9 KiB.
pub const PAX_HEADER_BYTES: u64 = 64 << 10;
/// Largest GNU long-name or long-link header (`L`, `K`) accepted.
pub const GNU_LONG_NAME_BYTES: u64 = PATH_BYTES as u64 + 1;
/// Longest line of the inner manifest, including its newline.
pub const MANIFEST_LINE_BYTES: usize = 64 << 10;
/// Longest `note` of a manifest entry that the seal writes.
pub const NOTE_BYTES: usize = 1024;
/// Largest zstd window, as a power of two. nkbackup's levels (up to 22)
/// never use more than 2^27 bytes (128 MiB); a frame asking for more is
/// refused before the decoder allocates it.
pub const ZSTD_WINDOW_LOG: u32 = 27;
/// Most frames in a seekable payload's seek table: 2^22 frames of 16 MiB
/// hold 64 TiB of tar (a table of 32 MiB). A seal refuses to go beyond.
pub const SEEK_FRAMES: usize = 4 << 20;
/// Most tar bytes in one frame of a seekable payload (nkbackup writes
/// 16 MiB; [`crate::compression::FRAME_BYTES`]).
pub const SEEK_FRAME_BYTES: usize = 64 << 20;
/// Most directories and symlinks in one backup: the reader remembers
/// each (as a 64-bit hash, about 18 bytes) to check hard-link targets.
pub const DIRS_AND_SYMLINKS: usize = 4 << 20;
/// Most top-level sources in one backup.
pub const SOURCES: usize = 65_536;
/// Most components in a source's name (`a/b/c` has 3).
pub const SOURCE_NAME_COMPONENTS: usize = 16;

/// Longest recovery key, share or passphrase text accepted, in bytes
/// (a recovery key is 59 characters with its spaces, a share about 80).
pub const KEY_TEXT_BYTES: usize = 4096;
/// Largest file read for a key, share, PIN or passphrase.
pub const KEY_FILE_BYTES: u64 = 64 << 10;
/// A card recipient's `signing_key` value (base64 of one OpenPGP key
/// packet; an RSA-4096 key takes about 720 characters).
pub const SIGNING_KEY_CHARS: usize = 2048;
/// A drill record's `signature` (base64 of one OpenPGP signature packet;
/// RSA-4096 with its subpackets takes about 760 characters).
pub const SIGNATURE_CHARS: usize = 4096;
