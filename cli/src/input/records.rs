//! A CloudTrail S3 file, `{"Records":[...]}`, read a window at a time and cut into its records
//! exactly as [`super::records_array`] cuts a whole one.
//!
//! Why: a pool worker read each document whole before cutting it, so it held its largest file
//! decompressed: 512 KiB buffers for the bench's files of 250 records, and a busy account's
//! five-minute file runs to tens of megabytes. Streamed, a worker holds one record and a read's
//! worth of the document.
//!
//! The records' scanned parts are kept until the document has ended in that shape. When it
//! does not (another shape after all, cut short, a read error), nothing was delivered, and the
//! caller reads the document again whole, by the path it always took: what a malformed or
//! truncated file yields does not change.

use super::{fill_or_cut, object_end, scan_records, Scan, RECORDS_PER_PART};
use std::io::Read;
use t1578_core::prefilter::Prefilter;
use t1578_core::ComputeEvent;

/// Bytes read at a time once the document's head is in.
const WINDOW: usize = 64 << 10;

/// The document's scanned parts, each with the bytes it accounts for; `None`: read it whole.
/// `buf` holds the bytes read so far (the document's start), `eof` whether that was all.
pub(super) fn stream_records<T>(
    reader: &mut Box<dyn Read>,
    buf: &mut Vec<u8>,
    eof: bool,
    prefilter: Option<&Prefilter>,
    keep: &impl Fn(ComputeEvent) -> Option<T>,
) -> Option<Vec<(Scan<T>, u64)>> {
    let start = if buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let mut s = Stream {
        reader,
        buf,
        i: start,
        eof,
        broken: false,
        extents: Vec::new(),
        sc: Scan::default(),
        parts: Vec::new(),
        next: 0,
        dropped: 0,
        prefilter,
        keep,
    };
    s.document()?;
    s.flush(true);
    let total = s.dropped + s.buf.len() as u64;
    let mut parts = s.parts;
    if let Some(last) = parts.last_mut() {
        last.1 = total;
    }
    Some(parts)
}

struct Stream<'a, T, K> {
    reader: &'a mut Box<dyn Read>,
    buf: &'a mut Vec<u8>,
    /// Next byte to read in `buf`.
    i: usize,
    eof: bool,
    /// A read failed: the document did not end, whatever was read.
    broken: bool,
    /// Records cut from `buf` and not scanned yet.
    extents: Vec<(usize, usize)>,
    sc: Scan<T>,
    parts: Vec<(Scan<T>, u64)>,
    /// Number of the next record to scan.
    next: usize,
    /// Bytes dropped from the front of `buf`.
    dropped: u64,
    prefilter: Option<&'a Prefilter>,
    keep: &'a K,
}

