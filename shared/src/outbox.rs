//! The alert outbox: decisions waiting to be published, stored in the same item as the window
//! that decided them, so "the window counted it" and "the alert is owed" are one write.
//!
//! A stored value is the bare encoded window when nothing is pending (the steady state, and
//! every value written before the outbox existed), or an envelope: a magic prefix, the
//! window's length and bytes, then the pending alerts as deflated JSON. The magic's first byte
//! can never start a window (its first byte is the format number), so both read back
//! unambiguously. Deflated because the item is bounded (Table Storage: 64 KiB per property)
//! and a burst decides several reports of one finding in one batch, which compress well: the
//! 7 reports of a 120-deletion burst take 41 KB as JSON and 3.5 KB deflated (8 reports and
//! 12.6 KB stored with the window for 5,000 deletions in one batch).
//!
//! Each pending alert carries a claim: the invocation that saved it, and until when. Only the
//! claimant publishes it while the lease runs, so racing writers that carry the entry forward
//! never publish it twice; after the lease anyone may take it over (the claimant died). A claim
//! is drawn at random for each invocation and key, never derived from the records: the same
//! records delivered twice at once (at-least-once delivery, an Event Hubs partition handed to a
//! new owner mid-batch) are two invocations, and only one of them may publish. The claimant
//! renews its lease with each alert it marks sent, so a slow sink cannot outlast it, and
//! releases it when the sink fails, so the platform's retry publishes at once. Each entry
//! names the event that decided it: a writer holding that event while another's lease runs
//! fails retryably instead of acknowledging it, so the event is not let go before its alert
//! is out (an entry left by an earlier build names none, and counts as any batch's).

use crate::alert::Alert;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Envelope with the pending alerts as plain JSON (read only: written by earlier builds).
const MAGIC_JSON: [u8; 4] = [0xB0, b'O', b'B', 1];
/// Envelope with the pending alerts as deflated JSON.
const MAGIC: [u8; 4] = [0xB0, b'O', b'B', 2];
/// Most bytes the pending alerts may inflate to: a stored value is at most a few hundred KiB,
/// so anything larger is not an outbox this detector wrote (and must not exhaust memory).
const MAX_INFLATED: u64 = 16 << 20;

/// One alert owed to the sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Who may publish it while the lease runs.
    pub claim: u64,
    /// End of the lease, epoch milliseconds.
    pub lease_until: i64,
    /// The decision, without its investigation guide: the guide is 10 to 20 KB of text per
    /// alert and the stored item is bounded (Table Storage: 64 KiB), so it is attached when the
    /// alert is published (the same guide from the same alert).
    pub alert: Alert,
    /// Where the event that decided it sent data: the guide's input besides the alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<String>,
    /// The id of the event that decided it (empty in entries written before it was kept).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event: String,
}

/// A stored value that is neither a window nor a readable envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbox envelope unreadable: {0}")]
pub struct EnvelopeError(pub String);

/// Split a stored value into the window's bytes and the pending alerts.
pub fn split(bytes: &[u8]) -> Result<(&[u8], Vec<Pending>), EnvelopeError> {
    let (rest, deflated) = match (
        bytes.strip_prefix(&MAGIC[..]),
        bytes.strip_prefix(&MAGIC_JSON[..]),
    ) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => return Ok((bytes, Vec::new())),
    };
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| EnvelopeError("no window length".into()))?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(EnvelopeError(format!(
            "window of {len} bytes, {} left",
            rest.len()
        )));
    }
    let (window, pending) = rest.split_at(len);
    let pending = if deflated {
        use std::io::Read;
        let mut json = Vec::new();
        flate2::read::DeflateDecoder::new(pending)
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut json)
            .map_err(|e| EnvelopeError(e.to_string()))?;
        if json.len() as u64 > MAX_INFLATED {
            return Err(EnvelopeError(format!(
                "pending alerts inflate past {MAX_INFLATED} bytes"
            )));
        }
        serde_json::from_slice(&json)
    } else {
        serde_json::from_slice(pending)
    };
    let pending = pending.map_err(|e| EnvelopeError(e.to_string()))?;
    Ok((window, pending))
}

/// The stored value of a window and its pending alerts. Takes the encoded window: without
/// pending alerts (nearly every save) it is the stored value as it is, not a copy.
pub fn join(window: Vec<u8>, pending: &[Pending]) -> Vec<u8> {
    if pending.is_empty() {
        return window;
    }
    let mut out = Vec::with_capacity(8 + window.len() + 1024 * pending.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(window.len() as u32).to_le_bytes());
    out.extend_from_slice(&window);
    let mut z = flate2::write::DeflateEncoder::new(out, flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut z, pending);
    z.finish().unwrap_or_default()
}

