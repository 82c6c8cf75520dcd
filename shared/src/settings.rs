//! Settings every entrypoint shares (profile, window, mode), read once from a key/value source
//! (environment, app settings) with errors that name the key and say why.

pub use crate::profile::{parse_duration_ms, Mode, WINDOW_RANGE_MS};
use crate::profile::{ObservedSince, Profile, ProfileName};

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {key}: {reason}")]
pub struct SettingsError {
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl SettingsError {
    /// Error for `key`.
    pub fn new(key: &str, reason: impl Into<String>) -> SettingsError {
        SettingsError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// Profile, window, mode and tuning.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// Profile with its window applied.
    pub profile: Profile,
    /// Alert or shadow.
    pub mode: Mode,
    /// The `T1578_CONFIG` tuning document (empty when unset).
    pub tuning: crate::tuning::Tuning,
    /// `T1578_OBSERVED_SINCE`: when the detector started seeing the accounts, where the tuning
    /// document does not say; `first` for each account's first event (what the Terraform
    /// modules set), unset for no learning period.
    pub observed_since: ObservedSince,
}

impl CommonSettings {
    /// Read `T1578_PROFILE` (default|seed-kql, default `default`), `T1578_WINDOW` (default
    /// `24h`, 1m to 30d), `T1578_MODE` (alert|shadow, default `alert`), `T1578_CONFIG`
    /// (inline TOML tuning document, see [`crate::tuning`]) and `T1578_OBSERVED_SINCE`
    /// (`first`, a date or an RFC 3339 time). Empty means unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<CommonSettings, SettingsError> {
        let catalog =
            crate::catalog::Catalog::builtin().map_err(|e| SettingsError::new("catalog", e.to_string()))?;
        let tuning = tuning_from_lookup(&get, &catalog)?;
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let name = match get("T1578_PROFILE") {
            None => ProfileName::Default,
            Some(v) => ProfileName::parse(&v).ok_or_else(|| {
                SettingsError::new("T1578_PROFILE", format!("`{v}` is not `default` or `seed-kql`"))
            })?,
        };
        let mut profile = Profile::named(name);
        if let Some(v) = get("T1578_WINDOW") {
            let ms = parse_duration_ms(&v).map_err(|r| SettingsError::new("T1578_WINDOW", r))?;
            if !(WINDOW_RANGE_MS.0..=WINDOW_RANGE_MS.1).contains(&ms) {
                return Err(SettingsError::new(
                    "T1578_WINDOW",
                    format!("`{v}` is outside 1m..30d"),
                ));
            }
            profile.window_ms = ms;
        }
        let mode = match get("T1578_MODE").as_deref().map(str::trim) {
            None | Some("alert") => Mode::Alert,
            Some("shadow") => Mode::Shadow,
            Some(v) => {
                return Err(SettingsError::new(
                    "T1578_MODE",
                    format!("`{v}` is not `alert` or `shadow`"),
                ))
            }
        };
        let observed_since = match get("T1578_OBSERVED_SINCE") {
            None => ObservedSince::Unset,
            Some(v) => crate::tuning::observed_since(&v)
                .map_err(|r| SettingsError::new("T1578_OBSERVED_SINCE", r))?,
        };
        Ok(CommonSettings {
            profile,
            mode,
            tuning,
            observed_since,
        })
    }

    /// The engine these settings describe: built-in catalog, profile, tuning.
    pub fn engine(&self) -> Result<crate::engine::Engine, crate::catalog::CatalogError> {
        let e = crate::engine::Engine::with_tuning(
            crate::catalog::Catalog::builtin()?,
            self.profile.clone(),
            self.tuning.clone(),
        );
        Ok(e.observing(self.observed_since))
    }
}

/// The tuning document from `T1578_CONFIG` (inline TOML), or none when unset. The functions
/// refuse to start on an invalid one rather than run half-configured.
pub fn tuning_from_lookup(
    get: impl Fn(&str) -> Option<String>,
    catalog: &crate::catalog::Catalog,
) -> Result<crate::tuning::Tuning, SettingsError> {
    match get("T1578_CONFIG").filter(|v| !v.trim().is_empty()) {
        None => Ok(crate::tuning::Tuning::default()),
        Some(text) => crate::tuning::Tuning::from_toml(&text, "T1578_CONFIG", catalog)
            .map_err(|e| SettingsError::new("T1578_CONFIG", format!("{}: {}", e.key, e.reason))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<CommonSettings, SettingsError> {
        CommonSettings::from_lookup(t1578_testkit::lookup(pairs))
    }

    #[test]
    fn defaults_and_values() {
        let s = read(&[]).unwrap();
        assert_eq!(s.profile.name, ProfileName::Default);
        assert_eq!(s.profile.window_ms, 86_400_000);
        assert_eq!(s.mode, Mode::Alert);
        let s = read(&[
            ("T1578_PROFILE", "seed-kql"),
            ("T1578_WINDOW", "90m"),
            ("T1578_MODE", "shadow"),
        ])
        .unwrap();
        assert_eq!(s.profile.name, ProfileName::SeedKql);
        assert_eq!(s.profile.window_ms, 5_400_000);
        assert_eq!(s.mode, Mode::Shadow);
    }

    #[test]
    fn tuning_comes_from_t1578_config() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let none = tuning_from_lookup(|_| None, &catalog).unwrap();
        assert!(none.allow.is_empty());
        let doc = "[[allow]]\nprincipal = \"user:*@contoso.com\"\nreason = \"r\"";
        let t = tuning_from_lookup(|k| (k == "T1578_CONFIG").then(|| doc.to_string()), &catalog).unwrap();
        assert_eq!(t.allow.len(), 1);
        let e = tuning_from_lookup(
            |k| (k == "T1578_CONFIG").then(|| "[defaults]\nmode = 1".into()),
            &catalog,
        )
        .unwrap_err();
        assert_eq!(e.key, "T1578_CONFIG");
        assert!(e.reason.contains("mode"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(read(&[("T1578_WINDOW", "40d")]).unwrap_err().key, "T1578_WINDOW");
        assert_eq!(read(&[("T1578_WINDOW", "abc")]).unwrap_err().key, "T1578_WINDOW");
        assert_eq!(
            read(&[("T1578_PROFILE", "strict")]).unwrap_err().key,
            "T1578_PROFILE"
        );
        let e = read(&[("T1578_MODE", "loud")]).unwrap_err();
        assert!(e.to_string().contains("T1578_MODE") && e.to_string().contains("loud"));
        let e = read(&[("T1578_OBSERVED_SINCE", "yesterday")]).unwrap_err();
        assert_eq!(e.key, "T1578_OBSERVED_SINCE");
        assert!(e.reason.contains("yesterday"), "{e}");
    }

    #[test]
    fn observed_since_reaches_the_engine() {
        let rule = crate::profile::BaselineRule::DEFAULT;
        let observation = |pairs: &[(&str, &str)]| read(pairs).unwrap().engine().unwrap().observation(&rule);
        assert_eq!(observation(&[]), ObservedSince::Unset);
        assert_eq!(
            observation(&[("T1578_OBSERVED_SINCE", "first")]),
            ObservedSince::FirstEvent
        );
        assert_eq!(
            observation(&[("T1578_OBSERVED_SINCE", "2026-11-02")]),
            ObservedSince::At(1_793_577_600_000)
        );
    }
}
