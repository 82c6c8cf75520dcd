//! A JSON tree borrowing its strings from the line it was parsed from.
//!
//! Why: parsed into `serde_json::Value`, an in-scope CloudTrail line allocated a string for
//! every key and value it kept and a map node for every few fields, then freed them all once
//! normalized: most of what a reader thread spent on the line. Here a string without escapes
//! is a slice of the line, and an object is one vector of its fields in document order.
//!
//! It reads like the `Value` the same text parses to (see [`Json::field`]): a repeated key
//! gives its last value, and a key matched in another casing is the first such key in byte
//! order, which is the one a `serde_json::Map` iterates to first.

use crate::json::Json;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// One JSON value; strings borrowed from the parsed text unless they held escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Fields in document order, repeats included.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The `Value` the same text parses to (keys deduplicated, last value kept).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number(n) => Value::Number(n),
            Node::String(s) => Value::String(s.into_owned()),
            Node::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    map.insert(k.into_owned(), v.into_value());
                }
                Value::Object(map)
            }
        }
    }

    /// The same tree owning all its strings.
    fn into_owned(self) -> Node<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        match self {
            Node::Null => Node::Null,
            Node::Bool(b) => Node::Bool(b),
            Node::Number(n) => Node::Number(n),
            Node::String(s) => Node::String(own(s)),
            Node::Array(items) => Node::Array(items.into_iter().map(Node::into_owned).collect()),
            Node::Object(fields) => Node::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (own(k), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// What [`crate::json::unstring`] does to the `Value` of the same text: the field
    /// [`Json::field`] finds, when it holds JSON text that parses, becomes the parsed value.
    pub(crate) fn unstring(&mut self, key: &str) {
        let Node::Object(fields) = self else { return };
        let Some(i) = field_index(fields, key) else { return };
        let field = &mut fields[i].1;
        let Node::String(s) = field else { return };
        if !crate::json::holds_json(s) {
            return;
        }
        if let Ok(parsed) = serde_json::from_str::<Node>(s) {
            *field = parsed.into_owned();
        }
    }

    /// The value of exactly `key` (its last, where it repeats), to change in place.
    pub(crate) fn exact_mut(&mut self, key: &str) -> Option<&mut Node<'a>> {
        let Node::Object(fields) = self else { return None };
        fields.iter_mut().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Where [`Json::field`] finds `key` among an object's fields: the last exact match, else,
/// among keys equal in any casing, the least in byte order (of its repeats, the last). One pass:
/// the normalizers look up many fields a record does not have.
fn field_index(fields: &[(Cow<'_, str>, Node<'_>)], key: &str) -> Option<usize> {
    let mut exact = None;
    let mut best: Option<(usize, &str)> = None;
    for (i, (k, _)) in fields.iter().enumerate() {
        if k.len() != key.len() {
            continue;
        }
        if k == key {
            exact = Some(i);
        } else if exact.is_none() && k.eq_ignore_ascii_case(key) && best.is_none_or(|(_, b)| k.as_ref() <= b)
        {
            best = Some((i, k));
        }
    }
    exact.or(best.map(|(i, _)| i))
}

impl Json for Node<'_> {
    fn field(&self, key: &str) -> Option<&Self> {
        let Node::Object(fields) = self else {
            return None;
        };
        field_index(fields, key).map(|i| &fields[i].1)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&Number> {
        match self {
            Node::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    fn null<'r>() -> &'r Self
    where
        Self: 'r,
    {
        static NULL: Node<'static> = Node::Null;
        &NULL
    }

    fn canonical(&self) -> String {
        self.clone().into_value().canonical()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{get, items, text_at};

    /// `text` parsed both ways.
    fn both(text: &str) -> (Node<'_>, Value) {
        let node = crate::normalize::project::parse_any(text).expect("valid JSON");
        (node, serde_json::from_str(text).unwrap())
    }

    #[test]
    fn fields_are_found_as_value_finds_them() {
        let text = r#"{"b":1,"A":"x","a":"y","aB":2,"Ab":3,"ab":4,"AB":5,"c":{"d":"e"},"c":{"d":"f"},
            "l":[1,"2",{"k":"v"}],"n":null,"t":true,"esc":"q\"\u00e9"}"#;
        let (node, value) = both(text);
        for key in [
            "a", "A", "ab", "AB", "Ab", "aB", "b", "B", "c", "C", "l", "n", "t", "esc", "zz",
        ] {
            let (n, v) = (get(&node, key), get(&value, key));
            assert_eq!(n.map(|n| n.clone().into_value()), v.cloned(), "key {key}");
        }
        assert_eq!(text_at(&node, &["C", "D"]), text_at(&value, &["C", "D"]));
        assert_eq!(text_at(&node, &["c", "d"]).as_deref(), Some("f"));
        assert_eq!(text_at(&node, &["ESC"]).as_deref(), Some("q\"é"));
        let l = (get(&node, "l").unwrap(), get(&value, "l").unwrap());
        let texts =
            |xs: Vec<Option<Cow<str>>>| xs.into_iter().map(|t| t.map(Cow::into_owned)).collect::<Vec<_>>();
        assert_eq!(
            texts(items(l.0).into_iter().map(crate::json::text).collect()),
            texts(items(l.1).into_iter().map(crate::json::text).collect())
        );
        assert_eq!(node.into_value(), value);
    }

    #[test]
    fn unescaped_strings_borrow_the_text() {
        let (node, _) = both(r#"{"k":"plain","e":"a\nb"}"#);
        let Node::Object(fields) = &node else {
            panic!("not an object")
        };
        assert!(matches!(&fields[0].0, Cow::Borrowed("k")));
        assert!(matches!(&fields[0].1, Node::String(Cow::Borrowed("plain"))));
        assert!(matches!(&fields[1].1, Node::String(Cow::Owned(s)) if s == "a\nb"));
    }
}
