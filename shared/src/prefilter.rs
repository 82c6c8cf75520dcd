//! Skip-fast path for line-oriented input: decide from raw bytes, without parsing, that a line
//! certainly holds no in-scope record. Most CloudTrail lines are out of scope (Describe*, S3,
//! IAM...), so parsing only the rest is what makes a replay fast.
//!
//! It answers "maybe" whenever it cannot be sure: the operation key absent or present more
//! than once (nested or odd casing), a value with escapes, an object instead of a string. So it
//! can only ever skip a line whose single operation value is plainly out of scope.

use crate::catalog::Catalog;
use crate::event::Cloud;
use memchr::memmem::Finder;
use std::collections::HashSet;

/// Azure operations in scope all belong to this provider (the seed's `ResourceProviderValue`).
const AZURE_PREFIX: &[u8] = b"microsoft.compute/";

/// Byte-level scope test built from a catalog.
pub struct Prefilter {
    aws_names: HashSet<Vec<u8>>,
    keys: Vec<(Finder<'static>, bool)>,
}

impl Prefilter {
    /// Prefilter for the catalog's AWS event names and Azure compute operations.
    pub fn new(catalog: &Catalog) -> Prefilter {
        let aws_names = catalog
            .for_cloud(Cloud::Aws)
            .filter_map(|e| {
                e.operation
                    .split_once(':')
                    .map(|(_, n)| n.to_ascii_lowercase().into_bytes())
            })
            .collect();
        let keys = vec![
            (Finder::new(b"\"eventName\"").into_owned(), true),
            (Finder::new(b"\"operationName\"").into_owned(), false),
            (Finder::new(b"\"OperationNameValue\"").into_owned(), false),
        ];
        Prefilter { aws_names, keys }
    }

    /// False only when `line` certainly holds no in-scope record.
    pub fn may_match(&self, line: &[u8]) -> bool {
        let mut hit: Option<(usize, usize, bool)> = None;
        for (finder, aws) in &self.keys {
            let mut it = finder.find_iter(line);
            if let Some(pos) = it.next() {
                if hit.is_some() || it.next().is_some() {
                    return true;
                }
                hit = Some((pos, finder.needle().len(), *aws));
            }
        }
        let Some((pos, len, aws)) = hit else { return true };
        let rest = &line[pos + len..];
        let mut i = 0;
        while i < rest.len() && rest[i].is_ascii_whitespace() {
            i += 1;
        }
        if rest.get(i) != Some(&b':') {
            return true;
        }
        i += 1;
        while i < rest.len() && rest[i].is_ascii_whitespace() {
            i += 1;
        }
        if rest.get(i) != Some(&b'"') {
            return true;
        }
        let start = i + 1;
        let Some(len) = memchr::memchr(b'"', &rest[start..]) else {
            return true;
        };
        let value = &rest[start..start + len];
        if value.contains(&b'\\') {
            return true;
        }
        if aws {
            self.aws_names.contains(&value.to_ascii_lowercase())
        } else {
            value.len() >= AZURE_PREFIX.len()
                && value[..AZURE_PREFIX.len()].eq_ignore_ascii_case(AZURE_PREFIX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf() -> Prefilter {
        Prefilter::new(&Catalog::builtin().unwrap())
    }

    #[test]
    fn skips_plain_out_of_scope_lines_only() {
        let p = pf();
        assert!(!p.may_match(br#"{"eventName":"DescribeInstances","eventSource":"ec2.amazonaws.com"}"#));
        assert!(p.may_match(br#"{"eventName" : "CreateSnapshot"}"#));
        assert!(p.may_match(br#"{"eventName":"createsnapshot"}"#));
        assert!(p.may_match(br#"{"eventName":"Create\u0053napshot"}"#));
        assert!(p.may_match(br#"{"EventName":"DescribeInstances"}"#));
        assert!(p.may_match(br#"{"a":{"eventName":"X"},"eventName":"Y"}"#));
        assert!(!p.may_match(br#"{"operationName":"MICROSOFT.STORAGE/STORAGEACCOUNTS/WRITE"}"#));
        assert!(p.may_match(br#"{"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE"}"#));
        assert!(p.may_match(br#"{"operationName":{"value":"Microsoft.Storage/x"}}"#));
        assert!(p.may_match(b"not json at all"));
    }
}
