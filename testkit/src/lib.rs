//! Test support shared by every crate's tests, kept out of the product crates.
//!
//! Decision: the alert contract is the committed `schema/alert.schema.json`, checked with a
//! real JSON Schema validator (formats on), so a change to the alert type that the schema does
//! not follow fails wherever alerts are produced: the core, the CLI, the Lambda, the Function.

use serde_json::Value;
use std::sync::OnceLock;

/// A free loopback port for a test server (moto, Azurite, a fault proxy): the OS picks it, so
/// parallel tests and other agents' servers never collide.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A free loopback port, with this process's port lock held: keep the guard until the server
/// started on the port listens. [`free_port`] closes its probe before the server binds, so two
/// tests starting servers at once could be handed the same port: one server then fails to
/// bind and its test talks to the other's. A clean-clone run saw an Azurite test's container
/// request answered 404, what moto answers for a bucket it does not have.
/// Tests of one binary run as threads of one process, so the lock serializes exactly them.
pub fn reserve_port() -> (u16, std::sync::MutexGuard<'static, ()>) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that panicked while holding it left nothing to repair.
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    (free_port(), guard)
}

/// The committed schema text.
pub const ALERT_SCHEMA: &str = include_str!("../../schema/alert.schema.json");

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(ALERT_SCHEMA).expect("schema/alert.schema.json is JSON");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema/alert.schema.json is a valid 2020-12 schema")
    })
}

/// Schema violations of one alert document, each with its JSON pointer.
pub fn alert_errors(alert: &Value) -> Vec<String> {
    validator()
        .iter_errors(alert)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Panic with every violation when an alert does not follow the schema.
pub fn assert_valid_alert(alert: &Value) {
    let errors = alert_errors(alert);
    assert!(
        errors.is_empty(),
        "alert does not follow schema/alert.schema.json:\n  {}\n{}",
        errors.join("\n  "),
        serde_json::to_string_pretty(alert).unwrap_or_default()
    );
}

/// [`assert_valid_alert`] for a serialized document (SNS message, Logic App body, CLI line).
pub fn assert_valid_alert_text(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("alert is not JSON ({e}): {text}"));
    assert_valid_alert(&v);
    v
}

/// A settings lookup (`key -> value`) over fixed pairs, as the entrypoints' `from_lookup` read
/// the environment or app settings.
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

/// A tuning document under which a new principal's lowest tier alerts from the seed's 3
/// points, as the seed does (by default from 4): for tests that move one operation across it.
pub const SEED_TIERS: &str = "[defaults.baseline]\nnew_principal_risk = 0\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_refuses_what_is_not_an_alert() {
        // Documents that are not alerts at all; a real alert with one field too many or too
        // few is refused in shared/tests/alert_document.rs, where alerts are made.
        assert!(!alert_errors(&serde_json::json!({})).is_empty());
        assert!(!alert_errors(&serde_json::json!({"class_uid": 2003})).is_empty());
        assert!(!alert_errors(&serde_json::json!([])).is_empty());
    }
}
