//! The files under the arguments, in the order a replay reads them, listed as they are read.
//!
//! Why: the walk collected every file's path and sorted them all by the time their keys name,
//! so memory grew with the archive: about 1 MB for the bench's 5,383 CloudTrail files, and
//! a year of an organization trail is millions of them.
//!
//! The order is unchanged. Per directory argument, files whose keys name no time come first in
//! walk order, then the rest by (time, path); a stable sort by time of the walk's files is
//! exactly that, since a walk in name order visits paths in their order. To give it without
//! holding every file, a first pass walks the tree as before but keeps, per folder, only the
//! earliest time its files name (a folder of one file keeps that file). Folders are then
//! listed again in that order as the files come out: a folder is opened once the next file is
//! not earlier than its earliest time, so none of its files can be due before it. An archive
//! folder holds a day or an hour, so a few of them are open at a time.
//!
//! A file added to an archive between the two passes is read in its folder's place, and a
//! folder removed meanwhile is reported unreadable: the same as a file removed before it is
//! read.

use super::{holds_no_api_calls, is_input_name, time_key};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::{Path, PathBuf};

/// The inputs of a command, yielded in reading order. The first pass has run when it is made:
/// [`Files::total_files`] and [`Files::total_bytes`] are known, and paths that could not be walked are
/// reported through [`Files::take_unreadable`] (more may come from folders listed later).
pub struct Files {
    sources: VecDeque<Source>,
    count: usize,
    bytes: u64,
    unreadable: Vec<String>,
}

/// One argument's files still to come.
enum Source {
    /// A file, or `-`.
    One(PathBuf),
    /// A directory's files.
    Tree(Tree),
}

struct Tree {
    /// Files naming no time, in walk order: read first.
    undated: std::vec::IntoIter<PathBuf>,
    /// Where dated files are, by the earliest time they name.
    pending: VecDeque<Folder>,
    /// Dated files of the folders opened, by (time, path).
    open: BinaryHeap<Reverse<(String, PathBuf)>>,
}

/// Dated files not listed yet.
struct Folder {
    /// The earliest time a file in it names.
    first: String,
    place: Place,
}

enum Place {
    /// A folder of several dated files, listed again when due.
    Listed(PathBuf),
    /// The one dated file of its folder (the export's `PT1H.json` per hour): not listed twice.
    File(PathBuf),
}

impl Files {
    /// Walk `paths` once (directories recursively) to count what they hold.
    pub fn new(paths: &[PathBuf]) -> Files {
        let mut files = Files {
            sources: VecDeque::new(),
            count: 0,
            bytes: 0,
            unreadable: Vec::new(),
        };
        for p in paths {
            if p.as_os_str() == "-" || p.is_file() {
                files.note(p);
                files.sources.push_back(Source::One(p.clone()));
            } else if p.is_dir() {
                let tree = files.first_pass(p);
                files.sources.push_back(Source::Tree(tree));
            } else {
                files
                    .unreadable
                    .push(format!("{}: no such file or directory", p.display()));
            }
        }
        files
    }

    /// Files the arguments hold.
    pub fn total_files(&self) -> usize {
        self.count
    }

    /// Their bytes on disk.
    pub fn total_bytes(&self) -> u64 {
        self.bytes
    }

    /// Paths that could not be walked or listed, so far.
    pub fn take_unreadable(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unreadable)
    }

    fn note(&mut self, file: &Path) {
        self.count += 1;
        self.bytes += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    }

    fn first_pass(&mut self, dir: &Path) -> Tree {
        let mut undated = Vec::new();
        let mut folders = Vec::new();
        self.walk(dir, &mut undated, &mut folders);
        folders.sort_by(|a: &Folder, b: &Folder| a.first.cmp(&b.first));
        Tree {
            undated: undated.into_iter(),
            pending: folders.into(),
            open: BinaryHeap::new(),
        }
    }

    fn walk(&mut self, dir: &Path, undated: &mut Vec<PathBuf>, folders: &mut Vec<Folder>) {
        let entries = match list(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.unreadable.push(format!("{}: {e}", dir.display()));
                return;
            }
        };
        let mut dated: Option<(String, PathBuf)> = None;
        let mut several = false;
        for (p, is_dir) in entries {
            if is_dir {
                self.walk(&p, undated, folders);
                continue;
            }
            self.note(&p);
            match time_key(&p) {
                None => undated.push(p),
                Some(k) => {
                    several |= dated.is_some();
                    if dated.as_ref().is_none_or(|(first, _)| k < *first) {
                        dated = Some((k, p));
                    }
                }
            }
        }
        if let Some((first, file)) = dated {
            let place = if several {
                Place::Listed(dir.to_path_buf())
            } else {
                Place::File(file)
            };
            folders.push(Folder { first, place });
        }
    }
}

