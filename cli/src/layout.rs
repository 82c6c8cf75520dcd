//! The accounts an archive's key layout names: CloudTrail's `AWSLogs/[o-ORG/]ACCOUNT/` and the
//! Activity Log export's `resourceId=/SUBSCRIPTIONS/SUB/`. An account that delivers its logs
//! into the archive is the organization's own ([`t1578_core::own`]): a share to it is evidence,
//! not a critical.
//!
//! Design decisions:
//! - **Folders only, and few of them.** The accounts are the folder names one or two levels
//!   under `AWSLogs` (or `SUBSCRIPTIONS`), so the search lists folders down to `MAX_DEPTH` below
//!   each input, at most `MAX_DIRS` listings in all, and never reads an object: a year of a
//!   trail costs a few listings, before the first event is decided.
//! - **One search, two listers** ([`Folders`]): local folders, and a bucket's or container's
//!   prefixes (`crate::remote`), so a replay of an archive in place and of its copy on disk take
//!   the same accounts as ours and print the same alerts.
//! - **The path itself counts**: an input inside the layout (`.../AWSLogs/o-x/111122223333/
//!   CloudTrail/eu-west-1/2026/`) names its account in its own segments.

use std::path::PathBuf;

/// Folders below an input searched for `AWSLogs` or `resourceId=`.
const MAX_DEPTH: usize = 4;
/// Folder listings in all, whatever the inputs.
const MAX_DIRS: usize = 4096;

/// What the inputs' key layout names.
pub struct Found {
    /// The AWS accounts and organizations and the Azure subscriptions, sorted and deduplicated
    /// (not validated: [`t1578_core::own::OwnAccounts`] keeps valid ids).
    pub ids: Vec<String>,
    /// The search stopped at its budget of listings: there may be more.
    pub exhausted: bool,
}

/// The accounts the inputs' key layout names. `remote` searches an archive in place (a
/// bucket's or container's prefixes, `crate::remote`) and says whether the input was one.
pub fn own_accounts(
    paths: &[PathBuf],
    mut remote: impl FnMut(&str, Option<Level>, &mut usize, &mut Vec<String>) -> bool,
) -> Found {
    let mut ids = Vec::new();
    let mut budget = MAX_DIRS;
    for p in paths {
        let text = p.to_string_lossy();
        let parts: Vec<&str> = text.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
        named_in(&parts, &mut ids);
        let level = parts.last().and_then(|n| {
            let parent = parts.len().checked_sub(2).map(|i| parts[i]);
            Level::of(n, parent)
        });
        if !remote(&text, level, &mut budget, &mut ids) && p.is_dir() {
            search(&mut LocalFolders(&mut budget), p.to_path_buf(), level, &mut ids);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Found {
        ids,
        exhausted: budget == 0,
    }
}

/// The accounts, organizations and subscriptions named by the segments of one key or path: the
/// segment after each folder of the layouts that holds them ([`Level`]).
fn named_in(parts: &[&str], out: &mut Vec<String>) {
    for (i, part) in parts.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| parts[p]);
        if let (Some(Level::AwsLogs | Level::Org | Level::Subscriptions), Some(child)) =
            (Level::of(part, parent), parts.get(i + 1))
        {
            out.push(child.to_string());
        }
    }
}

/// A tree of folders to search: what is directly in one, as (folder, name) pairs. An
/// implementation lists at most its budget of folders, and leaves unreadable ones to the
/// reader, which names them.
pub trait Folders {
    /// A folder of the tree.
    type Dir;
    /// The folders directly in `dir`.
    fn folders(&mut self, dir: &Self::Dir) -> Vec<(Self::Dir, String)>;
}

/// What a folder of the layouts holds: accounts and organizations (`AWSLogs`), an
/// organization's accounts, `SUBSCRIPTIONS` (`resourceId=`), or subscriptions.
#[derive(Clone, Copy)]
pub enum Level {
    /// `AWSLogs`: accounts, or organizations of accounts.
    AwsLogs,
    /// `AWSLogs/o-ORG`: accounts.
    Org,
    /// `resourceId=`: `SUBSCRIPTIONS`.
    ResourceId,
    /// `resourceId=/SUBSCRIPTIONS`: subscriptions.
    Subscriptions,
}

