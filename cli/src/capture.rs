//! Event Hubs Capture files: Avro object containers of the events an Event Hub received, as
//! Capture writes them to Blob Storage or Data Lake (`{Namespace}/{EventHub}/{PartitionId}/
//! {Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro`). For the Activity Log streamed to an
//! Event Hub, each event's `Body` is the `{"records":[...]}` message the diagnostic setting sent.
//!
//! The container (header, blocks, the `null` or `deflate` codec, the schema it carries) is read
//! by `apache-avro`; this module only takes each event's body out, one at a time, so memory
//! stays at one block whatever the file's size.

use apache_avro::types::Value;
use std::io::Read;

/// An Avro object container starts with these four bytes.
pub fn looks_like_avro(head: &[u8]) -> bool {
    head.starts_with(b"Obj\x01")
}

/// The bodies of a capture file's events, in order; an event with no body gives `None`. The
/// container's own failure (a bad header, a corrupt or cut block) ends the iteration with an
/// error naming the event it stopped at.
pub fn bodies(input: impl Read) -> Result<impl Iterator<Item = Result<Option<Vec<u8>>, String>>, String> {
    let reader = apache_avro::Reader::new(input).map_err(|e| format!("Avro: {e}"))?;
    let mut stopped = false;
    Ok(reader.enumerate().map_while(move |(i, item)| {
        if stopped {
            return None;
        }
        Some(match item {
            Ok(event) => Ok(body(event)),
            Err(e) => {
                stopped = true;
                Err(format!("Avro, at event {i}: {e}"))
            }
        })
    }))
}

/// The `Body` field of a captured event (`["null", "bytes"]` in Capture's schema).
fn body(event: Value) -> Option<Vec<u8>> {
    let Value::Record(fields) = event else {
        return None;
    };
    let (_, v) = fields.into_iter().find(|(k, _)| k == "Body")?;
    match v {
        Value::Union(_, inner) => bytes(*inner),
        other => bytes(other),
    }
}

fn bytes(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::Bytes(b) | Value::Fixed(_, b) => Some(b),
        Value::String(s) => Some(s.into_bytes()),
        _ => None,
    }
}