/// A folder's entries a walk takes, in name order: input files, and folders that may hold
/// API calls (with `true`).
fn list(dir: &Path) -> std::io::Result<Vec<(PathBuf, bool)>> {
    let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(dir)?
        .filter_map(|e| {
            let e = e.ok()?;
            let p = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                return None;
            }
            // A symbolic link is followed, as `Path::is_dir` does; other types are known from
            // the listing, without a call per entry.
            let is_dir = match e.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => p.is_dir(),
            };
            if is_dir {
                let parts: Vec<String> = p.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                (!holds_no_api_calls(&parts, parts.len() - 1)).then_some((p, true))
            } else {
                is_input_name(&name).then_some((p, false))
            }
        })
        .collect();
    entries.sort();
    Ok(entries)
}

impl Tree {
    fn next(&mut self, unreadable: &mut Vec<String>) -> Option<PathBuf> {
        if let Some(p) = self.undated.next() {
            return Some(p);
        }
        // Every folder that may hold a file due before the heap's first is opened first.
        while let Some(f) = self.pending.front() {
            if self.open.peek().is_some_and(|Reverse((k, _))| f.first > *k) {
                break;
            }
            let Some(f) = self.pending.pop_front() else { break };
            match f.place {
                Place::File(p) => self.open.push(Reverse((f.first, p))),
                Place::Listed(dir) => match list(&dir) {
                    Ok(entries) => {
                        for (p, is_dir) in entries {
                            if let (false, Some(k)) = (is_dir, time_key(&p)) {
                                self.open.push(Reverse((k, p)));
                            }
                        }
                    }
                    Err(e) => unreadable.push(format!("{}: {e}", dir.display())),
                },
            }
        }
        self.open.pop().map(|Reverse((_, p))| p)
    }
}

impl Iterator for Files {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            match self.sources.front_mut()? {
                Source::One(_) => {
                    if let Some(Source::One(p)) = self.sources.pop_front() {
                        return Some(p);
                    }
                }
                Source::Tree(t) => {
                    if let Some(p) = t.next(&mut self.unreadable) {
                        return Some(p);
                    }
                    self.sources.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// What the walk gave before it was lazy: every file, in name order, then a stable sort
    /// by the time the key names.
    fn sorted_whole(dir: &Path) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for (p, is_dir) in list(dir).unwrap() {
                if is_dir {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, &mut out);
        out.sort_by_cached_key(|f| time_key(f));
        out
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"{}\n").unwrap();
    }

    /// A trail of `accounts` x `regions` x `days`, `per_day` files a day in each, every
    /// region's files stamped alike (ties broken by path), and what else a bucket holds.
    fn trail(root: &Path, accounts: usize, regions: usize, days: usize, per_day: usize) {
        for a in 0..accounts {
            let acct = format!("1111222233{a:02}");
            for r in 0..regions {
                let region = format!("xx-region-{r}");
                for d in 1..=days {
                    for f in 0..per_day {
                        // Written newest first: the listing, not the writing, orders them.
                        let f = per_day - 1 - f;
                        let (h, m) = (f * 7 / 60, f * 7 % 60);
                        touch(
                            root,
                            &format!(
                                "AWSLogs/{acct}/CloudTrail/{region}/2026/10/{d:02}/{acct}_CloudTrail_{region}_202610{d:02}T{h:02}{m:02}Z_{f}x.json.gz"
                            ),
                        );
                    }
                }
            }
            touch(
                root,
                &format!("AWSLogs/{acct}/CloudTrail-Digest/xx-region-0/2026/10/01/d.json.gz"),
            );
            touch(
                root,
                &format!("AWSLogs/{acct}/Config/xx-region-0/2026/10/01/c.json.gz"),
            );
        }
    }

