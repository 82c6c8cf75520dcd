//! The CLI's reader on any file, plain and gzip-compressed, whole and cut short: it reads or
//! reports, never panics, and a gzip file read without any error, cut anywhere, yields no more
//! events than the whole. (A whole with an error past the cut, invalid UTF-8 or a control
//! character, may yield fewer: its cut prefix can be a good document. Both found by this
//! target; the inputs are regression tests in cli/tests/cli.rs.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::PathBuf;
use t1578_cli::input::Reader;

/// (records, events kept, whether the file was read without any error).
fn read(path: &PathBuf) -> (u64, usize, bool) {
    let mut reader = Reader::new(None);
    let mut kept = 0usize;
    reader.read_all(std::slice::from_ref(path), Some, |_| kept += 1);
    let clean = reader.stats.unreadable.is_empty() && reader.stats.error_count() == 0;
    (reader.stats.records, kept, clean)
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("t1578-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let plain = dir.join("input.json");
    let gz = dir.join("input.json.gz");
    let cut = dir.join("cut.json.gz");
    std::fs::write(&plain, data).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    let packed = enc.finish().unwrap();
    std::fs::write(&gz, &packed).unwrap();
    let at = data.first().map_or(0, |b| *b as usize * packed.len() / 256);
    std::fs::write(&cut, &packed[..at]).unwrap();
    let plain_read = read(&plain);
    let gz_read = read(&gz);
    // Gzip is known by its magic bytes, whatever the name: input that is gzip already reads
    // decompressed, and its gzip is then gzip of gzip, which nobody writes (found by this target).
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(plain_read, gz_read, "gzip reads as plain");
    }
    let (_, cut_kept, _) = read(&cut);
    if gz_read.2 {
        assert!(cut_kept <= gz_read.1, "a cut file cannot yield more events");
    }
    // Raw bytes named .gz: read as what they are.
    std::fs::write(&cut, data).unwrap();
    assert_eq!(read(&cut), plain_read, "a name does not make bytes gzip");
});
