//! Skip-fast path for line-oriented input: decide from raw bytes, without parsing, that a line
//! certainly holds no in-scope record. Most CloudTrail lines are out of scope (Describe*, S3,
//! IAM...), so parsing only the rest is what makes a replay fast.
//!
//! It answers "maybe" whenever it cannot be sure: the operation key absent or present more
//! than once (nested or odd casing), a value with escapes, an object instead of a string. So it
//! can only ever skip a line whose single operation value is plainly out of scope.
//!
//! One assumption, which every producer meets: an operation key (`eventName`, `operationName`,
//! `OperationNameValue`) is not also written, at the record's level, with its `Name` in
//! another casing (`eventname`) or escaped (`event\u004eame`), beside a copy in the exact
//! spelling elsewhere in the line. The normalizer would read that one; the prefilter finds
//! keys by their exact `Name`, and a case-blind scan of every line costs about six times the
//! whole prefilter (0.75 s against 0.13 s for the million lines of the look-alike bench).
//! Another casing of the key's first part (`"EventName"`) is found, and makes the line unsure.
//! The keys read after the operation (`eventSource`, the outcome) are taken only where the
//! normalizer certainly reads them.
//!
//! Look-alikes are told apart the same way: an in-catalog AWS name from a service the catalog
//! does not list for it (ElastiCache's `CreateSnapshot`), and, once a profile's counted phases
//! are given (`Prefilter::counting`), a failed call (a top-level `errorCode`), a CloudTrail
//! network activity record (a top-level `eventType` `AwsVpceEvent`) or an Azure phase the
//! profile does not count. Those keys are read only at the record's top level (or the top
//! level of an EventBridge envelope's `detail`, the CloudTrail record it carries): a nested
//! copy (attacker-chosen request content) is never taken for the record's own. And only
//! beside the operation key, in a line that is one object: a container's records (an array,
//! `Records` or `records`, `Events`, `CloudTrailEvent`, `logEvents`) are what the reader
//! counts, and an outer object's `errorCode` says nothing of them.

use crate::catalog::Catalog;
use crate::event::{Cloud, Phase, NETWORK_ACTIVITY_TYPE};
use crate::kql;
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// Azure operations in scope all belong to this provider (the seed's `ResourceProviderValue`).
const AZURE_PREFIX: &[u8] = b"microsoft.compute/";

/// A fixed string the prefilter looks for (a quoted key, or the `\u` of an escape), with its
/// searcher built once: built per line (as `memmem::find` does), the searchers cost about 1 %
/// of a replay.
/// The normalizers' line fast paths declare theirs with [`quoted_keys`] too.
pub(crate) type QuotedKey = LazyLock<Finder<'static>>;

macro_rules! quoted_keys {
    ($($name:ident = $text:expr;)*) => {
        $(static $name: $crate::prefilter::QuotedKey =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($text));)*
    };
}
pub(crate) use quoted_keys;

quoted_keys! {
    EVENT_SOURCE = b"\"eventSource\"";
    EVENT_TIME = b"\"eventTime\"";
    TIME = b"\"time\"";
    TIME_GENERATED = b"\"TimeGenerated\"";
    ERROR_CODE = b"\"errorCode\"";
    EVENT_TYPE = b"\"eventType\"";
    RESULT_TYPE = b"\"resultType\"";
    ACTIVITY_STATUS = b"\"ActivityStatusValue\"";
    DETAIL = b"\"detail\"";
    DETAIL_TYPE = b"\"detail-type\"";
    QUOTE_LOWER_D = b"\"d";
    QUOTE_UPPER_D = b"\"D";
    UNICODE_ESCAPE = b"\\u";
}

/// Byte-level scope test built from a catalog.
pub struct Prefilter {
    /// Lower-cased AWS event names, bucketed by length, each with the services (`ec2`, `rds`)
    /// the catalog lists it for: a million lines are tested, so the test compares a few
    /// same-length names in place instead of lower-casing into a new buffer and hashing it.
    aws_names: Vec<Vec<AwsName>>,
    /// Lower-cased Azure operations of the catalog, bucketed by length; the seed's are matched
    /// by `has`. A binary search over them ran a dozen `memcmp` of their shared
    /// `microsoft.compute/` prefix on every Azure line: 5 % of a replay's CPU.
    azure_ops: Vec<Vec<Vec<u8>>>,
    /// Every Azure operation the catalog or the seed can match contains [`AZURE_PREFIX`].
    azure_prefixed: bool,
    name: Finder<'static>,
    /// Finds [`AZURE_PREFIX`].
    prefix: Finder<'static>,
    /// The seed's operations, lower-cased, for its `has_any` on a lower-cased value; `None`
    /// when one does not start with [`AZURE_PREFIX`] (then `kql::has_any` is run as it is).
    seed_ops: Option<Vec<Vec<u8>>>,
    /// Counted phases per cloud (indexed by [`phase_index`]); `None`: every phase may count.
    counted: Option<[[bool; PHASES.len()]; 2]>,
    /// Lower-cased Azure operations counted from their `Start` record whatever `counted`
    /// says, each with the request-body key (lower-cased) without which no row counts its
    /// Start ([`Prefilter::starting`]).
    starts: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Event times (epoch ms, inclusive) the caller keeps; `None`: any.
    span: Option<(i64, i64)>,
}

/// A lower-cased AWS event name and the lower-cased services it is in the catalog for.
type AwsName = (Vec<u8>, Vec<Vec<u8>>);

/// What a `Name` found in a line is part of.
enum Spelled {
    /// An operation key in its exact spelling: where its opening quote is, and where its value
    /// starts.
    Exact(Key, usize, usize),
    /// An operation key in another casing.
    Otherwise,
    /// Anything else.
    NotAKey,
}

/// Which operation key a match is.
#[derive(Clone, Copy)]
enum Key {
    Aws,
    Azure,
    /// `OperationNameValue` of a Log Analytics row.
    AzureRow,
}