    #[test]
    fn archives_are_read_in_the_order_a_sort_of_all_their_files_gives() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        trail(root, 2, 3, 4, 5);
        // The Activity Log export: one file an hour, dated by its folders, in two subscriptions.
        for s in ["A", "B"] {
            for h in [3, 0, 23] {
                touch(
                    root,
                    &format!("insights-activity-logs/resourceId=/SUBSCRIPTIONS/{s}/y=2026/m=10/d=02/h={h:02}/m=00/PT1H.json"),
                );
            }
        }
        // Files naming no time, beside dated ones and on their own; and what is not read.
        for rel in [
            "fixtures/b.json",
            "fixtures/a.jsonl",
            "AWSLogs/111122223300/CloudTrail/xx-region-1/2026/10/02/notes.json",
            "zz/111122223300_CloudTrail_xx-region-9_20261001T0000Z_solo.json.gz",
            "zz/README.txt",
            "zz/.hidden.json",
            // A folder first in name order whose files are stamped later than others' first:
            // it must be opened as soon as its first stamp is due, ties go by path.
            "AAA/111122223300_CloudTrail_xx-region-7_20261001T0007Z_a.json.gz",
            "AAA/111122223300_CloudTrail_xx-region-7_20261001T0014Z_b.json.gz",
        ] {
            touch(root, rel);
        }
        let expected = sorted_whole(root);
        assert_eq!(expected.len(), 2 * 3 * 4 * 5 + 6 + 6);
        let files = Files::new(&[root.to_path_buf()]);
        assert_eq!(files.total_files(), expected.len());
        assert_eq!(files.total_bytes(), 3 * expected.len() as u64);
        let got: Vec<PathBuf> = files.collect();
        assert_eq!(got, expected);
        // Undated files first; the ties of a stamp across regions in path order.
        assert!(got[0].ends_with("notes.json"), "{:?}", got[0]);
        assert!(got[3]
            .to_string_lossy()
            .contains("111122223300_CloudTrail_xx-region-0_20261001T0000Z"));
        assert!(got[4]
            .to_string_lossy()
            .contains("111122223300_CloudTrail_xx-region-1_20261001T0000Z"));
        let first_at_0007 = got
            .iter()
            .find(|p| p.to_string_lossy().contains("20261001T0007Z"))
            .unwrap();
        assert!(first_at_0007.starts_with(root.join("AAA")), "{first_at_0007:?}");
    }

    #[test]
    fn arguments_keep_their_order_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        trail(&root.join("t"), 1, 2, 2, 2);
        touch(root, "one.json");
        let args = [
            root.join("one.json"),
            root.join("t"),
            root.join("gone"),
            PathBuf::from("-"),
        ];
        let mut files = Files::new(&args);
        assert_eq!(
            files.take_unreadable(),
            vec![format!(
                "{}: no such file or directory",
                root.join("gone").display()
            )]
        );
        let got: Vec<PathBuf> = files.by_ref().collect();
        let mut expected = vec![root.join("one.json")];
        expected.extend(sorted_whole(&root.join("t")));
        expected.push(PathBuf::from("-"));
        assert_eq!(got, expected);
        assert_eq!(files.total_files(), 10);
    }

    #[test]
    fn only_the_folders_due_are_listed_and_held() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (regions, days, per_day) = (4, 12, 6);
        trail(root, 1, regions, days, per_day);
        let mut files = Files::new(&[root.to_path_buf()]);
        let held = |files: &Files| match files.sources.front() {
            Some(Source::Tree(t)) => (t.open.len(), t.pending.len()),
            _ => (0, 0),
        };
        assert_eq!(held(&files), (0, regions * days));
        let mut most = 0;
        let mut n = 0;
        while files.next().is_some() {
            n += 1;
            most = most.max(held(&files).0);
        }
        assert_eq!(n, regions * days * per_day);
        // One day of every region at most, never the archive.
        assert!(most <= regions * per_day, "{most} files held");
        assert!(most >= per_day, "{most} files held");
    }

    #[test]
    fn a_folder_removed_before_it_is_reached_is_named_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        trail(root, 1, 2, 3, 2);
        let mut files = Files::new(&[root.to_path_buf()]);
        assert!(files.take_unreadable().is_empty());
        let gone = root.join("AWSLogs/111122223300/CloudTrail/xx-region-1/2026/10/03");
        fs::remove_dir_all(&gone).unwrap();
        // Added after the first pass: read in its folder's place.
        let late = "AWSLogs/111122223300/CloudTrail/xx-region-0/2026/10/02/111122223300_CloudTrail_xx-region-0_20261002T0001Z_late.json.gz";
        touch(root, late);
        let got: Vec<PathBuf> = files.by_ref().collect();
        assert_eq!(got, sorted_whole(root));
        assert!(got.contains(&root.join(late)));
        let unreadable = files.take_unreadable();
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        assert!(
            unreadable[0].starts_with(&gone.display().to_string()),
            "{unreadable:?}"
        );
    }
}
