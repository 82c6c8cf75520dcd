//! In-memory adapters of the ports: the test doubles of the pipeline and the CLI's default
//! store. They count requests so tests can assert the request budget.
//!
//! The store keeps its values compressed (Snappy). A replay holds every principal's window
//! for the engine's retention: 3,000 windows of about 1.1 KB each were 3.3 MB of the 13 MB a
//! replay of the look-alike bench peaked at. Compressed they take 0.6 to 0.7 of that, for about
//! a microsecond per save and less per load, against the 25 microseconds or so the pipeline
//! spends on each event.

use crate::alert::Alert;
use crate::engine::StateKey;
use crate::ports::{AlertSink, SaveOutcome, SinkError, StateStore, StoreError, Stored, Version};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A stored item: bytes (compressed, see the module's docs), version, and the expiry last
/// saved (epoch seconds; kept for tests, never applied: the CLI keeps every window whatever its
/// expiry).
type Item = (Box<[u8]>, u64, i64);

/// `bytes` compressed (raw Snappy, which carries the length). One encoder and one output
/// buffer per thread, kept: the value is copied into a box of its exact size, so the only
/// allocation that stays is the value's. With a compressor that allocated its hash table and a
/// vector of the largest size on every call (lz4_flex), the heap's peak fell by the megabyte
/// compression saves but the resident memory rose: the values were laid out between the holes.
fn pack(bytes: &[u8]) -> Result<Box<[u8]>, StoreError> {
    thread_local! {
        static PACKER: std::cell::RefCell<(snap::raw::Encoder, Vec<u8>)> =
            std::cell::RefCell::new((snap::raw::Encoder::new(), Vec::new()));
    }
    PACKER.with_borrow_mut(|(encoder, out)| {
        out.resize(snap::raw::max_compress_len(bytes.len()), 0);
        // Only a value past Snappy's 4 GiB input limit fails, far past any window's bound; it
        // is refused, not stored as something else.
        encoder
            .compress(bytes, out)
            .map(|n| Box::from(&out[..n]))
            .map_err(|e| StoreError::Permanent(format!("value not stored: {e}")))
    })
}

/// A value as saved. Only [`pack`] wrote it, so it decompresses; were it not to, the store's
/// callers see a value that does not decode (a window restarted and counted as corrupt), never
/// a panic.
fn unpack(packed: &[u8]) -> Vec<u8> {
    snap::raw::Decoder::new()
        .decompress_vec(packed)
        .unwrap_or_default()
}

/// A versioned map in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<StateKey, Item>>,
    /// Loads served.
    pub reads: AtomicUsize,
    /// Saves attempted.
    pub writes: AtomicUsize,
    /// Fail this many next requests with a transient error.
    pub fail_next: AtomicUsize,
}

impl MemoryStore {
    /// Empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Raw bytes of a key, for tests.
    pub fn get_bytes(&self, key: &StateKey) -> Option<Vec<u8>> {
        self.items.lock().ok()?.get(key).map(|(b, _, _)| unpack(b))
    }

    /// Bytes the store holds for its values, as kept (compressed).
    pub fn held_bytes(&self) -> usize {
        self.items
            .lock()
            .map(|m| m.values().map(|(b, _, _)| b.len()).sum())
            .unwrap_or(0)
    }

    /// The expiry a key was last saved with (epoch seconds), for tests.
    pub fn expires_at(&self, key: &StateKey) -> Option<i64> {
        self.items.lock().ok()?.get(key).map(|(_, _, e)| *e)
    }

    /// Every stored window.
    pub fn entries(&self) -> Vec<(StateKey, Vec<u8>)> {
        self.items
            .lock()
            .map(|m| m.iter().map(|(k, (b, _, _))| (k.clone(), unpack(b))).collect())
            .unwrap_or_default()
    }

    /// Alerts waiting in the outboxes of every stored key (an unreadable envelope counts none).
    pub fn pending(&self) -> usize {
        self.items
            .lock()
            .map(|m| {
                m.values()
                    .filter_map(|(b, _, _)| crate::outbox::split(&unpack(b)).ok().map(|(_, p)| p.len()))
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Keep only the windows whose key `keep` accepts (the CLI drops windows that can no
    /// longer change any result).
    pub fn retain(&self, mut keep: impl FnMut(&StateKey) -> bool) {
        if let Ok(mut m) = self.items.lock() {
            m.retain(|k, _| keep(k));
        }
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.items.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn injected_failure(&self) -> Result<(), StoreError> {
        let n = self.fail_next.load(Ordering::SeqCst);
        if n > 0
            && self
                .fail_next
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            return Err(StoreError::Transient("injected failure".into()));
        }
        Ok(())
    }
}

impl StateStore for MemoryStore {
    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.injected_failure()?;
        let m = self
            .items
            .lock()
            .map_err(|_| StoreError::Permanent("poisoned".into()))?;
        Ok(m.get(key).map(|(b, v, _)| Stored {
            bytes: unpack(b),
            version: Version(v.to_string()),
        }))
    }

    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.injected_failure()?;
        // Compressed before the lock: a conflict wastes it, but no other caller waits for it.
        let packed = pack(bytes)?;
        let mut m = self
            .items
            .lock()
            .map_err(|_| StoreError::Permanent("poisoned".into()))?;
        // One lookup, and the key cloned only for a new window: a replay saves every window
        // it touches once per batch.
        match (m.get_mut(key), expected) {
            (Some((b, v, x)), Some(e)) if e.0.parse::<u64>() == Ok(*v) => {
                *b = packed;
                *v += 1;
                *x = expires_at;
            }
            (None, None) => {
                m.insert(key.clone(), (packed, 1, expires_at));
            }
            _ => return Ok(SaveOutcome::Conflict),
        }
        Ok(SaveOutcome::Saved)
    }
}

/// Records alerts; can be told to fail.
#[derive(Debug, Default)]
pub struct MemorySink {
    alerts: Mutex<Vec<Alert>>,
    /// Fail this many next sends with a transient error.
    pub fail_next: AtomicUsize,
}

impl MemorySink {
    /// Empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// Alerts received so far.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl AlertSink for MemorySink {
    async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let n = self.fail_next.load(Ordering::SeqCst);
        if n > 0
            && self
                .fail_next
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            return Err(SinkError::Transient("injected failure".into()));
        }
        self.alerts
            .lock()
            .map_err(|_| SinkError::Permanent("poisoned".into()))?
            .push(alert.clone());
        Ok(())
    }
}