/// The bucket of names `len` bytes long, made (with those before it) if missing.
fn bucket<T>(buckets: &mut Vec<Vec<T>>, len: usize) -> &mut Vec<T> {
    if buckets.len() <= len {
        buckets.resize_with(len + 1, Vec::new);
    }
    &mut buckets[len]
}

fn phase_index(p: Phase) -> usize {
    match p {
        Phase::Success => 0,
        Phase::Start => 1,
        Phase::Accept => 2,
        Phase::Failure => 3,
        Phase::DryRun => 4,
        Phase::Other => 5,
        Phase::Network => 6,
    }
}

const PHASES: [Phase; 7] = [
    Phase::Success,
    Phase::Start,
    Phase::Accept,
    Phase::Failure,
    Phase::DryRun,
    Phase::Other,
    Phase::Network,
];

impl Prefilter {
    /// Prefilter for the catalog's AWS event names and Azure compute operations.
    pub fn new(catalog: &Catalog) -> Prefilter {
        let mut aws_names: Vec<Vec<AwsName>> = Vec::new();
        for e in catalog.for_cloud(Cloud::Aws) {
            let Some((svc, n)) = e.operation.split_once(':') else {
                continue;
            };
            let (svc, n) = (
                svc.to_ascii_lowercase().into_bytes(),
                n.to_ascii_lowercase().into_bytes(),
            );
            let bucket = bucket(&mut aws_names, n.len());
            match bucket.iter_mut().find(|(x, _)| *x == n) {
                Some((_, svcs)) if !svcs.contains(&svc) => svcs.push(svc),
                Some(_) => {}
                None => bucket.push((n, vec![svc])),
            }
        }
        let mut azure_ops: Vec<Vec<Vec<u8>>> = Vec::new();
        for e in catalog.for_cloud(Cloud::Azure) {
            let op = e.operation.to_ascii_lowercase().into_bytes();
            let bucket = bucket(&mut azure_ops, op.len());
            if !bucket.contains(&op) {
                bucket.push(op);
            }
        }
        let seed_ops: Vec<Vec<u8>> = kql::SEED_OPERATIONS
            .iter()
            .map(|o| o.to_ascii_lowercase().into_bytes())
            .collect();
        let has_prefix = |op: &str| op.to_ascii_lowercase().contains("microsoft.compute/");
        let azure_prefixed = catalog.for_cloud(Cloud::Azure).all(|e| has_prefix(&e.operation))
            && kql::SEED_OPERATIONS.iter().all(|o| has_prefix(o));
        Prefilter {
            aws_names,
            azure_ops,
            azure_prefixed,
            name: Finder::new(b"Name").into_owned(),
            prefix: Finder::new(AZURE_PREFIX).into_owned(),
            seed_ops: seed_ops
                .iter()
                .all(|o| o.starts_with(AZURE_PREFIX))
                .then_some(seed_ops),
            counted: None,
            starts: Vec::new(),
            span: None,
        }
    }

    /// Keep every record of these Azure operations whatever its phase says: the rows counted
    /// from their `Start` record ([`crate::catalog::Entry::on_start`]). The engine builds both
    /// rules at once ([`crate::engine::Engine::prefilter`]).
    pub(crate) fn starting<'a>(
        mut self,
        operations: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Prefilter {
        self.starts = operations
            .into_iter()
            .map(|(o, needs)| {
                let lower = |t: &str| t.to_ascii_lowercase().into_bytes();
                (lower(o), needs.map(lower))
            })
            .collect();
        self
    }

    /// Whether an operation value holds one of [`Prefilter::starts`], in any casing, and the
    /// line the key its Start is counted for: a superset of the Start records the engine
    /// counts. A line with a `\u` escape keeps its Start whatever it holds (an escaped key
    /// is the same key to a JSON parser). Asked only of a record in its `Start` phase, which the
    /// profile does not count otherwise.
    fn counted_from_start(&self, value: &[u8], line: &[u8]) -> bool {
        let has =
            |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
        self.starts.iter().any(|(op, needs)| {
            has(value, op)
                && needs
                    .as_deref()
                    .is_none_or(|n| has(line, n) || memchr::memmem::find(line, b"\\u").is_some())
        })
    }

