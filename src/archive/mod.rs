//! The tar layer: writing a backup's stream, walking sources into it, and
//! reading it back with every safety and integrity check.

mod crew;
mod extract;
mod feed;
mod pax;
mod placer;
mod reader;
mod walk;
mod writer;

pub use extract::{Extractor, commit};
pub(crate) use reader::stream_error;
pub use reader::{EntrySink, NullSink, StreamReport, read_stream, safe_path};
pub use walk::{WalkOptions, Walker};
pub use writer::{AddFileError, ArchiveSummary, ArchiveWriter, EntryMeta};
