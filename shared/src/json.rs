//! Lenient field access over `serde_json::Value`: any key casing, numbers sent as strings,
//! objects sent as JSON inside a string. Records are parsed into `Value` once and read through
//! these helpers, never through strict structs that reject a whole batch for one odd field.

use serde_json::Value;
use std::borrow::Cow;

/// Field of an object: exact key first, then an ASCII case-insensitive match.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(key) {
        return Some(x);
    }
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, x)| x)
}

/// Nested field by path.
pub fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| get(cur, k))
}

/// Text of a scalar: strings as is, numbers and booleans printed. Null and containers: None.
pub fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// Non-empty trimmed text of a field.
pub fn text_at<'a>(v: &'a Value, keys: &[&str]) -> Option<Cow<'a, str>> {
    let t = text(path(v, keys)?)?;
    if t.trim().is_empty() {
        None
    } else {
        Some(t)
    }
}

/// Integer from a number or a numeric string.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Boolean from a bool, `"true"`/`"false"` (any case) or 0/1.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
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
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return;
    }
    let Ok(parsed) = serde_json::from_str::<Value>(s) else {
        return;
    };
    let actual = actual.clone();
    obj.insert(actual, parsed);
}

/// Items of an AWS-style list: `{"items":[...]}`, a plain array, or a single object.
pub fn items(v: &Value) -> Vec<&Value> {
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