    /// Also skip records whose own time is certainly outside `since..=until` (epoch ms; either
    /// open): a caller that drops those events after normalizing them (`query --until`, a
    /// replay's `--since/--until`) then never parses them.
    pub fn within(mut self, since: Option<i64>, until: Option<i64>) -> Prefilter {
        if since.is_some() || until.is_some() {
            self.span = Some((since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)));
        }
        self
    }

    /// Also skip records in a phase that `counts` says is not counted (a failed call, an Azure
    /// `Accept` under the seed profile). Crate-only: callers take [`crate::engine::Engine::prefilter`],
    /// which passes the engine's own rules, so the two never disagree.
    pub(crate) fn counting(mut self, counts: impl Fn(Cloud, Phase) -> bool) -> Prefilter {
        let mut table = [[true; PHASES.len()]; 2];
        for (c, cloud) in [Cloud::Aws, Cloud::Azure].into_iter().enumerate() {
            for p in PHASES {
                table[c][phase_index(p)] = counts(cloud, p);
            }
        }
        self.counted = Some(table);
        self
    }

    /// The keys `"eventName"`, `"operationName"` and `"OperationNameValue"` all contain `Name`:
    /// one scan finds every candidate, each checked by its neighbours. A key spelled in another
    /// casing around that `Name` (`"EventName"`, `"OperationNameVALUE"`) is one the normalizer
    /// reads when the exact spelling is absent from its object: the line is then unsure.
    /// So is one inside a string, its quotes escaped (`\"eventName\"`): the reader parses the
    /// strings of a container (a `Records` or `CloudTrailEvent` string, a `logEvents` message)
    /// and counts the records they hold.
    fn key_at(line: &[u8], pos: usize) -> Spelled {
        let before = &line[..pos];
        let after = &line[pos + 4..];
        // `Some(exact)` when `before` ends with `suffix` in some casing.
        let ends = |suffix: &[u8]| {
            let tail = &before[before.len().saturating_sub(suffix.len())..];
            if tail == suffix {
                Some(true)
            } else {
                tail.eq_ignore_ascii_case(suffix).then_some(false)
            }
        };
        let escaped_end = |from: usize| after.get(from) == Some(&b'\\');
        if (escaped_end(0) && (ends(b"event").is_some() || ends(b"operation").is_some()))
            || (escaped_end(5) && after[..5].eq_ignore_ascii_case(b"value") && ends(b"operation").is_some())
        {
            return Spelled::Otherwise;
        }
        let (key, start, end, exact) = if after.starts_with(b"\"") {
            match (ends(b"\"event"), ends(b"\"operation")) {
                (Some(exact), _) => (Key::Aws, pos - 6, pos + 5, exact),
                (_, Some(exact)) => (Key::Azure, pos - 10, pos + 5, exact),
                _ => return Spelled::NotAKey,
            }
        } else if after.len() >= 6 && after[..6].eq_ignore_ascii_case(b"value\"") {
            match ends(b"\"Operation") {
                Some(exact) => (
                    Key::AzureRow,
                    pos - 10,
                    pos + 10,
                    exact && after.starts_with(b"Value\""),
                ),
                None => return Spelled::NotAKey,
            }
        } else {
            return Spelled::NotAKey;
        };
        if exact {
            Spelled::Exact(key, start, end)
        } else {
            Spelled::Otherwise
        }
    }

    /// False only when `line` certainly holds no in-scope record.
    pub fn may_match(&self, line: &[u8]) -> bool {
        let mut hit: Option<(Key, usize, usize)> = None;
        for pos in self.name.find_iter(line) {
            match Self::key_at(line, pos) {
                Spelled::Exact(..) | Spelled::Otherwise if hit.is_some() => return true,
                Spelled::Exact(key, start, end) => hit = Some((key, start, end)),
                Spelled::Otherwise => return true,
                Spelled::NotAKey => {}
            }
        }
        let Some((key, start, end)) = hit else { return true };
        let Some(value) = plain_string(&line[end..]) else {
            return true;
        };
        let rest = Line::new(line, start);
        let in_scope = match key {
            Key::Aws => self.aws_may_match(&rest, value),
            Key::Azure | Key::AzureRow => {
                let status_key = match key {
                    Key::Azure => &RESULT_TYPE,
                    _ => &ACTIVITY_STATUS,
                };
                self.azure_may_match(value)
                    && self.phase_may_count(&rest, Cloud::Azure, status_key, || {
                        self.counted_from_start(value, line)
                    })
            }
        };
        in_scope && self.time_may_fit(&rest, key)
    }

    /// False only when the record's own time is certainly outside the span. The time key is
    /// the one the normalizer reads for the record's shape, taken only when it is certain to be
    /// what the normalizer reads: the line is one object; the key in its exact spelling (the
    /// normalizer tries that first) once in the line, at the top level, a plain string; no key,
    /// in any casing, that would make the normalizer read another shape (or the reader take the
    /// line for a container of records); the operation key at the top level too, so both are
    /// the same record's and not an outer object's beside the records it holds (`Events`,
    /// `CloudTrailEvent`, `logEvents`); and no `\u` escape anywhere, since an escaped duplicate
    /// of the key would be the one a JSON parser keeps.
    fn time_may_fit(&self, rest: &Line, key: Key) -> bool {
        let Some((since, until)) = self.span else {
            return true;
        };
        let line = rest.bytes;
        let (time_key, other_shapes): (&QuotedKey, &[&[u8]]) = match key {
            Key::Aws => (&EVENT_TIME, &[b"\"detail", b"\"records\""]),
            Key::Azure => (
                &TIME,
                &[
                    b"\"detail",
                    b"\"records\"",
                    b"\"eventname\"",
                    b"\"eventsource\"",
                    b"\"operationnamevalue\"",
                ],
            ),
            Key::AzureRow => (
                &TIME_GENERATED,
                &[b"\"detail", b"\"records\"", b"\"eventname\"", b"\"eventsource\""],
            ),
        };
        if line.first() != Some(&b'{')
            || UNICODE_ESCAPE.find(line).is_some()
            || has_key_ignore_case(line, other_shapes)
        {
            return true;
        }
        let Some((key_pos, at)) = single_key(line, time_key) else {
            return true;
        };
        let cloud = match key {
            Key::Aws => Cloud::Aws,
            Key::Azure | Key::AzureRow => Cloud::Azure,
        };
        // With no `detail` key (ruled out above), the operation at the record's level is at
        // the top level: [`Line::one_record`], worked out once if a check before asked it.
        if !top_level(&line[..key_pos]) || !rest.one_record(cloud) {
            return true;
        }
        let Some(text) = plain_string(at).and_then(|v| std::str::from_utf8(v).ok()) else {
            return true;
        };
        crate::normalize::time_of_text(text).is_none_or(|t| (since..=until).contains(&t))
    }

    fn aws_may_match(&self, line: &Line, name: &[u8]) -> bool {
        let Some(svcs) = self.aws_names.get(name.len()).and_then(|names| {
            names
                .iter()
                .find(|(n, _)| name.eq_ignore_ascii_case(n))
                .map(|(_, s)| s)
        }) else {
            return false;
        };
        // The service, as the normalizer derives it: lower-cased, `.amazonaws.com` trimmed
        // (repeatedly, as `trim_end_matches` does).
        if let Some((pos, source)) = own_key(line, &EVENT_SOURCE) {
            let mut s = source.to_ascii_lowercase();
            while s.ends_with(b".amazonaws.com") {
                s.truncate(s.len() - b".amazonaws.com".len());
            }
            if !svcs.contains(&s) && line.reads(pos, Cloud::Aws) {
                return false;
            }
        }
        !self.uncounted_network(line) && self.phase_may_count(line, Cloud::Aws, &ERROR_CODE, || false)
    }

    /// Whether the record is certainly a CloudTrail network activity record (`eventType`
    /// `AwsVpceEvent`, in any casing as the normalizer compares it) and the profile does not
    /// count [`Phase::Network`]: the normalizer gives that phase whatever the `errorCode`. A trail
    /// that logs EC2's network activity holds one beside every call through an endpoint, with
    /// the call's own name and service, so nothing before this tells the two apart.
    fn uncounted_network(&self, line: &Line) -> bool {
        let Some(table) = &self.counted else {
            return false;
        };
        !table[Cloud::Aws as usize][phase_index(Phase::Network)]
            && own_key(line, &EVENT_TYPE).is_some_and(|(pos, value)| {
                value.eq_ignore_ascii_case(NETWORK_ACTIVITY_TYPE.as_bytes()) && line.reads(pos, Cloud::Aws)
            })
    }

    /// Every Azure line is tested: lower-cased on the stack, and the seed's `has_any` run only
    /// where [`AZURE_PREFIX`] occurs (every seed operation starts with it), with the same term
    /// match as [`kql::has`], instead of 13 scans of every offset.
    fn azure_may_match(&self, value: &[u8]) -> bool {
        let mut stack = [0u8; 256];
        let heap;
        let lc: &[u8] = match stack.get_mut(..value.len()) {
            Some(buf) => {
                buf.copy_from_slice(value);
                buf.make_ascii_lowercase();
                buf
            }
            None => {
                heap = value.to_ascii_lowercase();
                &heap
            }
        };
        if self.azure_prefixed && self.prefix.find(lc).is_none() {
            return false;
        }
        if self
            .azure_ops
            .get(lc.len())
            .is_some_and(|ops| ops.iter().any(|o| o == lc))
        {
            return true;
        }
        let Ok(text) = std::str::from_utf8(value) else {
            return true;
        };
        let Some(seed) = &self.seed_ops else {
            return kql::has_any(text, &kql::SEED_OPERATIONS).is_some();
        };
        self.prefix.find_iter(lc).any(|i| {
            seed.iter()
                .any(|n| lc[i..].starts_with(n) && term_bounded(lc, i, n))
        })
    }

    /// False only when the record's top-level status key certainly gives an uncounted phase;
    /// `starts` says whether the record's operation is counted from its `Start` too.
    fn phase_may_count(&self, line: &Line, cloud: Cloud, key: &QuotedKey, starts: impl Fn() -> bool) -> bool {
        let Some(table) = &self.counted else {
            return true;
        };
        // No status: an AWS success; an Azure record with another status field.
        let Some((pos, value)) = own_key(line, key) else {
            return true;
        };
        let Ok(text) = std::str::from_utf8(value) else {
            return true;
        };
        if text.trim().is_empty() {
            return true;
        }
        let phase = match cloud {
            Cloud::Aws if text.contains("DryRunOperation") => Phase::DryRun,
            Cloud::Aws => Phase::Failure,
            Cloud::Azure => crate::normalize::phase_of(text),
        };
        table[cloud as usize][phase_index(phase)]
            || (phase == Phase::Start && starts())
            || !line.reads(pos, cloud)
    }
}

