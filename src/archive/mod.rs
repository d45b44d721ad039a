//! The tar layer: writing a backup's stream, walking sources into it, and
//! reading it back with every safety and integrity check.

mod commit;
mod crew;
mod exclude;
mod extract;
mod feed;
mod index;
mod order;
mod placer;
mod reader;
mod walk;
mod writer;

pub(crate) use commit::Target;
pub use exclude::{CACHEDIR_SIGNATURE, Exclusions};
pub(crate) use extract::Extractor;
pub use index::read_index;
pub(crate) use index::{read_entries, read_manifest, seek_index};
pub(crate) use reader::{Collect, stream_error};
pub use reader::{EntrySink, NullSink, StreamReport, read_stream, safe_path};
pub use walk::{WalkOptions, Walker};
pub use writer::{AddFileError, ArchiveSummary, ArchiveWriter, EntryMeta, Progress};
