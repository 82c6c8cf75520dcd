//! Typed configuration, read once at cold start from a key/value lookup (the environment in
//! production, a map in tests). Every error names the key it is about.

use std::sync::Arc;
use t1578_core::aws_ranges::AwsRanges;
use t1578_core::settings::{CommonSettings, Mode, SettingsError};

/// Environment key of the DynamoDB table holding the rolling windows.
pub const STATE_TABLE: &str = "T1578_STATE_TABLE";
/// Environment key of the SNS topic alerts are published to.
pub const ALERT_TOPIC_ARN: &str = "T1578_ALERT_TOPIC_ARN";
/// Environment key of the file holding AWS's published ranges (`ip-ranges.json`): the
/// Terraform module's layer puts the copy it fetched at apply time under `/opt`. Unset, an
/// instance's credentials used outside AWS cannot be told.
pub const AWS_IP_RANGES: &str = "T1578_AWS_IP_RANGES";

/// A setting that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required key is unset or empty.
    #[error("setting {0} is required")]
    Missing(&'static str),
    /// A key is set to something that cannot work.
    #[error("setting {key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// Profile, window or mode.
    #[error(transparent)]
    Common(#[from] SettingsError),
}

/// Everything the function needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table name (or ARN).
    pub state_table: String,
    /// SNS topic ARN.
    pub alert_topic_arn: String,
    /// Profile (window applied) and mode.
    pub common: CommonSettings,
    /// AWS's published ranges, read once at cold start.
    pub aws_ranges: Option<Arc<AwsRanges>>,
}

impl Config {
    /// Read `T1578_STATE_TABLE`, `T1578_ALERT_TOPIC_ARN` and the common `T1578_PROFILE`,
    /// `T1578_WINDOW`, `T1578_MODE`. The AWS endpoint, region and credentials are left to
    /// aws-config, which reads `AWS_*` itself.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let required = |key: &'static str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(key))
        };
        let state_table = required(STATE_TABLE)?;
        // DynamoDB accepts a table name (3-255 of [A-Za-z0-9_.-]) or a table ARN.
        let name_ok = (3..=255).contains(&state_table.len())
            && state_table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        let arn_ok =
            state_table.starts_with("arn:") && state_table.contains(":table/") && state_table.len() <= 1024;
        if !(name_ok || arn_ok) {
            return Err(ConfigError::Invalid {
                key: STATE_TABLE,
                reason: format!(
                    "`{}` is neither a DynamoDB table name nor a table ARN",
                    clip(&state_table)
                ),
            });
        }
        let alert_topic_arn = required(ALERT_TOPIC_ARN)?;
        let parts: Vec<&str> = alert_topic_arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            return Err(ConfigError::Invalid {
                key: ALERT_TOPIC_ARN,
                reason: format!(
                    "`{}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                    clip(&alert_topic_arn)
                ),
            });
        }
        let common = CommonSettings::from_lookup(&get)?;
        let aws_ranges = match get(AWS_IP_RANGES)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            None => None,
            Some(path) => Some(Arc::new(read_ranges(&path)?)),
        };
        Ok(Config {
            state_table,
            alert_topic_arn,
            common,
            aws_ranges,
        })
    }

    /// The engine the settings describe, with AWS's ranges where given.
    pub fn engine(&self) -> Result<t1578_core::engine::Engine, t1578_core::catalog::CatalogError> {
        Ok(self.common.engine()?.with_aws_ranges(self.aws_ranges.clone()))
    }

    /// True when alerts are decided and logged but not published.
    pub fn shadow(&self) -> bool {
        self.common.mode == Mode::Shadow
    }
}

/// The ranges file a deployment gives: a function that cannot read it does not start, rather
/// than run without a sign it was configured for.
fn read_ranges(path: &str) -> Result<AwsRanges, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        key: AWS_IP_RANGES,
        reason: format!("`{}`: {reason}", clip(path)),
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    AwsRanges::parse(&text).map_err(|e| invalid(e.to_string()))
}