/// Whether the match of `needle` at `lc[i..]` is on term boundaries, as [`kql::has`] requires.
fn term_bounded(lc: &[u8], i: usize, needle: &[u8]) -> bool {
    let term = |b: u8| b.is_ascii_alphanumeric();
    let n = needle.len();
    let (first, last) = (needle[0], needle[n - 1]);
    (i == 0 || !term(first) || !term(lc[i - 1])) && (i + n == lc.len() || !term(last) || !term(lc[i + n]))
}

/// Whether any of `needles` (lower-case, starting with a quote) occurs in `line` in any ASCII
/// casing: tested at each quote, so a line is scanned once whatever the number of needles.
fn has_key_ignore_case(line: &[u8], needles: &[&[u8]]) -> bool {
    memchr::memchr_iter(b'"', line).any(|q| {
        needles.iter().any(|n| {
            line.get(q..q + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
        })
    })
}

/// Where the only occurrence of `key` (quotes included) in `line` starts, and what follows
/// it; `None` when it is absent or repeated.
fn single_key<'a>(line: &'a [u8], key: &QuotedKey) -> Option<(usize, &'a [u8])> {
    let mut it = key.find_iter(line);
    let first = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some((first, &line[first + key.needle().len()..]))
}

/// The string after `: ` at the start of `rest`, when it is a plain string without escapes.
fn plain_string(rest: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    if rest.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    if rest.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = memchr::memchr(b'"', &rest[start..])?;
    let value = &rest[start..start + len];
    (!value.contains(&b'\\')).then_some(value)
}

/// Where the only occurrence of `key` (quotes included) in its exact spelling is, and its
/// value when a plain string. Whether it is the record's own is [`Line::reads`], asked only
/// when the answer would skip the line.
fn own_key<'a>(line: &Line<'a>, key: &QuotedKey) -> Option<(usize, &'a [u8])> {
    let (pos, at) = single_key(line.bytes, key)?;
    Some((pos, plain_string(at)?))
}

/// A line past its operation, with what the checks of the keys read after it share, each
/// worked out once and only when asked: a look-alike's service and outcome are both checked,
/// and each of these is a scan of the whole line.
struct Line<'a> {
    bytes: &'a [u8],
    /// Where the operation key's opening quote is.
    operation: usize,
    escaped: std::cell::OnceCell<bool>,
    details: std::cell::OnceCell<(usize, usize)>,
    one_record: std::cell::OnceCell<bool>,
}

