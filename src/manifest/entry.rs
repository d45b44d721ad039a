//! One line of the inner manifest: an entry of the tar stream, or a source
//! object that was deliberately not stored.

use super::EntryPath;
use serde::{Deserialize, Serialize};

/// What kind of object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file; `size` and `sha256` describe its content.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; `target` is its (unfollowed) target.
    Symlink,
    /// A hard link to an earlier entry; `target` is that entry's path.
    Hardlink,
    /// Not stored (socket, device, fifo, unreadable, vanished); see `note`.
    Skipped,
}

/// A manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path inside the backup.
    pub path: EntryPath,
    /// Kind of object.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Content length in bytes (files only, else 0).
    #[serde(default)]
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    #[serde(default)]
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    #[serde(default)]
    pub mtime: i64,
    /// Numeric owner (restored when restoring as root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u64>,
    /// Numeric group (restored when restoring as root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u64>,
    /// Lowercase hex SHA-256 of the content (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Link target (symlinks, hardlinks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<EntryPath>,
    /// A warning about this entry (why it was skipped, or that it changed
    /// while being read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Offset in the tar stream of the entry's first header (manifest
    /// version 2, stored entries). A manifest line leaves it out where it
    /// equals what [`implied_next`] gives for the stored entry before; the
    /// parser fills it in, so every parsed stored entry of a version 2
    /// manifest has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Entry {
    /// Whether this entry has a counterpart in the tar stream.
    pub fn is_stored(&self) -> bool {
        self.kind != EntryKind::Skipped
    }

    /// Describes how `other` (what the tar stream holds) differs from this
    /// manifest entry in the fields a stream can show, or `None` if it agrees.
    pub fn mismatch(&self, other: &Entry) -> Option<String> {
        if self.path != other.path {
            return Some(format!(
                "the stream has {:?} where the manifest lists {:?}",
                other.path, self.path
            ));
        }
        if self.kind != other.kind {
            return Some(format!(
                "{:?} is a {:?} in the stream but a {:?} in the manifest",
                self.path, other.kind, self.kind
            ));
        }
        if self.size != other.size {
            return Some(format!(
                "{:?} has {} bytes in the stream but {} in the manifest",
                self.path, other.size, self.size
            ));
        }
        if self.sha256 != other.sha256 {
            return Some(format!(
                "{:?}: content digest does not match the manifest",
                self.path
            ));
        }
        if self.target != other.target {
            return Some(format!(
                "{:?}: link target does not match the manifest",
                self.path
            ));
        }
        if let (Some(listed), Some(at)) = (self.offset, other.offset)
            && listed != at
        {
            return Some(format!(
                "{:?} starts at byte {at} of the stream, but the manifest says {listed}",
                self.path
            ));
        }
        None
    }
}

/// Where the next stored entry starts if nothing comes between it and an
/// entry at `offset` with `size` content bytes: one 512-byte header block
/// and the content rounded up to 512 later (docs/FORMAT.md §4). A manifest
/// line whose `offset` equals this for the stored entry before it (for the
/// first stored entry: equals 0) leaves `offset` out. `None` past 2^64.
pub fn implied_next(offset: u64, size: u64) -> Option<u64> {
    let padded = size.checked_next_multiple_of(512)?;
    offset.checked_add(512)?.checked_add(padded)
}
