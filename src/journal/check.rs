//! Checking a journal's lines: the chain (`seq`, `prev`), line bounds,
//! segment names, and the head record at the end.

use super::{Chained, Damage, GENESIS, Head, JournalState, Record};
use crate::error::{Error, Result};
use crate::limits::{JOURNAL_BYTES, JOURNAL_LINE_BYTES};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};

/// One line of a journal as read: its first [`JOURNAL_LINE_BYTES`] bytes,
/// the SHA-256 of all of it, and whether it was longer or lacked its
/// newline.
struct Line {
    len: usize,
    kept: Vec<u8>,
    sha256: String,
    too_long: bool,
    complete: bool,
}

/// Reads the next line of `r`, hashing all of it but keeping at most
/// [`JOURNAL_LINE_BYTES`] bytes; `None` at the end.
fn next_line(r: &mut impl BufRead) -> std::io::Result<Option<Line>> {
    let mut h = Sha256::new();
    let mut kept = Vec::new();
    let (mut total, mut complete) = (0usize, false);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (chunk, done) = match buf.iter().position(|&c| c == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        h.update(chunk);
        let room = JOURNAL_LINE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        total += n;
        r.consume(n);
        if done {
            complete = true;
            break;
        }
    }
    if total == 0 {
        return Ok(None);
    }
    Ok(Some(Line {
        len: total,
        kept,
        sha256: hex::encode(h.finalize()),
        too_long: total > JOURNAL_LINE_BYTES,
        complete,
    }))
}

/// Checks a journal part by part (the main object, then its segments in
/// order), as one chain. Reads at most [`JOURNAL_BYTES`] in all.
pub(crate) struct Checker<T> {
    what: String,
    st: JournalState<T>,
    expect_seq: u64,
    read_bytes: u64,
}

impl<T: Record> Checker<T> {
    /// A checker for the journal `what` names in messages.
    pub(crate) fn new(what: &str) -> Self {
        Checker {
            what: what.to_owned(),
            st: JournalState {
                records: Vec::new(),
                damage: Vec::new(),
                lines: 0,
                last_sha256: GENESIS.to_owned(),
                head_lagging: false,
                line_sha256: Vec::new(),
                raw_lines: None,
            },
            expect_seq: 1,
            read_bytes: 0,
        }
    }

    /// Also keeps every line's bytes (in [`JournalState::raw_lines`]).
    pub(crate) fn keep_raw(&mut self) {
        self.st.raw_lines = Some(Vec::new());
    }

    /// Records damage found outside the lines (a stray object among the
    /// segments), at the line that would come next.
    pub(crate) fn damage(&mut self, reason: String) {
        self.st.damage.push(Damage {
            line: self.st.lines + 1,
            reason,
        });
    }

    /// Checks the lines of one part, read from `r`. A segment (`segment`
    /// = its name and the `seq` its name says its first line has) must
    /// hold at least one line and begin at that `seq`.
    pub(crate) fn part(&mut self, r: impl Read, segment: Option<(&str, u64)>) -> Result<()> {
        let room = (JOURNAL_BYTES + 1).saturating_sub(self.read_bytes);
        let mut r = BufReader::with_capacity(1 << 16, r.take(room));
        let mut first = true;
        while let Some(line) =
            next_line(&mut r).map_err(|e| Error::io(format!("reading {}", self.what), e))?
        {
            self.read_bytes += line.len as u64;
            if self.read_bytes > JOURNAL_BYTES {
                return Err(Error::TooLarge {
                    what: self.what.clone(),
                    limit: JOURNAL_BYTES,
                });
            }
            let seq = self.line(line);
            if let (true, Some((name, want))) = (first, segment)
                && seq != Some(want)
            {
                self.st.damage.push(Damage {
                    line: self.st.lines,
                    reason: format!(
                        "segment {name} must begin with seq {want} but its first line {}: segments were renamed, removed or planted",
                        seq.map_or_else(|| "does not parse".to_owned(), |s| format!("has seq {s}"))
                    ),
                });
            }
            first = false;
        }
        if let (true, Some((name, _))) = (first, segment) {
            self.damage(format!(
                "segment {name} is empty: nkbackup never writes an empty segment"
            ));
        }
        Ok(())
    }