fn clip(s: &str) -> String {
    t1578_core::event::clip(s, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:t1578-alerts";

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(t1578_testkit::lookup(pairs))
    }

    #[test]
    fn reads_required_and_common_settings() {
        let c = read(&[
            (STATE_TABLE, "t1578-state"),
            (ALERT_TOPIC_ARN, TOPIC),
            ("T1578_MODE", "shadow"),
        ])
        .unwrap();
        assert_eq!(c.state_table, "t1578-state");
        assert_eq!(c.alert_topic_arn, TOPIC);
        assert!(c.shadow());
        assert_eq!(c.common.profile.window_ms, 86_400_000);
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            read(&[(ALERT_TOPIC_ARN, TOPIC)]).unwrap_err(),
            ConfigError::Missing(STATE_TABLE)
        );
        assert_eq!(
            read(&[(STATE_TABLE, "t"), (ALERT_TOPIC_ARN, TOPIC)])
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("setting T1578_STATE_TABLE")
        );
        assert_eq!(
            read(&[(STATE_TABLE, "  ")]).unwrap_err(),
            ConfigError::Missing(STATE_TABLE)
        );
        assert_eq!(
            read(&[(STATE_TABLE, "tbl")]).unwrap_err(),
            ConfigError::Missing(ALERT_TOPIC_ARN)
        );
        let e = read(&[(STATE_TABLE, "tbl"), (ALERT_TOPIC_ARN, "my-topic")]).unwrap_err();
        assert!(e.to_string().contains(ALERT_TOPIC_ARN), "{e}");
        let e = read(&[
            (STATE_TABLE, "tbl"),
            (ALERT_TOPIC_ARN, TOPIC),
            ("T1578_WINDOW", "90d"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("T1578_WINDOW"), "{e}");
    }

    /// The ranges file is read once, into the engine; one that is missing or holds no ranges
    /// stops the function at cold start with the key named.
    #[test]
    fn aws_ranges_are_read_from_their_file_or_refused_by_key() {
        let dir = std::env::temp_dir().join(format!("t1578-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ip-ranges.json");
        std::fs::write(
            &good,
            r#"{"syncToken": "1", "prefixes": [{"ip_prefix": "52.4.0.0/14", "service": "AMAZON"}], "ipv6_prefixes": []}"#,
        )
        .unwrap();
        let empty = dir.join("empty.json");
        std::fs::write(&empty, r#"{"prefixes": []}"#).unwrap();
        let with = |path: &std::path::Path| {
            read(&[
                (STATE_TABLE, "tbl"),
                (ALERT_TOPIC_ARN, TOPIC),
                (AWS_IP_RANGES, path.to_str().unwrap()),
            ])
        };
        let c = with(&good).unwrap();
        let ranges = c.aws_ranges.as_deref().expect("ranges read");
        assert_eq!(ranges.intervals(), (1, 0));
        assert!(ranges.outside("45.77.10.20") && !ranges.outside("52.5.1.1"));
        assert!(c.engine().is_ok());
        for bad in [empty, dir.join("missing.json")] {
            let e = with(&bad).unwrap_err().to_string();
            assert!(e.starts_with("setting T1578_AWS_IP_RANGES: "), "{e}");
        }
        assert!(read(&[(STATE_TABLE, "tbl"), (ALERT_TOPIC_ARN, TOPIC)])
            .unwrap()
            .aws_ranges
            .is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn table_arns_are_accepted() {
        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t1578-state";
        assert_eq!(
            read(&[(STATE_TABLE, arn), (ALERT_TOPIC_ARN, TOPIC)])
                .unwrap()
                .state_table,
            arn
        );
    }

    /// The same tuning file the CLI reads, as the inline T1578_CONFIG setting.
    #[test]
    fn reads_the_shared_tuning_document_from_t1578_config() {
        let doc = include_str!("../../../events/tuning/example.toml");
        let c = read(&[
            (STATE_TABLE, "t1578-state"),
            (ALERT_TOPIC_ARN, TOPIC),
            ("T1578_CONFIG", doc),
        ])
        .unwrap();
        assert_eq!(c.common.tuning.allow.len(), 1);
        let engine = c.common.engine().unwrap();
        assert_eq!(
            engine.effective("aaaaaaaa-1111-2222-3333-444444444444").mode,
            Mode::Shadow
        );
        assert_eq!(engine.tuning.score("111122223333", "aws.ec2.run_instances", 1), 0);
        // Every section reaches the engine; the core's tests check what each one does.
        assert!(engine.effective("444455556666").change_windows.is_some());
        let bad = read(&[
            (STATE_TABLE, "t1578-state"),
            (ALERT_TOPIC_ARN, TOPIC),
            ("T1578_CONFIG", "[defaults]\nwindow = \"99d\""),
        ]);
        let e = bad.unwrap_err().to_string();
        assert!(e.contains("T1578_CONFIG") && e.contains("defaults.window"), "{e}");
        let bad_zone = read(&[
            (STATE_TABLE, "t1578-state"),
            (ALERT_TOPIC_ARN, TOPIC),
            (
                "T1578_CONFIG",
                "[defaults.change_windows]\ntime_zone = \"Mars/Olympus\"",
            ),
        ]);
        let e = bad_zone.unwrap_err().to_string();
        assert!(e.contains("defaults.change_windows.time_zone"), "{e}");
    }
}