impl<'a> Line<'a> {
    fn new(bytes: &'a [u8], operation: usize) -> Line<'a> {
        Line {
            bytes,
            operation,
            escaped: Default::default(),
            details: Default::default(),
            one_record: Default::default(),
        }
    }

    /// Whether the line holds a `\u` escape anywhere.
    fn escaped(&self) -> bool {
        *self
            .escaped
            .get_or_init(|| UNICODE_ESCAPE.find(self.bytes).is_some())
    }

    /// [`detail_keys`] of the line.
    fn details(&self) -> (usize, usize) {
        *self.details.get_or_init(|| detail_keys(self.bytes))
    }

    /// Whether the normalizer certainly reads the record's key at `pos`, the only one in its
    /// exact spelling (the normalizer tries that first, and another casing only when it is
    /// absent from the record): where the normalizer reads the record, and no `\u` escape in
    /// the line (an escaped copy of the key would be the one a JSON parser keeps). A copy in
    /// the request content, which the caller chooses, must never stand for the record's own.
    fn reads(&self, pos: usize, cloud: Cloud) -> bool {
        !self.escaped() && self.one_record(cloud) && record_level(self, pos, cloud)
    }

    /// Whether the line is one object whose operation key is where the normalizer reads the
    /// record. A key beside it is then the same record's. Otherwise the line may be a
    /// container whose records are what the reader counts (an array, `{"errorCode": ..,
    /// "Events": [<call>]}`, a `Records` array): its only operation key is a record's inside
    /// it, and an outer object's `errorCode` says nothing of it. An object with its own
    /// operation key that is a container too is safe: a record inside it needs an operation
    /// key of its own, a second key (or one in a string, see [`Prefilter::key_at`]), which
    /// [`Prefilter::may_match`] is unsure of already.
    fn one_record(&self, cloud: Cloud) -> bool {
        *self
            .one_record
            .get_or_init(|| self.bytes.first() == Some(&b'{') && record_level(self, self.operation, cloud))
    }
}

/// Whether the key at `key_pos` is where the normalizer reads the record: directly inside the
/// outermost object of a line that cannot be an EventBridge envelope, or (AWS) directly inside
/// the `detail` object of a line that certainly is one (the CloudTrail record it carries;
/// archived EventBridge events are read as lines too).
fn record_level(line: &Line, key_pos: usize, cloud: Cloud) -> bool {
    if top_level(&line.bytes[..key_pos]) {
        // With a `detail` in any casing the normalizer may take the line for an envelope and
        // read the record inside it instead.
        return line.details().0 == 0;
    }
    cloud == Cloud::Aws && in_envelope_detail(line, key_pos)
}

/// Keys starting `"detail` in any casing (`detail-type` too), and of those exactly `"detail"`
/// in any casing. Found from each `"d` and `"D` (two searches for a pair of bytes, rare in a
/// CloudTrail line) rather than from each quote or each `d`, which are every few bytes.
fn detail_keys(line: &[u8]) -> (usize, usize) {
    let (mut any, mut whole) = (0, 0);
    for start in [&*QUOTE_LOWER_D, &*QUOTE_UPPER_D] {
        for i in start.find_iter(line) {
            if line
                .get(i + 1..i + 7)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"detail"))
            {
                any += 1;
                whole += usize::from(line.get(i + 7) == Some(&b'"'));
            }
        }
    }
    (any, whole)
}

/// Whether the key at `key_pos` is directly inside the `detail` object of a line the
/// normalizer takes for an EventBridge envelope: `"detail-type"` at its top level, and one
/// `detail` key in any casing (the normalizer takes the first in any casing), that one.
fn in_envelope_detail(line: &Line, key_pos: usize) -> bool {
    let details = line.details();
    let line = line.bytes;
    if details.1 != 1 || !single_key(line, &DETAIL_TYPE).is_some_and(|(p, _)| top_level(&line[..p])) {
        return false;
    }
    let Some((detail_pos, _)) = single_key(line, &DETAIL) else {
        return false;
    };
    if detail_pos > key_pos || !top_level(&line[..detail_pos]) {
        return false;
    }
    let value = detail_pos + DETAIL.needle().len();
    let Some(colon) = line[value..].iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    if line[value + colon] != b':' {
        return false;
    }
    let rest = value + colon + 1;
    let Some(open) = line[rest..].iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    // The body starts at its `{`; from there the key must be one level in, the body unclosed.
    line[rest + open] == b'{' && rest + open < key_pos && top_level(&line[rest + open..key_pos])
}

/// Whether the end of `prefix` (the start of an object up to a key) is directly inside that
/// object, outside any string, the object still open. Only braces nest keys: brackets hold
/// values.
fn top_level(prefix: &[u8]) -> bool {
    if memchr::memchr(b'\\', prefix).is_none() {
        top_level_unescaped(prefix)
    } else {
        top_level_stepping(prefix)
    }
}

/// [`top_level`] by stepping over each string, past its escapes.
fn top_level_stepping(prefix: &[u8]) -> bool {
    let mut depth = 0i64;
    let mut i = 0;
    while let Some(k) = memchr::memchr3(b'"', b'{', b'}', &prefix[i..]) {
        let at = i + k;
        match prefix[at] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                // The object closed before the key: the key is not inside it.
                if depth <= 0 {
                    return false;
                }
            }
            _ => {
                // Skip the string: to its closing quote, past escapes.
                let mut j = at + 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &prefix[j..]) {
                        None => return false,
                        Some(q) if prefix[j + q] == b'\\' => j += q + 2,
                        Some(q) => {
                            j += q;
                            break;
                        }
                    }
                    if j >= prefix.len() {
                        return false;
                    }
                }
                i = j + 1;
                continue;
            }
        }
        i = at + 1;
    }
    depth == 1
}