    /// Checks one line; returns its `seq` if it parsed.
    fn line(&mut self, line: Line) -> Option<u64> {
        let st = &mut self.st;
        st.lines += 1;
        let n = st.lines;
        if !line.complete {
            st.damage.push(Damage {
                line: n,
                reason: "the line is truncated (no newline at its end): it was cut off or an append was interrupted".into(),
            });
        }
        let parsed = if line.too_long {
            Err(format!(
                "it is longer than {JOURNAL_LINE_BYTES} bytes, more than nkbackup writes"
            ))
        } else {
            serde_json::from_slice::<Chained<T>>(&line.kept).map_err(|e| e.to_string())
        };
        let seq = match parsed {
            Err(e) => {
                st.damage.push(Damage {
                    line: n,
                    reason: format!("not a valid journal record ({e}): altered or truncated"),
                });
                None
            }
            Ok(r) => {
                if r.seq != self.expect_seq {
                    st.damage.push(Damage {
                        line: n,
                        reason: format!(
                            "seq is {} where {} was expected: lines were removed, inserted or reordered",
                            r.seq, self.expect_seq
                        ),
                    });
                }
                if r.prev != st.last_sha256 {
                    st.damage.push(Damage {
                        line: n,
                        reason: format!(
                            "prev does not match the SHA-256 of line {}: that line was altered, or lines were removed or inserted before this one",
                            n - 1
                        ),
                    });
                }
                self.expect_seq = r.seq.saturating_add(1);
                let seq = r.seq;
                st.records.push(r);
                Some(seq)
            }
        };
        st.line_sha256.push(line.sha256.clone());
        st.last_sha256 = line.sha256;
        if let Some(raw) = &mut st.raw_lines {
            raw.push(line.kept);
        }
        seq
    }

    /// Checks the end against the head record `head` (the bytes of
    /// `<name>.head`, named `head_file`, if it exists).
    pub(crate) fn finish(mut self, head: Option<&[u8]>, head_file: &str) -> JournalState<T> {
        let head: Option<std::result::Result<Head, String>> =
            head.map(|b| serde_json::from_slice(b).map_err(|e| e.to_string()));
        let st = &mut self.st;
        let last_seq = st.records.last().map_or(0, |r| r.seq);
        let at_end = st.lines + 1;
        let mut damage = |line, reason| st.damage.push(Damage { line, reason });
        match head {
            None if st.lines > 0 => damage(
                at_end,
                format!("{head_file} is missing although the journal has lines"),
            ),
            None => {}
            Some(Err(e)) => damage(at_end, format!("{head_file} is unreadable: {e}")),
            Some(Ok(h)) => {
                if h.seq == last_seq && h.sha256 == st.last_sha256 {
                    // Intact.
                } else if h.seq.checked_add(1) == Some(last_seq)
                    && st.records.last().is_some_and(|r| r.prev == h.sha256)
                {
                    st.head_lagging = true;
                } else if h.seq > last_seq {
                    damage(
                        at_end,
                        format!(
                            "the journal ends at seq {last_seq} but {head_file} records seq {}: lines were removed from the end",
                            h.seq
                        ),
                    );
                } else if h.seq == last_seq {
                    damage(
                        st.lines,
                        format!(
                            "the last line's SHA-256 differs from the one {head_file} records: it was altered"
                        ),
                    );
                } else {
                    damage(
                        st.lines,
                        format!(
                            "{head_file} records seq {} but the journal goes on to {last_seq}: lines were appended by something other than nkbackup",
                            h.seq
                        ),
                    );
                }
            }
        }
        self.st
    }
}

/// Checks a journal's lines, read from `r` (`what` names it in messages),
/// against its head record `head` (the bytes of `<name>.head`, named
/// `head_file`, if it exists). Reads at most [`JOURNAL_BYTES`].
pub fn check<T: Record>(
    r: impl Read,
    head: Option<&[u8]>,
    what: &str,
    head_file: &str,
) -> Result<JournalState<T>> {
    let mut c = Checker::new(what);
    c.part(r, None)?;
    Ok(c.finish(head, head_file))
}
