//! A record parsed into only the fields its normalizer reads, as a borrowed [`Node`] tree.
//!
//! Why: a line in scope was parsed whole into `serde_json::Value`, a string and a map node
//! allocated for every field, then dropped; for a 2.5 KB Activity Log record that was most of
//! what a reader thread spent on it. A [`Shape`] names the fields read, at the top and inside
//! the objects read in part (an Activity Log record's `identity.claims`): those are kept, the
//! rest of the text is checked exactly as `Value` checks it (strings, escapes, numbers, depth)
//! and dropped as it is read. What is kept borrows its strings from the line (see
//! [`super::node`]): a kept field costs no allocation of its own unless it held escapes.
//!
//! What is kept reads exactly as the `Value` of the whole record reads for those fields: every
//! casing of a field name is kept (the normalizers match names in any casing, as `Value` would
//! find them), repeats are kept and the last read, and a field read in part that is not an object
//! (a JSON string the normalizer parses itself, say) is kept whole. A normalizer reading the
//! result sees what it would see in the whole record, so long as its shape names every field it
//! reads: each cloud's line test checks that over the fixtures.

use super::node::Node;
use crate::json::Json as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;

/// The fields of an object a normalizer reads.
pub(super) struct Shape {
    /// Each field read, any casing: kept whole (`None`), or read in part.
    pub fields: &'static [(&'static str, Option<&'static Shape>)],
    /// Fields that make the object another shape than the normalizer's: the parse fails.
    pub other: &'static [&'static str],
}

/// The object `text` holds, with only the fields `shape` reads. `None`: not one JSON object,
/// not valid JSON, or another shape.
pub(super) fn parse<'a>(text: &'a str, shape: &'static Shape) -> Option<Node<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Part { shape, top: true }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    v.is_object().then_some(v)
}

/// The whole value `text` holds; `None` when it is not valid JSON.
#[cfg(test)]
pub(super) fn parse_any(text: &str) -> Option<Node<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = de::Deserialize::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// A value read in part when it is an object, whole otherwise; at the top, only an object.
#[derive(Clone, Copy)]
struct Part {
    shape: &'static Shape,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Part {
    type Value = Node<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl Part {
    /// A whole value where an object was expected: refused at the top.
    fn whole<E: de::Error>(self, v: Node<'_>) -> Result<Node<'_>, E> {
        if self.top {
            Err(E::custom("not an object"))
        } else {
            Ok(v)
        }
    }
}

/// Builds the values `serde_json::Value`'s own visitor builds, strings borrowed where they can be.
macro_rules! scalars {
    ($wrap:ident) => {
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node<'de>, E> {
            self.$wrap(Node::Bool(b))
        }

        fn visit_i64<E: de::Error>(self, i: i64) -> Result<Node<'de>, E> {
            self.$wrap(Node::Number(i.into()))
        }

        fn visit_u64<E: de::Error>(self, u: u64) -> Result<Node<'de>, E> {
            self.$wrap(Node::Number(u.into()))
        }

        fn visit_f64<E: de::Error>(self, f: f64) -> Result<Node<'de>, E> {
            self.$wrap(Number::from_f64(f).map_or(Node::Null, Node::Number))
        }

        fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Node<'de>, E> {
            self.$wrap(Node::String(Cow::Borrowed(s)))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Node<'de>, E> {
            self.$wrap(Node::String(Cow::Owned(s.to_owned())))
        }

        fn visit_string<E: de::Error>(self, s: String) -> Result<Node<'de>, E> {
            self.$wrap(Node::String(Cow::Owned(s)))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
            self.$wrap(Node::Null)
        }
    };
}

impl<'de> Visitor<'de> for Part {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!(whole);

    fn visit_seq<S: SeqAccess<'de>>(self, s: S) -> Result<Node<'de>, S::Error> {
        if self.top {
            return Err(de::Error::custom("not an object"));
        }
        Whole.visit_seq(s)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Node<'de>, M::Error> {
        // Sized for the fields the shape names, which is what a record usually has: grown from
        // empty, a line's fields were moved three times.
        let mut fields = Vec::with_capacity(self.shape.fields.len());
        while let Some(key) = m.next_key_seed(&self)? {
            match key {
                Key::Whole(k) => fields.push((k, m.next_value_seed(Whole)?)),
                Key::Part(k, shape) => fields.push((k, m.next_value_seed(Part { shape, top: false })?)),
                Key::Unread => m.next_value_seed(Check)?,
                Key::Other => return Err(de::Error::custom("another shape")),
            }
        }
        Ok(Node::Object(fields))
    }
}

/// A whole value.
#[derive(Clone, Copy)]
struct Whole;

impl Whole {
    fn keep<E>(self, v: Node<'_>) -> Result<Node<'_>, E> {
        Ok(v)
    }
}

impl<'de> DeserializeSeed<'de> for Whole {
    type Value = Node<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Deserialize<'de> for Node<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(Whole)
    }
}

impl<'de> Visitor<'de> for Whole {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    scalars!(keep);

    fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Node<'de>, S::Error> {
        let mut items = Vec::new();
        while let Some(v) = s.next_element_seed(Whole)? {
            items.push(v);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Node<'de>, M::Error> {
        let mut fields = Vec::new();
        while let Some(k) = m.next_key_seed(Name)? {
            fields.push((k, m.next_value_seed(Whole)?));
        }
        Ok(Node::Object(fields))
    }
}

/// A field name, borrowed where it can be.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, k: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(k))
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(k.to_owned()))
    }
}

enum Key<'a> {
    Whole(Cow<'a, str>),
    Part(Cow<'a, str>, &'static Shape),
    Unread,
    Other,
}

/// A field name, as `Part` reads it for its shape.
impl<'de> DeserializeSeed<'de> for &Part {
    type Value = Key<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        let k = d.deserialize_str(Name)?;
        if let Some((_, part)) = self
            .shape
            .fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&k))
        {
            return Ok(match part {
                Some(shape) => Key::Part(k, shape),
                None => Key::Whole(k),
            });
        }
        Ok(if self.shape.other.iter().any(|o| o.eq_ignore_ascii_case(&k)) {
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