/// [`top_level`] of a prefix without a backslash: every quote then opens or closes a string,
/// so a brace is inside one exactly when an odd number of quotes precede it. Counting quotes
/// between braces (a loop the compiler vectorizes) instead of stepping from string to string:
/// a CloudTrail line has a quote every few bytes and a brace every hundred.
fn top_level_unescaped(prefix: &[u8]) -> bool {
    let quotes = |s: &[u8]| s.iter().filter(|&&b| b == b'"').count();
    let (mut depth, mut open_quotes, mut from) = (0i64, 0usize, 0);
    for at in memchr::memchr2_iter(b'{', b'}', prefix) {
        open_quotes += quotes(&prefix[from..at]);
        from = at + 1;
        if open_quotes % 2 == 1 {
            continue;
        }
        if prefix[at] == b'{' {
            depth += 1;
        } else {
            depth -= 1;
            if depth <= 0 {
                return false;
            }
        }
    }
    // The prefix ends where the key's quote opens: outside any string.
    (open_quotes + quotes(&prefix[from..])) % 2 == 0 && depth == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Without a backslash, counting quotes between braces says what stepping over each
        /// string says, on prefixes made of the bytes that matter and a filler.
        #[test]
        fn top_level_counts_as_it_steps(prefix in proptest::collection::vec(
            proptest::sample::select(vec![b'"', b'{', b'}', b'a', b':', b',']), 0..48)
        ) {
            prop_assert_eq!(top_level_unescaped(&prefix), top_level_stepping(&prefix));
        }
    }

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
        // Same name, another service: not in the catalog.
        assert!(!p.may_match(br#"{"eventSource":"elasticache.amazonaws.com","eventName":"CreateSnapshot"}"#));
        assert!(p.may_match(br#"{"eventSource":"EC2.amazonaws.com","eventName":"CreateSnapshot"}"#));
        assert!(p.may_match(br#"{"eventSource":"elasticache.amazonaws.com","eventName":"CreateSnapshot","a":{"eventSource":"ec2.amazonaws.com"}}"#));
        assert!(!p.may_match(br#"{"operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION"}"#));
        assert!(p.may_match(br#"{"operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/WRITE"}"#));
    }

    #[test]
    fn a_span_skips_only_records_certainly_outside_it() {
        let day = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        let p = pf().within(Some(day(10)), Some(day(11)));
        let aws = |t: &str| {
            format!(r#"{{"eventTime":{t},"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot"}}"#)
        };
        let az = |t: &str| {
            format!(
                r#"{{"time":{t},"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","resultType":"Success"}}"#
            )
        };
        for make in [&aws as &dyn Fn(&str) -> String, &az] {
            assert!(p.may_match(make(r#""2026-11-10T12:00:00Z""#).as_bytes()));
            // Both ends are kept, as the CLI keeps them.
            assert!(p.may_match(make(r#""2026-11-10T00:00:00Z""#).as_bytes()));
            assert!(p.may_match(make(r#""2026-11-11T00:00:00Z""#).as_bytes()));
            assert!(!p.may_match(make(r#""2026-11-11T00:00:00.001Z""#).as_bytes()));
            assert!(!p.may_match(make(r#""2026-11-01T00:00:00Z""#).as_bytes()));
            // Epoch seconds in a string are read as the normalizer reads them.
            assert!(!p.may_match(make(r#""1700000000""#).as_bytes()));
            // Not certain: a number, an unreadable time (the full path reports it), escapes.
            assert!(p.may_match(make("1700000000").as_bytes()));
            assert!(p.may_match(make(r#""last tuesday""#).as_bytes()));
            assert!(p.may_match(make(r#""2026-11-01T00:00:00Z\u0020""#).as_bytes()));
        }
        let old = r#""2026-11-01T00:00:00Z""#;
        let new = r#""2026-11-10T12:00:00Z""#;
        for line in [
            // The key twice (a nested copy, or a duplicate the parser resolves).
            format!(
                r#"{{"eventTime":{old},"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","requestParameters":{{"eventTime":{new}}}}}"#
            ),
            // Only nested: the record's own time is elsewhere.
            format!(
                r#"{{"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","requestParameters":{{"eventTime":{old}}}}}"#
            ),
            // An escaped spelling of the key that a JSON parser keeps instead.
            format!(
                r#"{{"eventTime":{old},"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","event\u0054ime":{new}}}"#
            ),
            // Keys that make the normalizer read another shape, in any casing.
            format!(
                r#"{{"eventTime":{old},"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","DETAIL-TYPE":"x"}}"#
            ),
            format!(r#"{{"time":{old},"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","EventSource":"x"}}"#),
            format!(
                r#"{{"time":{old},"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","operationNAMEVALUE":"x"}}"#
            ),
            // A container of records, whose own records the reader takes instead.
            format!(
                r#"{{"eventTime":{old},"Records":[{{"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot"}}]}}"#
            ),
            // An array of records.
            format!(r#"[{{"time":{old},"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE"}}]"#),
        ] {
            assert!(p.may_match(line.as_bytes()), "{line}");
        }
        // Out of scope stays out of scope, whatever the time.
        assert!(!p.may_match(aws(new).replace("CreateSnapshot", "DescribeInstances").as_bytes()));
        // No span: no time test.
        assert!(pf().may_match(aws(old).as_bytes()));
    }

    #[test]
    fn the_seed_operations_match_as_kusto_has_any_does() {
        let p = pf();
        let mut values = Vec::new();
        for op in kql::SEED_OPERATIONS {
            for v in [
                op.to_string(),
                op.to_ascii_uppercase(),
                format!("x{op}"),
                format!("{op}s"),
                format!("{op}/x"),
                format!("a/{op}"),
                format!("{op} {op}s"),
                format!("{}2", op.to_ascii_lowercase()),
                op.replace("Microsoft.Compute/", "microsoft.computeX/"),
            ] {
                values.push(v);
            }
        }
        // The catalog's own operations, in any casing, and one letter longer or shorter.
        let catalog = Catalog::builtin().unwrap();
        let ops: Vec<&str> = catalog
            .for_cloud(Cloud::Azure)
            .map(|e| e.operation.as_str())
            .collect();
        assert!(ops.len() > 5);
        for op in ops {
            values.extend([
                op.to_string(),
                op.to_ascii_uppercase(),
                format!("{op}x"),
                op[..op.len() - 1].to_string(),
            ]);
        }
        values.push("microsoft.compute/virtualmachines/start/action".into());
        values.push("MICROSOFT.COMPUTE/".into());
        values.push("é".repeat(200));
        values.push(format!("{}microsoft.compute/disks/write", "x".repeat(300)));
        values.push(format!("{}/microsoft.compute/disks/write", "x".repeat(300)));
        for v in &values {
            let catalog_op = catalog
                .for_cloud(Cloud::Azure)
                .any(|e| e.operation.eq_ignore_ascii_case(v));
            let want = catalog_op
                || (v.to_ascii_lowercase().contains("microsoft.compute/")
                    && kql::has_any(v, &kql::SEED_OPERATIONS).is_some());
            assert_eq!(p.azure_may_match(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn uncounted_phases_are_skipped_only_at_the_top_level() {
        let p = pf().counting(|cloud, phase| match cloud {
            Cloud::Aws => phase == Phase::Success,
            Cloud::Azure => matches!(phase, Phase::Start | Phase::Success),
        });
        let ok = br#"{"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot"}"#;
        assert!(p.may_match(ok));
        assert!(!p.may_match(br#"{"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","errorCode":"Client.UnauthorizedOperation"}"#));
        assert!(!p.may_match(br#"{"eventName":"CreateSnapshot","errorCode" : "Client.DryRunOperation"}"#));
        // A nested errorCode is request content, not the record's outcome.
        assert!(
            p.may_match(br#"{"eventName":"CreateSnapshot","requestParameters":{"x":[{"errorCode":"E"}]}}"#)
        );
        assert!(
            p.may_match(br#"{"eventName":"CreateSnapshot","requestParameters":{"s":"}}}","errorCode":"E"}}"#)
        );
        assert!(p.may_match(br#"{"eventName":"CreateSnapshot","errorCode":null}"#));
        // An EventBridge envelope: its `detail` is the CloudTrail record.
        let env = |detail: &str| {
            format!(
                r#"{{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{detail},"region":"us-east-1"}}"#
            )
        };
        let d = r#"{"eventSource":"ec2.amazonaws.com","eventName":"CreateSnapshot","#;
        assert!(!p.may_match(env(&format!(r#"{d}"errorCode":"Client.UnauthorizedOperation"}}"#)).as_bytes()));
        assert!(p.may_match(env(&format!(r#"{d}"requestParameters":{{"errorCode":"E"}}}}"#)).as_bytes()));
        assert!(p.may_match(env(&format!(r#"{d}"x":1}}"#)).as_bytes()));
        // Not the envelope's `detail`: after it closed, in a sibling, or a second `detail`.
        let sibling = format!(r#"{{"detail":{d}"x":1}},"other":{{"errorCode":"E"}}}}"#);
        assert!(p.may_match(sibling.as_bytes()));
        let twice = format!(r#"{{"detail":{d}"errorCode":"E","requestParameters":{{"detail":1}}}}}}"#);
        assert!(p.may_match(twice.as_bytes()));
        assert!(p.may_match(br#"{"a":{"detail":{"eventName":"CreateSnapshot","errorCode":"E"}}}"#));
        assert!(p.may_match(br#"{"eventName":"CreateSnapshot","errorCode":" "}"#));
        let accept = br#"{"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","resultType":"Accept"}"#;
        assert!(!p.may_match(accept));
        assert!(pf().may_match(accept));
        assert!(p.may_match(br#"{"operationName":"MICROSOFT.COMPUTE/DISKS/DELETE","resultType":"Start"}"#));
        assert!(!p.may_match(
            br#"{"OperationNameValue":"MICROSOFT.COMPUTE/DISKS/DELETE","ActivityStatusValue":"Failed"}"#
        ));
    }

    #[test]
    fn operations_counted_from_their_start_keep_their_start() {
        let p = pf()
            .counting(|cloud, phase| cloud == Cloud::Aws || matches!(phase, Phase::Accept | Phase::Success))
            .starting([("Microsoft.Compute/galleries/share/action", None)]);
        let line = |op: &str, status: &str| format!(r#"{{"operationName":"{op}","resultType":"{status}"}}"#);
        let share = "MICROSOFT.COMPUTE/GALLERIES/SHARE/ACTION";
        assert!(p.may_match(line(share, "Start").as_bytes()));
        assert!(p.may_match(line(&share.to_ascii_lowercase(), "Start").as_bytes()));
        assert!(p.may_match(line(share, "Success").as_bytes()));
        assert!(
            !p.may_match(line(share, "Failure").as_bytes()),
            "a failure is not counted"
        );
        // Other operations' Start is still skipped.
        assert!(!p.may_match(line("MICROSOFT.COMPUTE/DISKS/DELETE", "Start").as_bytes()));
    }

    #[test]
    fn a_start_counted_for_a_body_key_is_kept_only_with_it() {
        let p = pf()
            .counting(|cloud, phase| cloud == Cloud::Aws || matches!(phase, Phase::Accept | Phase::Success))
            .starting([("Microsoft.Compute/snapshots/write", Some("sourceResourceId"))]);
        let line = |body: &str| {
            format!(
                r#"{{"operationName":"MICROSOFT.COMPUTE/SNAPSHOTS/WRITE","resultType":"Start","properties":{{"requestbody":"{body}"}}}}"#
            )
        };
        assert!(p.may_match(
            line(r#"{"properties":{"creationData":{"SOURCERESOURCEID":"/subscriptions/x"}}}"#).as_bytes()
        ));
        assert!(!p.may_match(line(r#"{"properties":{"diskSizeGB":128}}"#).as_bytes()));
        // An escaped key is the same key to a JSON parser.
        assert!(p.may_match(line(r#"{"\u0073ourceResourceId":"/subscriptions/x"}"#).as_bytes()));
    }
}

#[cfg(test)]
mod against_the_full_path {
    //! Lines whose record the full path counts (parsed whole, split, normalized, scored by the
    //! default profile, as the CLI does with a line let through), built so that a byte-level
    //! reading could take another key for the record's own: each must be let through.
    use super::*;
    use crate::engine::{Engine, Profile, ProfileName};
    use serde_json::{json, Value};

    fn engine() -> Engine {
        Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default))
    }

    fn counted(line: &str) -> bool {
        let e = engine();
        let mut recs = Vec::new();
        crate::source::expand(serde_json::from_str(line).unwrap(), &mut recs);
        recs.into_iter()
            .any(|r| crate::normalize(r).is_ok_and(|ev| e.score(&ev).is_ok()))
    }

    fn prefilter() -> Prefilter {
        let e = engine();
        e.prefilter()
    }

    /// The fixture's CloudTrail record (an EC2 `CreateSnapshot`) with `edit` applied.
    fn record(edit: impl Fn(&mut serde_json::Map<String, Value>)) -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/aws/ec2-create-snapshot.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // The CloudTrail record the EventBridge envelope carries, as a trail writes it.
        let mut rec = doc["detail"].clone();
        edit(rec.as_object_mut().unwrap());
        rec
    }

    fn rename(rec: &mut serde_json::Map<String, Value>, from: &str, to: &str) {
        let v = rec.remove(from).unwrap();
        rec.insert(to.into(), v);
    }

    fn assert_let_through(line: &str) {
        assert!(counted(line), "the full path counts it: {line}");
        assert!(prefilter().may_match(line.as_bytes()), "skipped: {line}");
    }

    /// The other side: a look-alike the full path does not count, which the prefilter skips.
    fn assert_skipped(line: &str) {
        assert!(!counted(line), "the full path does not count it: {line}");
        assert!(!prefilter().may_match(line.as_bytes()), "let through: {line}");
    }

    #[test]
    fn the_plain_record_and_its_look_alike_are_told_apart() {
        let line = record(|_| {}).to_string();
        assert_let_through(&line);
        let look_alike = record(|r| {
            r.insert("eventSource".into(), "elasticache.amazonaws.com".into());
        })
        .to_string();
        assert_skipped(&look_alike);
        let failed = record(|r| {
            r.insert("errorCode".into(), "Client.UnauthorizedOperation".into());
        })
        .to_string();
        assert_skipped(&failed);
    }

    /// The normalizer reads a key in another casing when the exact spelling is absent from
    /// the record, so a copy in the request content is not the record's own.
    #[test]
    fn a_copy_in_the_request_does_not_stand_for_a_key_spelled_otherwise() {
        for (key, spelled, copy) in [
            ("eventSource", "EventSource", "elasticache.amazonaws.com"),
            ("eventName", "EventName", "DescribeInstances"),
        ] {
            let line = record(|r| {
                rename(r, key, spelled);
                r.insert("requestParameters".into(), json!({ key: copy }));
            });
            assert_let_through(&line.to_string());
        }
    }

    /// An escaped spelling of a key is a second copy of it, and the parser keeps the last.
    #[test]
    fn an_escaped_copy_of_the_service_or_outcome_is_the_one_read() {
        let elasticache = record(|r| {
            r.insert("eventSource".into(), "elasticache.amazonaws.com".into());
        })
        .to_string();
        let line = format!(
            r#"{},"event\u0053ource":"ec2.amazonaws.com"}}"#,
            &elasticache[..elasticache.len() - 1]
        );
        assert_let_through(&line);
        let failed = record(|r| {
            r.insert("errorCode".into(), "Client.UnauthorizedOperation".into());
        })
        .to_string();
        let line = format!(r#"{},"error\u0043ode":" "}}"#, &failed[..failed.len() - 1]);
        assert_let_through(&line);
    }

    /// A `detail` object is the record only in a line the normalizer takes for an EventBridge
    /// envelope; and in one, the envelope's own keys are not the record's.
    #[test]
    fn detail_is_the_record_only_in_an_envelope() {
        // A bare record with a `detail` of its own: its outcome is its top-level one.
        assert_let_through(
            &record(|r| {
                r.insert(
                    "detail".into(),
                    json!({"errorCode": "Client.UnauthorizedOperation"}),
                );
            })
            .to_string(),
        );
        // An envelope with an outcome and a service beside its `detail`.
        let envelope = |extra: Value| {
            let mut env = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "detail": record(|_| {})});
            for (k, v) in extra.as_object().unwrap() {
                env[k] = v.clone();
            }
            env.to_string()
        };
        assert_let_through(&envelope(json!({"errorCode": "Client.UnauthorizedOperation"})));
        assert_let_through(&envelope(json!({"eventSource": "elasticache.amazonaws.com"})));
        // And a second `detail`, spelled otherwise, which the normalizer takes (the first in
        // any casing, in the parsed object's sorted order) where the failure is in the other.
        let mut twice: Value = serde_json::from_str(&envelope(json!({}))).unwrap();
        twice["DETAIL"] = twice["detail"].clone();
        twice["detail"]["errorCode"] = "Client.UnauthorizedOperation".into();
        assert_let_through(&twice.to_string());
        // The envelope as EventBridge writes it, failed, is still skipped.
        let mut failed: Value = serde_json::from_str(&envelope(json!({}))).unwrap();
        failed["detail"]["errorCode"] = "Client.UnauthorizedOperation".into();
        assert_skipped(&failed.to_string());
    }

    /// Azure: a status key nested in a `detail` is not the record's.
    #[test]
    fn an_azure_status_in_a_detail_object_is_not_the_records() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/azure");
        let rec = std::fs::read_dir(path)
            .unwrap()
            .filter_map(|f| {
                let doc: Value = serde_json::from_str(&std::fs::read_to_string(f.ok()?.path()).ok()?).ok()?;
                let mut recs = Vec::new();
                crate::source::expand(doc, &mut recs);
                recs.into_iter().find(|r| {
                    r.get("operationName").is_some()
                        && r.get("resultType").is_some()
                        && counted(&r.to_string())
                })
            })
            .next()
            .expect("a counted Activity Log record with a resultType among the fixtures");
        // Its status in the REST shape's `status.value`, which the normalizer reads when there
        // is no `resultType`, and a failure in a `detail` object beside it.
        let mut nested = rec.clone();
        let status = nested.as_object_mut().unwrap().remove("resultType").unwrap();
        nested["status"] = json!({ "value": status });
        nested["detail"] = json!({"resultType": "Failure"});
        assert_let_through(&nested.to_string());
        let mut failed = rec;
        failed["resultType"] = "Failure".into();
        assert_skipped(&failed.to_string());
    }
}