impl<T, K: Fn(ComputeEvent) -> Option<T>> Stream<'_, T, K> {
    /// The grammar [`super::records_array`] accepts, with the document's end checked too.
    fn document(&mut self) -> Option<()> {
        for lit in [&b"{"[..], b"\"Records\"", b":", b"["] {
            self.skip_ws()?;
            self.literal(lit)?;
        }
        self.skip_ws()?;
        if self.byte()? == b']' {
            self.i += 1;
        } else {
            loop {
                self.record()?;
                self.skip_ws()?;
                match self.byte()? {
                    b',' => {
                        self.i += 1;
                        self.skip_ws()?;
                    }
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.skip_ws()?;
        self.literal(b"}")?;
        // Only whitespace may follow, to the end: anything else is another shape.
        while self.have(1) {
            if !self.buf[self.i].is_ascii_whitespace() {
                return None;
            }
            self.i += 1;
        }
        (!self.broken).then_some(())
    }

    /// The byte at `i`; `None` at the end.
    fn byte(&mut self) -> Option<u8> {
        self.have(1).then(|| self.buf[self.i])
    }

    fn skip_ws(&mut self) -> Option<()> {
        while self.byte()?.is_ascii_whitespace() {
            self.i += 1;
        }
        Some(())
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        (self.have(lit.len()) && self.buf[self.i..].starts_with(lit)).then(|| self.i += lit.len())
    }

    /// One record, an object: its extent is kept for scanning.
    fn record(&mut self) -> Option<()> {
        if self.byte()? != b'{' {
            return None;
        }
        loop {
            if let Some(end) = object_end(&self.buf[..], self.i) {
                self.extents.push((self.i, end));
                self.i = end;
                return Some(());
            }
            // The record goes on past what is read: read as much again as it has so far, so
            // a long record is searched a number of times logarithmic in its size. The input
            // may end sooner, with the record whole: it is searched again all the same.
            let so_far = self.buf.len() - self.i;
            self.have(so_far * 2 + 1);
            if self.buf.len() - self.i == so_far {
                return None;
            }
        }
    }

    /// Make `n` bytes from `i` on readable; false when the input ends first. A read error ends
    /// the stream too, and since the document then did not end, it is read again whole.
    fn have(&mut self, n: usize) -> bool {
        while self.buf.len() < self.i + n {
            if self.eof {
                return false;
            }
            self.flush(false);
            self.buf.drain(..self.i);
            self.dropped += self.i as u64;
            self.i = 0;
            let mut cut = None;
            self.eof = fill_or_cut(self.reader, self.buf, (self.buf.len() + WINDOW).max(n), &mut cut);
            if cut.is_some() {
                self.broken = true;
                return false;
            }
        }
        true
    }

    /// Scan the records cut so far (their bytes are about to be dropped); a part is closed
    /// every [`RECORDS_PER_PART`] records, and at the end (`last`).
    fn flush(&mut self, last: bool) {
        if !self.extents.is_empty() {
            let part = scan_records(self.prefilter, self.keep, &self.buf[..], &self.extents, self.next);
            self.next += self.extents.len();
            self.extents.clear();
            self.sc.merge(part);
        }
        let done = last && (self.sc.records > 0 || self.parts.is_empty());
        if self.sc.records as usize >= RECORDS_PER_PART || done {
            self.parts.push((std::mem::take(&mut self.sc), 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{document, Pos};
    use super::*;
    use serde_json::{json, Value};

    /// Gives at most `step` bytes a read, and fails at `fail_at` if given.
    struct Slow {
        data: Vec<u8>,
        at: usize,
        step: usize,
        fail_at: Option<usize>,
    }

    impl Read for Slow {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.at >= f) {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = out.len().min(self.step).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// What a part says: records, kept events' ids, errors by kind and place (first ones),
    /// errors counted by kind.
    type Said = (u64, Vec<String>, Vec<(String, String)>, Vec<(&'static str, u64)>);

    fn said(parts: impl IntoIterator<Item = Scan<ComputeEvent>>) -> Said {
        let mut all = Scan::default();
        parts.into_iter().for_each(|p| all.merge(p));
        let ids = all
            .out
            .iter()
            .filter_map(|o| o.as_ref().ok().map(|e| e.event_id.clone()))
            .collect();
        let errs = all
            .out
            .iter()
            .filter_map(|o| o.as_ref().err())
            .map(|(k, p, _)| (k.to_string(), format!("{p:?}")))
            .collect();
        (all.records, ids, errs, all.elided.kinds().collect())
    }

    fn streamed(doc: &[u8], step: usize, fail_at: Option<usize>) -> Option<Said> {
        let mut reader: Box<dyn Read> = Box::new(Slow {
            data: doc.to_vec(),
            at: 0,
            step,
            fail_at,
        });
        let mut buf = Vec::new();
        let mut cut = None;
        let eof = fill_or_cut(&mut reader, &mut buf, 1 << 10, &mut cut);
        let parts = stream_records(&mut reader, &mut buf, eof, None, &Some)?;
        let bytes: u64 = parts.iter().map(|(_, b)| b).sum();
        assert_eq!(bytes, doc.len() as u64, "the parts account for every byte");
        Some(said(parts.into_iter().map(|(sc, _)| sc)))
    }

    fn whole(doc: &[u8]) -> Said {
        said(document(doc, None, &Some, false, None).unwrap())
    }

    fn records(n: usize) -> Vec<Value> {
        let base: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../events/aws/ec2-delete-snapshot.json"
            ))
            .unwrap(),
        )
        .unwrap();
        (0..n)
            .map(|i| match i % 7 {
                // Not a record the normalizer takes: an error of its own.
                3 => json!({ "eventName": i, "s": "}{\"[" }),
                _ => {
                    let mut r = base["detail"].clone();
                    r["eventID"] = Value::from(format!("evt-{i}"));
                    r["userAgent"] = Value::from("}{\\\"".repeat(i % 50));
                    r
                }
            })
            .collect()
    }

    #[test]
    fn a_document_streamed_in_small_reads_gives_what_it_gives_whole() {
        let recs = records(300);
        let compact = json!({ "Records": recs }).to_string();
        let spaced = format!(
            "\u{feff} {{ \"Records\" :\n[ {} ] }}\n\n",
            recs.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" ,\n ")
        );
        for doc in [
            compact,
            spaced,
            r#"{"Records":[]}"#.to_string(),
            " {\"Records\" : [ ] } ".to_string(),
        ] {
            let want = whole(doc.as_bytes());
            // Each read zero-fills the rest of a 64 KiB window first: reads of a byte or
            // two are for the short documents.
            let steps: &[usize] = if doc.len() < 100 {
                &[1, 2, 5]
            } else {
                &[97, 4096, 1 << 20]
            };
            for &step in steps {
                assert_eq!(
                    streamed(doc.as_bytes(), step, None).as_ref(),
                    Some(&want),
                    "step {step}"
                );
            }
        }
        let (n, ids, errs, elided) = whole(json!({ "Records": recs }).to_string().as_bytes());
        assert_eq!((n, ids.len()), (300, 257));
        assert!(matches!(errs[..], [(_, ref p), ..] if p == &format!("{:?}", Pos::Record(3))));
        assert_eq!(elided.iter().map(|(_, n)| n).sum::<u64>() + errs.len() as u64, 43);
    }

    #[test]
    fn a_record_longer_than_many_reads_is_read_whole() {
        let mut recs = records(3);
        recs[1]["userAgent"] = Value::from("x{\"".repeat(400_000));
        let doc = json!({ "Records": recs }).to_string();
        assert!(doc.len() > 16 * WINDOW);
        assert_eq!(
            streamed(doc.as_bytes(), 1 << 16, None),
            Some(whole(doc.as_bytes()))
        );
    }

    #[test]
    fn another_shape_a_cut_or_a_read_error_is_left_to_the_whole_document_path() {
        let recs = records(20);
        let good = json!({ "Records": recs }).to_string();
        let body = good.strip_suffix('}').unwrap();
        for doc in [
            format!("{body},\"x\":1}}"),
            format!("{good}x"),
            format!("{good},"),
            good[..good.len() / 2].to_string(),
            good[..good.len() - 1].to_string(),
            good.replacen("[{", "[1,{", 1),
            format!(
                "{{\"Records\":[{}]}}",
                recs.iter().map(Value::to_string).collect::<String>()
            ),
            r#"{"Records":{}}"#.to_string(),
        ] {
            assert_eq!(
                streamed(doc.as_bytes(), 100, None),
                None,
                "{}",
                &doc[doc.len().saturating_sub(40)..]
            );
        }
        assert_eq!(streamed(good.as_bytes(), 100, Some(good.len() / 2)), None);
        assert!(streamed(good.as_bytes(), 100, None).is_some());
    }
}
