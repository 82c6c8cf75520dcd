//! A record parsed into only the fields its normalizer reads.
//!
//! Why: a line in scope was parsed whole into `serde_json::Value`, a string and a map node
//! allocated for every field, then dropped; for a 2.5 KB Activity Log record that was most of
//! what a reader thread spent on it. A [`Shape`] names the fields read, at the top and inside
//! the objects read in part (an Activity Log record's `identity.claims`): those are kept, the
//! rest of the text is checked exactly as `Value` checks it (strings, escapes, numbers, depth)
//! and dropped as it is read.
//!
//! What is kept is exactly what `Value` holds for those fields: any casing of a field name is
//! kept (the normalizers match names in any casing), a repeated field keeps its last value, and
//! a field read in part that is not an object (a JSON string the normalizer parses itself, say)
//! is kept whole. A normalizer reading the result sees what it would see in the whole record, so
//! long as its shape names every field it reads: each cloud's line test checks that over the
//! fixtures.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The fields of an object a normalizer reads.
pub(super) struct Shape {
    /// Each field read, any casing: kept whole (`None`), or read in part.
    pub fields: &'static [(&'static str, Option<&'static Shape>)],
    /// Fields that make the object another shape than the normalizer's: the parse fails.
    pub other: &'static [&'static str],
}

/// The object `text` holds, with only the fields `shape` reads. `None`: not one JSON object,
/// not valid JSON, or another shape.
pub(super) fn parse(text: &str, shape: &'static Shape) -> Option<Map<String, Value>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Part { shape, top: true }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// A value read in part when it is an object, whole otherwise; at the top, only an object.
#[derive(Clone, Copy)]
struct Part {
    shape: &'static Shape,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Part {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Part {
    /// A whole value where an object was expected: refused at the top.
    fn whole<E: de::Error>(self, v: Value) -> Result<Value, E> {
        if self.top {
            Err(E::custom("not an object"))
        } else {
            Ok(v)
        }
    }
}

impl<'de> Visitor<'de> for Part {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    // The non-object cases build what `Value`'s own visitor builds.
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.whole(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        self.whole(Value::Number(i.into()))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        self.whole(Value::Number(u.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        self.whole(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.whole(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.whole(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.whole(Value::Null)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Value, S::Error> {
        if self.top {
            return Err(de::Error::custom("not an object"));
        }
        let mut items = Vec::new();
        while let Some(v) = s.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Value, M::Error> {
        let mut map = Map::new();
        while let Some(key) = m.next_key_seed(&self)? {
            match key {
                Key::Whole(k) => {
                    map.insert(k, m.next_value()?);
                }
                Key::Part(k, shape) => {
                    map.insert(k, m.next_value_seed(Part { shape, top: false })?);
                }
                Key::Unread => m.next_value_seed(Check)?,
                Key::Other => return Err(de::Error::custom("another shape")),
            }
        }
        Ok(Value::Object(map))
    }
}

enum Key {
    Whole(String),
    Part(String, &'static Shape),
    Unread,
    Other,
}

/// A field name, as `Part` reads it for its shape.
impl<'de> DeserializeSeed<'de> for &Part {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyOf(self.shape))
    }
}

struct KeyOf(&'static Shape);

impl<'de> Visitor<'de> for KeyOf {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
        if let Some((_, part)) = self
            .0
            .fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
        {
            return Ok(match part {
                Some(shape) => Key::Part(k.to_string(), shape),
                None => Key::Whole(k.to_string()),
            });
        }
        Ok(if self.0.other.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            Key::Other
        } else {
            Key::Unread
        })
    }
}

/// Parses a value as `Value` would, with the same checks, and keeps nothing.
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<(), S::Error> {
        while s.next_element_seed(Check)?.is_some() {}
        Ok(())
    }

    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<(), M::Error> {
        while m.next_key_seed(Check)?.is_some() {
            m.next_value_seed(Check)?;
        }
        Ok(())
    }
}