impl Level {
    /// The level of a folder named `name` in a folder named `parent`, if it is one.
    pub fn of(name: &str, parent: Option<&str>) -> Option<Level> {
        let under = |p: &str| parent.is_some_and(|x| x.eq_ignore_ascii_case(p));
        match name {
            "AWSLogs" => Some(Level::AwsLogs),
            n if n.eq_ignore_ascii_case("resourceId=") => Some(Level::ResourceId),
            // CloudTrail spells `AWSLogs` one way, as the `AWSLogs` arm above matches it.
            n if n.starts_with("o-") && parent == Some("AWSLogs") => Some(Level::Org),
            n if n.eq_ignore_ascii_case("SUBSCRIPTIONS") && under("resourceId=") => {
                Some(Level::Subscriptions)
            }
            _ => None,
        }
    }
}

/// Walk the folders under `root` (itself a folder of the layouts at `level`, if it is one),
/// breadth first, for the layouts' account folders.
pub fn search<F: Folders>(tree: &mut F, root: F::Dir, level: Option<Level>, out: &mut Vec<String>) {
    if let Some(l) = level {
        return collect(tree, &root, l, out);
    }
    let mut queue = std::collections::VecDeque::from([(root, 0usize)]);
    while let Some((dir, depth)) = queue.pop_front() {
        for (path, name) in tree.folders(&dir) {
            match Level::of(&name, None) {
                Some(l) => collect(tree, &path, l, out),
                None if depth + 1 < MAX_DEPTH => queue.push_back((path, depth + 1)),
                None => {}
            }
        }
    }
}

/// The accounts, organizations or subscriptions under `dir`, a folder at `level`.
fn collect<F: Folders>(tree: &mut F, dir: &F::Dir, level: Level, out: &mut Vec<String>) {
    match level {
        Level::AwsLogs => {
            for (sub, name) in tree.folders(dir) {
                if name.starts_with("o-") {
                    collect(tree, &sub, Level::Org, out);
                }
                out.push(name);
            }
        }
        Level::ResourceId => {
            for (subs, name) in tree.folders(dir) {
                if name.eq_ignore_ascii_case("SUBSCRIPTIONS") {
                    collect(tree, &subs, Level::Subscriptions, out);
                }
            }
        }
        Level::Org | Level::Subscriptions => {
            out.extend(tree.folders(dir).into_iter().map(|(_, a)| a));
        }
    }
}

/// Local folders, while the budget lasts.
struct LocalFolders<'a>(&'a mut usize);

impl Folders for LocalFolders<'_> {
    type Dir = PathBuf;

    fn folders(&mut self, dir: &PathBuf) -> Vec<(PathBuf, String)> {
        if *self.0 == 0 {
            return Vec::new();
        }
        *self.0 -= 1;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        // Links followed, as the reader follows them (depth and budget bound the walk); sorted,
        // so that a budget run out stops at the same place every time.
        let mut out: Vec<(PathBuf, String)> = entries
            .flatten()
            .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()))
            .filter_map(|e| Some((e.path(), e.file_name().into_string().ok()?)))
            .collect();
        out.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_remote(_: &str, _: Option<Level>, _: &mut usize, _: &mut Vec<String>) -> bool {
        false
    }

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
        let found = own_accounts(std::slice::from_ref(&root), no_remote).ids;
        // A folder of the layout itself: what is under it.
        let aws_logs = own_accounts(&[root.join("trail/AWSLogs")], no_remote).ids;
        let subscriptions = own_accounts(
            &[root.join("az/insights-activity-logs/resourceId=/SUBSCRIPTIONS")],
            no_remote,
        )
        .ids;
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            aws_logs,
            ["111122223333", "444455556666", "777788889999", "o-abc123def4"]
        );
        assert_eq!(subscriptions, ["6D2E9F41-8A3B-4C57-B0E6-1F7A2C9D8E35"]);
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
        let inside = own_accounts(
            &[PathBuf::from(
                "s3://bucket/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2026/",
            )],
            |_, _, _, _| true,
        )
        .ids;
        assert_eq!(inside, ["111122223333", "o-abc123def4"]);
        assert!(own_accounts(&[PathBuf::from("events/aws/x.json")], no_remote)
            .ids
            .is_empty());
    }
}
