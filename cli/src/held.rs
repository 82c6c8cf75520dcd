//! In-scope events held back to restore event-time order, kept encoded.
//!
//! A replay holds the last [`crate::args::REORDER`] in-scope events in a heap, plus the events
//! of the blocks its readers scan ahead. Held as [`Scored`] values, each is a struct of about
//! 370 bytes and a dozen strings of its own, about 1 KB in all: 2 MB of a 19 MB replay of the
//! look-alike bench. Encoded with postcard into one boxed slice it is its strings' bytes and a
//! few more. The reader threads encode (they score the event there too), and the main thread
//! decodes each event once, when it leaves the heap for the pipeline.
//!
//! The time and a hash of the key stay outside the encoding: the main thread reads them for
//! every event it receives (the heap's order, the last time each key was seen). The key itself
//! is encoded with the rest: held as a string of its own it cost an allocation per event.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use t1578_core::engine::{EventContext, Scored, Unit};
use t1578_core::StateKey;

/// One in-scope event, as held.
pub struct Held {
    /// Its window's key, hashed by the hasher given to [`Held::new`].
    pub key_hash: u64,
    /// Its time (ms).
    pub time_ms: i64,
    /// The rest, encoded; the event itself when it would not encode.
    body: Result<Box<[u8]>, Box<Scored>>,
}

/// What [`Held::body`] encodes, borrowed to encode and owned to decode.
type Rest<'a> = (&'a StateKey, &'a [Unit], &'a [String], &'a EventContext);
type OwnedRest = (StateKey, Vec<Unit>, Vec<String>, EventContext);

impl Held {
    pub fn new(s: Scored, hasher: &impl BuildHasher) -> Held {
        let key_hash = hasher.hash_one(&s.key);
        let rest: Rest = (&s.key, &s.units, &s.resources, &s.ctx);
        // Sized once, so the encoding is not grown and copied as postcard writes it.
        let size = postcard::experimental::serialized_size(&rest).unwrap_or(0);
        let body = postcard::to_extend(&rest, Vec::with_capacity(size));
        let time_ms = s.ctx.time_ms;
        Held {
            key_hash,
            time_ms,
            // Derived serializers of these types do not fail; were one to, the event is held
            // whole rather than lost.
            body: body.map(Vec::into_boxed_slice).map_err(|_| Box::new(s)),
        }
    }

    /// The event again. An error only if the encoding this module wrote would not decode.
    pub fn into_scored(self) -> anyhow::Result<Scored> {
        match self.body {
            Ok(bytes) => {
                let (key, units, resources, ctx): OwnedRest = postcard::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("a held event did not decode: {e}"))?;
                Ok(Scored {
                    key,
                    units,
                    resources,
                    ctx,
                })
            }
            Err(s) => Ok(*s),
        }
    }
}

/// A held event and its arrival number: the heap's order is (time, arrival), so events of
/// the same millisecond leave in the order they came.
pub struct Ordered(pub Held, pub u64);

impl PartialEq for Ordered {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ordered {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.0.time_ms, self.1).cmp(&(o.0.time_ms, o.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use t1578_cli::input::Reader;
    use t1578_core::{Catalog, Engine, Profile, ProfileName};

    /// The scored events of `events/`, read as `replay` reads them.
    fn scored() -> Vec<Scored> {
        let engine = Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default));
        let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"));
        let mut out = Vec::new();
        Reader::new(None).read_all(&[dir], |ev| engine.score(&ev).ok(), |s| out.push(s));
        // Every test below runs over these: none may pass on an empty folder.
        assert!(out.len() > 100, "only {} scored fixture events", out.len());
        out
    }

    #[test]
    fn a_held_event_comes_back_as_it_went_in_and_smaller() {
        let hasher = std::hash::RandomState::new();
        for s in scored() {
            let held = Held::new(s.clone(), &hasher);
            assert_eq!(held.key_hash, hasher.hash_one(&s.key));
            let bytes = held.body.as_ref().map(|b| b.len()).unwrap_or(usize::MAX);
            let c = &s.ctx;
            let optional = [&c.session, &c.source_ip, &c.user_agent];
            let strings = [
                &s.key.0,
                &c.event_id,
                &c.catalog_id,
                &c.operation,
                &c.account,
                &c.scope,
                &c.principal_key,
                &c.principal_name,
            ]
            .into_iter()
            .chain(optional.into_iter().flatten())
            .chain(&c.destinations)
            .chain(&s.resources)
            .map(String::len)
            .sum::<usize>();
            // Held as a value, the event is its struct, its strings' bytes and its units and
            // the resources' headers, before any allocator overhead; encoded, it is less.
            let value = std::mem::size_of::<Scored>()
                + strings
                + s.units.len() * std::mem::size_of::<Unit>()
                + (s.resources.len() + c.destinations.len()) * std::mem::size_of::<String>();
            assert!(bytes < value, "{bytes} bytes encoded, {value} as a value");
            let back = held.into_scored().unwrap();
            assert_eq!(back.key, s.key);
            assert_eq!(back.units, s.units);
            assert_eq!(back.resources, s.resources);
            assert_eq!(back.ctx, s.ctx);
        }
    }

    #[test]
    fn held_events_leave_by_time_then_arrival() {
        let events = scored();
        let mut heap = std::collections::BinaryHeap::new();
        for (i, s) in events.iter().enumerate() {
            let held = Held::new(s.clone(), &std::hash::RandomState::new());
            heap.push(std::cmp::Reverse(Ordered(held, i as u64)));
        }
        let mut out = Vec::new();
        while let Some(std::cmp::Reverse(Ordered(h, i))) = heap.pop() {
            out.push((h.time_ms, i));
        }
        let mut sorted = out.clone();
        sorted.sort();
        assert_eq!(out, sorted);
        assert_eq!(out.len(), events.len());
    }

    #[test]
    fn a_held_event_that_does_not_decode_is_an_error_not_a_default() {
        let s = scored().into_iter().next().unwrap();
        let mut held = Held::new(s.clone(), &std::hash::RandomState::new());
        let Ok(bytes) = &held.body else {
            panic!("a fixture event did not encode");
        };
        // Cut short, as a bug in this module could leave it.
        held.body = Ok(bytes[..bytes.len() / 2].into());
        assert!(held.into_scored().is_err());
        // Held whole, it comes back as it went in.
        let whole = Held {
            key_hash: 0,
            time_ms: s.ctx.time_ms,
            body: Err(Box::new(s.clone())),
        };
        let back = whole.into_scored().unwrap();
        assert_eq!((back.key, back.ctx), (s.key, s.ctx));
    }
}
