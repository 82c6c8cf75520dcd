//! The CLI's reader on any file, plain and gzip-compressed, whole and cut short: it reads or
//! reports, never panics, and a gzip file cut anywhere yields no more records than the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::PathBuf;
use t1578_cli::input::Reader;

fn read(path: &PathBuf) -> (u64, usize) {
    let mut reader = Reader::new(None);
    let mut kept = 0usize;
    reader.read_all(std::slice::from_ref(path), Some, |_| kept += 1);
    (reader.stats.records, kept)
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
    let (plain_records, plain_kept) = read(&plain);
    let (gz_records, gz_kept) = read(&gz);
    assert_eq!((plain_records, plain_kept), (gz_records, gz_kept), "gzip reads as plain");
    let (_, cut_kept) = read(&cut);
    assert!(cut_kept <= gz_kept, "a cut file cannot yield more events");
    // Raw bytes named .gz: not gzip at all.
    std::fs::write(&cut, data).unwrap();
    read(&cut);
});
