//! The accounts an archive's key layout names: CloudTrail's `AWSLogs/[o-ORG/]ACCOUNT/` and the
//! Activity Log export's `resourceId=/SUBSCRIPTIONS/SUB/`. An account that delivers its logs
//! into the archive is the organization's own ([`t1578_core::own`]): a share to it is evidence,
//! not a critical.
//!
//! Design decisions:
//! - **Folders only, and few of them.** The accounts are the folder names one or two levels
//!   under `AWSLogs` (or `SUBSCRIPTIONS`), so the search lists folders down to `MAX_DEPTH` below
//!   each input, at most `MAX_DIRS` of them, and never a file: a year of a trail costs a few
//!   folder listings, before the first event is decided.
//! - **The path itself counts**: an input inside the layout (`.../AWSLogs/o-x/111122223333/
//!   CloudTrail/eu-west-1/2026/`) or an `s3://` URL names its account in its own segments. A
//!   bucket prefix above the accounts is not listed for this: the tuning's `own_accounts` names
//!   them.

use std::path::{Path, PathBuf};

/// Folders below an input searched for `AWSLogs` or `resourceId=`.
const MAX_DEPTH: usize = 4;
/// Folders listed in all, whatever the inputs.
const MAX_DIRS: usize = 4096;

/// The AWS accounts and organizations and the Azure subscriptions the inputs' key layout names,
/// sorted and deduplicated (not validated: [`t1578_core::own::OwnAccounts`] keeps valid ids).
pub fn own_accounts(paths: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    let mut budget = MAX_DIRS;
    for p in paths {
        let text = p.to_string_lossy();
        let parts: Vec<&str> = text.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
        named_in(&parts, &mut out);
        if !crate::remote::is_remote(p) && p.is_dir() {
            search(p, &mut budget, &mut out);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The accounts, organizations and subscriptions named by the segments of one key or path.
fn named_in(parts: &[&str], out: &mut Vec<String>) {
    for (i, part) in parts.iter().enumerate() {
        let next = |k: usize| parts.get(i + k).copied();
        if *part == "AWSLogs" {
            match next(1) {
                Some(org) if org.starts_with("o-") => {
                    out.push(org.to_string());
                    out.extend(next(2).map(str::to_string));
                }
                Some(acct) => out.push(acct.to_string()),
                None => {}
            }
        } else if part.eq_ignore_ascii_case("resourceId=")
            && next(1).is_some_and(|s| s.eq_ignore_ascii_case("SUBSCRIPTIONS"))
        {
            out.extend(next(2).map(str::to_string));
        }
    }
}

/// Walk the folders under `root`, breadth first, for the layout's account folders.
fn search(root: &Path, budget: &mut usize, out: &mut Vec<String>) {
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    while let Some((dir, depth)) = queue.pop_front() {
        for (path, name) in folders(&dir, budget) {
            match name.as_str() {
                "AWSLogs" => {
                    for (sub, acct) in folders(&path, budget) {
                        if acct.starts_with("o-") {
                            out.extend(folders(&sub, budget).into_iter().map(|(_, a)| a));
                        }
                        out.push(acct);
                    }
                }
                n if n.eq_ignore_ascii_case("resourceId=") => {
                    for (subs, s) in folders(&path, budget) {
                        if s.eq_ignore_ascii_case("SUBSCRIPTIONS") {
                            out.extend(folders(&subs, budget).into_iter().map(|(_, a)| a));
                        }
                    }
                }
                _ if depth + 1 < MAX_DEPTH => queue.push_back((path, depth + 1)),
                _ => {}
            }
        }
    }
}

/// The folders directly in `dir` (path, name), while the budget lasts; unreadable ones are
/// left to the reader, which names them.
fn folders(dir: &Path, budget: &mut usize) -> Vec<(PathBuf, String)> {
    if *budget == 0 {
        return Vec::new();
    }
    *budget -= 1;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.path(), e.file_name().into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_read_from_folders_and_from_the_path() {
        let root = std::env::temp_dir().join(format!("t1578-layout-{}", std::process::id()));
        let dirs = [
            "trail/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2026/11/01",
            "trail/AWSLogs/o-abc123def4/444455556666/CloudTrail/eu-west-1/2026/11/01",
            "trail/AWSLogs/777788889999/CloudTrail/us-east-1/2026/11/01",
            "az/insights-activity-logs/resourceId=/SUBSCRIPTIONS/6D2E9F41-8A3B-4C57-B0E6-1F7A2C9D8E35/y=2026",
        ];
        for d in dirs {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let found = own_accounts(std::slice::from_ref(&root));
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            found,
            [
                "111122223333",
                "444455556666",
                "6D2E9F41-8A3B-4C57-B0E6-1F7A2C9D8E35",
                "777788889999",
                "o-abc123def4"
            ]
        );
        let inside = own_accounts(&[PathBuf::from(
            "s3://bucket/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2026/",
        )]);
        assert_eq!(inside, ["111122223333", "o-abc123def4"]);
        assert!(own_accounts(&[PathBuf::from("events/aws/x.json")]).is_empty());
    }
}