/// A new claim, for one invocation's work on one key: random, so no other invocation (of the
/// same records or not, on this host or another) holds it. The OS's generator is read once per
/// process (a system call per key saved was 4 % of a replay's main thread); each claim hashes
/// that seed with a counter, so no two claims of a process are alike, and with the clock, so a
/// process cloned from a snapshot (seed and counter copied) still draws its own. Without the
/// OS's generator (it does not fail on the platforms this runs on) the clock and the process
/// stand in for the seed.
pub fn new_claim() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    };
    let seed = *SEED.get_or_init(|| {
        getrandom::u64().unwrap_or_else(|_| {
            let mut b = [0u8; 20];
            b[..16].copy_from_slice(&nanos().to_le_bytes());
            b[16..].copy_from_slice(&std::process::id().to_le_bytes());
            xxh3_64(&b)
        })
    });
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    b[8..].copy_from_slice(&nanos().to_le_bytes());
    // Never 0, so a released or zeroed claim cannot match anyone.
    xxh3_64_with_seed(&b, seed).max(1)
}

/// May `claim` publish `p` at `now_ms`?
pub fn may_publish(p: &Pending, claim: u64, now_ms: i64) -> bool {
    p.claim == claim || p.lease_until <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real decision: the snapshot-share fixture through the pipeline.
    fn an_alert() -> Alert {
        use crate::engine::{Profile, ProfileName};
        let e = crate::Engine::new(
            crate::Catalog::builtin().unwrap(),
            Profile::named(ProfileName::Default),
        );
        let doc = include_bytes!("../../events/aws/ec2-modify-snapshot-attribute-share.json");
        let evs: Vec<_> = crate::source::normalize_document(doc)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.unwrap())
            .collect();
        let (store, sink) = (
            crate::memory::MemoryStore::new(),
            crate::memory::MemorySink::new(),
        );
        let opts = crate::pipeline::PipelineOptions::default();
        futures::executor::block_on(crate::pipeline::process_batch(&e, &store, &sink, &evs, &opts));
        sink.alerts().remove(0)
    }

    #[test]
    fn bare_windows_read_as_nothing_pending() {
        let (w, p) = split(&[2, 9, 9]).unwrap();
        assert_eq!((w, p.len()), (&[2u8, 9, 9][..], 0));
        assert_eq!(join(vec![2, 9], &[]), vec![2, 9]);
    }

    #[test]
    fn envelopes_round_trip_and_plain_json_ones_still_read() {
        let alert = an_alert();
        let pending = vec![Pending {
            claim: 7,
            lease_until: 9,
            alert,
            destinations: vec!["444455556666".into()],
            event: "e1".into(),
        }];
        let joined = join(vec![2, 9, 9], &pending);
        assert_eq!(joined[..4], MAGIC);
        assert_eq!(split(&joined).unwrap(), (&[2u8, 9, 9][..], pending.clone()));
        let mut plain = MAGIC_JSON.to_vec();
        plain.extend_from_slice(&3u32.to_le_bytes());
        plain.extend_from_slice(&[2, 9, 9]);
        plain.extend_from_slice(&serde_json::to_vec(&pending).unwrap());
        assert_eq!(split(&plain).unwrap(), (&[2u8, 9, 9][..], pending));
    }

    #[test]
    fn a_deflate_bomb_is_an_error_not_an_allocation() {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &vec![b' '; (MAX_INFLATED + 2) as usize]).unwrap();
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&z.finish().unwrap());
        assert!(split(&b).unwrap_err().0.contains("inflate past"));
    }

    #[test]
    fn truncated_envelopes_are_errors() {
        let mut b = MAGIC.to_vec();
        assert!(split(&b).is_err());
        b.extend_from_slice(&100u32.to_le_bytes());
        b.extend_from_slice(&[1, 2]);
        assert!(split(&b).is_err());
    }

    #[test]
    fn every_claim_is_new() {
        let claims: std::collections::HashSet<u64> = (0..1000).map(|_| new_claim()).collect();
        assert_eq!(claims.len(), 1000);
        assert!(!claims.contains(&0));
        // Invocations running at once draw from the one seed: still none alike.
        let drawn: Vec<u64> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| sc.spawn(|| (0..1000).map(|_| new_claim()).collect::<Vec<u64>>()))
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let all: std::collections::HashSet<u64> = drawn.iter().chain(&claims).copied().collect();
        assert_eq!(all.len(), 5000);
    }
}
