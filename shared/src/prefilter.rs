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

/// Byte-level scope test built from a catalog.
pub struct Prefilter {
    /// Lower-cased AWS event names, bucketed by length: a million lines are tested, so the
    /// test compares a few same-length names in place instead of lower-casing into a new
    /// buffer and hashing it.
    aws_names: Vec<Vec<Vec<u8>>>,
    /// Lower-cased resource providers of the Azure rows with their `/`: mostly
    /// `microsoft.compute/`, also `microsoft.serialconsole/`.
    azure_providers: Vec<Vec<u8>>,
    name: Finder<'static>,
}

/// Which operation key a match is.
#[derive(Clone, Copy)]
enum Key {
    Aws,
    Azure,
}

impl Prefilter {
    /// Prefilter for the catalog's AWS event names and Azure compute operations.
    pub fn new(catalog: &Catalog) -> Prefilter {
        let mut aws_names: Vec<Vec<Vec<u8>>> = Vec::new();
        for e in catalog.for_cloud(Cloud::Aws) {
            let Some((_, n)) = e.operation.split_once(':') else {
                continue;
            };
            let n = n.to_ascii_lowercase().into_bytes();
            if aws_names.len() <= n.len() {
                aws_names.resize(n.len() + 1, Vec::new());
            }
            if !aws_names[n.len()].contains(&n) {
                aws_names[n.len()].push(n);
            }
        }
        let mut azure_providers: Vec<Vec<u8>> = Vec::new();
        for e in catalog.for_cloud(Cloud::Azure) {
            if let Some((provider, _)) = e.operation.split_once('/') {
                let p = format!("{}/", provider.to_ascii_lowercase()).into_bytes();
                if !azure_providers.contains(&p) {
                    azure_providers.push(p);
                }
            }
        }
        Prefilter {
            aws_names,
            azure_providers,
            name: Finder::new(b"Name").into_owned(),
        }
    }

    /// The keys `"eventName"`, `"operationName"` and `"OperationNameValue"` all contain `Name`:
    /// one scan finds every candidate, each checked by its neighbours.
    fn key_at(line: &[u8], pos: usize) -> Option<(Key, usize)> {
        let before = &line[..pos];
        let after = &line[pos + 4..];
        if after.starts_with(b"\"") {
            if before.ends_with(b"\"event") {
                return Some((Key::Aws, pos + 5));
            }
            if before.ends_with(b"\"operation") {
                return Some((Key::Azure, pos + 5));
            }
        } else if after.starts_with(b"Value\"") && before.ends_with(b"\"Operation") {
            return Some((Key::Azure, pos + 10));
        }
        None
    }

    /// False only when `line` certainly holds no in-scope record.
    pub fn may_match(&self, line: &[u8]) -> bool {
        let mut hit: Option<(Key, usize)> = None;
        for pos in self.name.find_iter(line) {
            if let Some(k) = Self::key_at(line, pos) {
                if hit.is_some() {
                    return true;
                }
                hit = Some(k);
            }
        }
        let Some((key, end)) = hit else { return true };
        let rest = &line[end..];
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
        match key {
            Key::Aws => self
                .aws_names
                .get(value.len())
                .is_some_and(|names| names.iter().any(|n| value.eq_ignore_ascii_case(n))),
            Key::Azure => self
                .azure_providers
                .iter()
                .any(|p| value.len() >= p.len() && value[..p.len()].eq_ignore_ascii_case(p)),
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
        assert!(p.may_match(br#"{"operationName":"MICROSOFT.SERIALCONSOLE/SERIALPORTS/CONNECT/ACTION"}"#));
        assert!(p.may_match(br#"{"operationName":{"value":"Microsoft.Storage/x"}}"#));
        assert!(p.may_match(b"not json at all"));
    }
}
