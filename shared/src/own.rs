//! The organization's own accounts: AWS accounts and organizations, Azure subscriptions and
//! tenants that a share may go to, or an Azure copy come from, without leaving the organization.
//!
//! Design decisions:
//! - **A share to an own account is evidence, not a single-event critical**, as a share to a
//!   known destination is ([`crate::decision`]). Backup products, DR copies and image pipelines
//!   share to the organization's backup, DR and workload accounts from their first night, and
//!   each was a critical while the detector was still learning them (every short backtest of
//!   two independent probes). A share outside the organization, or to the public, stays one.
//! - **Two sources, both lists of ids**: the tuning's `own_accounts`, and the accounts an
//!   archive's key layout names (`AWSLogs/[o-ORG/]ACCOUNT/`, `resourceId=/SUBSCRIPTIONS/SUB/`),
//!   which the CLI adds: an account whose logs the archive holds is the organization's while
//!   only the trail and the export write there; the CLI names each on stderr, as whoever can
//!   write into the archive can add a folder.
//! - **Ids compared without case, kept sorted**: a binary search per destination of a critical,
//!   which is rare; nothing is looked up for other events.

/// Sorted, deduplicated, lower-case ids (12-digit AWS accounts, `o-` organizations, GUIDs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnAccounts(Vec<String>);

impl OwnAccounts {
    /// The ids given, lower-cased; ids that are not [`OwnAccounts::valid_id`] are left out.
    pub fn of<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> OwnAccounts {
        let mut o = OwnAccounts::default();
        o.extend(ids);
        o
    }

    /// Add the ids given (the same rule as [`OwnAccounts::of`]).
    pub fn extend<S: AsRef<str>>(&mut self, ids: impl IntoIterator<Item = S>) {
        self.0
            .extend(ids.into_iter().filter_map(|s| Self::id(s.as_ref())));
        self.0.sort_unstable();
        self.0.dedup();
    }

    /// The ids given, every one valid, or the position of the first that is not: a tuning
    /// document's list, whose mistakes are errors, not left out.
    pub fn parse<S: AsRef<str>>(ids: &[S]) -> Result<OwnAccounts, usize> {
        match ids.iter().position(|s| Self::id(s.as_ref()).is_none()) {
            Some(i) => Err(i),
            None => Ok(Self::of(ids)),
        }
    }

    /// An id as kept (trimmed, lower case), if it is a [`OwnAccounts::valid_id`].
    fn id(s: &str) -> Option<String> {
        Some(s.trim().to_ascii_lowercase()).filter(|s| Self::valid_id(s))
    }

    /// An AWS account id (12 digits), an AWS organization id (`o-` and 10 to 32 lower-case
    /// letters or digits), or a GUID (an Azure subscription or tenant), in any case.
    pub fn valid_id(s: &str) -> bool {
        let org = s
            .strip_prefix("o-")
            .is_some_and(|r| (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
        is_account_or_subscription(s) || org
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No ids.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids, sorted.
    pub fn ids(&self) -> &[String] {
        &self.0
    }

    fn has(&self, id: &str) -> bool {
        self.0.binary_search_by(|x| cmp_ignore_case(x, id)).is_ok()
    }

    /// Is `recipient` (a share's recipient or a copy's source, as the engine keeps it) one of
    /// ours: the id itself, another account's root (`arn:aws:iam::ACCOUNT:root`: the account
    /// copying a snapshot shared with it), or an organization or OU of an own organization
    /// (`...:organization/o-...`, `...:ou/o-.../ou-...`)?
    pub fn owns(&self, recipient: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        if let Some(rest) = recipient.strip_prefix("arn:aws:iam::") {
            return rest.strip_suffix(":root").is_some_and(|acct| self.has(acct));
        }
        for marker in [":organization/", ":ou/"] {
            if let Some(i) = recipient.find(marker) {
                let org = recipient[i + marker.len()..].split('/').next().unwrap_or("");
                return org.starts_with("o-") && self.has(org);
            }
        }
        self.has(recipient)
    }
}

/// A 12-digit AWS account id or a GUID (an Azure subscription or tenant).
pub(crate) fn is_account_or_subscription(s: &str) -> bool {
    let aws = s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    let guid = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    aws || guid
}

fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accounts_roots_and_organizations_are_owned() {
        let o = OwnAccounts::of([
            "111122223333",
            "O-ABC123DEF4",
            "6D2E9F41-8A3B-4C57-B0E6-1F7A2C9D8E35",
            "not-an-id",
        ]);
        assert_eq!(o.len(), 3);
        assert!(o.owns("111122223333"));
        assert!(o.owns("arn:aws:iam::111122223333:root"));
        assert!(o.owns("6d2e9f41-8a3b-4c57-b0e6-1f7a2c9d8e35"));
        assert!(o.owns("arn:aws:organizations::999988887777:organization/o-abc123def4"));
        assert!(o.owns("arn:aws:organizations::999988887777:ou/o-abc123def4/ou-ab12-cdef3456"));
        assert!(!o.owns("444455556666"));
        assert!(!o.owns("arn:aws:iam::444455556666:root"));
        assert!(!o.owns("arn:aws:iam::111122223333:user/x"));
        assert!(!o.owns("arn:aws:organizations::111122223333:organization/o-zzzzzzzzzz"));
        assert!(!o.owns("all"));
        assert!(!OwnAccounts::default().owns("111122223333"));
    }
}
