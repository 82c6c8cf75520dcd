//! Lenient field access over parsed JSON: any key casing, numbers sent as strings, objects
//! sent as JSON inside a string. Records are parsed once and read through these helpers, never
//! through strict structs that reject a whole batch for one odd field.
//!
//! The helpers read any [`Json`] tree: `serde_json::Value`, or a line's borrowed
//! [`crate::normalize`](mod@crate::normalize) tree, which reads a field the way `Value` does (same key found, same
//! text) without an allocation per string.

use serde_json::{Number, Value};
use std::borrow::Cow;

/// A parsed JSON value, as the lenient helpers read it.
pub trait Json: Sized {
    /// Field of an object: the exact key, else one matching in any ASCII casing. Where a key
    /// repeats, its last value; among casings, the first key in byte order (what a
    /// `serde_json::Map` holds and iterates).
    fn field(&self, key: &str) -> Option<&Self>;
    /// A string's text.
    fn as_str(&self) -> Option<&str>;
    /// A number.
    fn as_number(&self) -> Option<&Number>;
    /// A boolean.
    fn as_bool(&self) -> Option<bool>;
    /// An array's items.
    fn as_array(&self) -> Option<&[Self]>;
    /// Whether it is an object.
    fn is_object(&self) -> bool;
    /// JSON `null`, read where a field is absent.
    fn null<'r>() -> &'r Self
    where
        Self: 'r;
    /// The value as `serde_json` writes the `Value` it parses to (keys sorted, once each).
    fn canonical(&self) -> String;
}

impl Json for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        let obj = self.as_object()?;
        if let Some(x) = obj.get(key) {
            return Some(x);
        }
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, x)| x)
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn as_array(&self) -> Option<&[Value]> {
        Value::as_array(self).map(Vec::as_slice)
    }

    fn is_object(&self) -> bool {
        Value::is_object(self)
    }

    fn null<'r>() -> &'r Value {
        static NULL: Value = Value::Null;
        &NULL
    }

    fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Field of an object: exact key first, then an ASCII case-insensitive match.
pub fn get<'a, J: Json>(v: &'a J, key: &str) -> Option<&'a J> {
    v.field(key)
}

/// Nested field by path.
pub fn path<'a, J: Json>(v: &'a J, keys: &[&str]) -> Option<&'a J> {
    keys.iter().try_fold(v, |cur, k| get(cur, k))
}

/// Text of a scalar: strings as is, numbers and booleans printed. Null and containers: None.
pub fn text<J: Json>(v: &J) -> Option<Cow<'_, str>> {
    if let Some(s) = v.as_str() {
        return Some(Cow::Borrowed(s));
    }
    if let Some(n) = v.as_number() {
        return Some(Cow::Owned(n.to_string()));
    }
    v.as_bool().map(|b| Cow::Owned(b.to_string()))
}

/// Non-empty trimmed text of a field.
pub fn text_at<'a, J: Json>(v: &'a J, keys: &[&str]) -> Option<Cow<'a, str>> {
    let t = text(path(v, keys)?)?;
    if t.trim().is_empty() {
        None
    } else {
        Some(t)
    }
}

/// Integer from a number or a numeric string.
pub fn int<J: Json>(v: &J) -> Option<i64> {
    if let Some(n) = v.as_number() {
        return n.as_i64().or_else(|| n.as_f64().map(|f| f as i64));
    }
    v.as_str().and_then(|s| s.trim().parse::<i64>().ok())
}

/// Boolean from a bool, `"true"`/`"false"` (any case) or 0/1.
pub fn boolean<J: Json>(v: &J) -> Option<bool> {
    if let Some(b) = v.as_bool() {
        return Some(b);
    }
    if let Some(s) = v.as_str() {
        return match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        };
    }
    v.as_number().and_then(|n| n.as_i64().map(|i| i != 0))
}

/// Whether a string is JSON text [`unstring`] would try to parse: an object or an array. A
/// line's fast path leaves a record with such a field to the whole parse, which parses it.
pub fn holds_json(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

/// Replace a field holding JSON text (`"{...}"` or `"[...]"`) by the parsed value, in place.
/// A string that does not parse is left as is: it is data, not an error.
pub fn unstring(v: &mut Value, key: &str) {
    let Some(obj) = v.as_object_mut() else { return };
    // Found and tested in place: the field is usually an object already, and nothing is
    // allocated for it then.
    let Some((actual, Value::String(s))) = obj
        .get_key_value(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
    else {
        return;
    };
    if !holds_json(s) {
        return;
    }
    let Ok(parsed) = serde_json::from_str::<Value>(s) else {
        return;
    };
    let actual = actual.clone();
    obj.insert(actual, parsed);
}

/// Items of an AWS-style list: `{"items":[...]}`, a plain array, or a single object.
pub fn items<J: Json>(v: &J) -> Vec<&J> {
    if let Some(arr) = v.as_array() {
        return arr.iter().collect();
    }
    if let Some(inner) = get(v, "items") {
        if let Some(arr) = inner.as_array() {
            return arr.iter().collect();
        }
    }
    if v.is_object() {
        return vec![v];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_any_key_casing_and_numbers_as_strings() {
        let v = json!({"EventName": "X", "count": "7", "flag": "TRUE"});
        assert_eq!(text_at(&v, &["eventName"]).unwrap(), "X");
        assert_eq!(int(get(&v, "count").unwrap()), Some(7));
        assert_eq!(boolean(get(&v, "flag").unwrap()), Some(true));
    }

    #[test]
    fn unstrings_json_objects_but_keeps_plain_text() {
        let mut v = json!({"p": "{\"a\":1}", "q": "{not json", "r": "plain"});
        unstring(&mut v, "p");
        unstring(&mut v, "q");
        unstring(&mut v, "r");
        assert_eq!(v["p"]["a"], 1);
        assert_eq!(v["q"], "{not json");
        assert_eq!(v["r"], "plain");
    }
}
