//! Typed configuration, read once at start from the app settings (environment).
//!
//! Every error names the setting and says why, and never echoes a secret: the Logic App URL
//! carries a SAS signature and the connection string an account key, so neither value appears
//! in an error, a `Debug` print or a log line.

use std::fmt;
use t1578_core::settings::{CommonSettings, Mode};

/// `FUNCTIONS_CUSTOMHANDLER_PORT`: where the Functions host expects the handler.
pub const PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// `T1578_STATE_TABLE`: the Table Storage table holding the rolling windows.
pub const STATE_TABLE: &str = "T1578_STATE_TABLE";
/// `T1578_TABLE_ENDPOINT`: `https://<account>.table.core.windows.net`, used with the managed identity.
pub const TABLE_ENDPOINT: &str = "T1578_TABLE_ENDPOINT";
/// `T1578_STORAGE_CONNECTION_STRING`: shared-key access, for Azurite and development only.
pub const STORAGE_CONNECTION_STRING: &str = "T1578_STORAGE_CONNECTION_STRING";
/// `T1578_DEADLETTER_CONTAINER`: the Blob container parked records go to.
pub const DEADLETTER_CONTAINER: &str = "T1578_DEADLETTER_CONTAINER";
/// `T1578_BLOB_ENDPOINT`: `https://<account>.blob.core.windows.net`, with the managed identity.
pub const BLOB_ENDPOINT: &str = "T1578_BLOB_ENDPOINT";
/// The dead-letter container when none is configured.
pub const DEFAULT_DEADLETTER_CONTAINER: &str = "t1578-deadletter";
/// `T1578_LOGIC_APP_URL`: the Logic App HTTP trigger URL (contains a SAS signature).
pub const LOGIC_APP_URL: &str = "T1578_LOGIC_APP_URL";
/// `IDENTITY_ENDPOINT`: set by App Service / Functions when a managed identity is enabled.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// `IDENTITY_HEADER`: the secret the local identity endpoint expects back.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// `AZURE_CLIENT_ID`: client id of a user-assigned identity (absent: the system-assigned one).
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";

/// Azurite's well-known development account (public, documented in the Azurite README).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// A setting that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {key}: {reason}")]
pub struct ConfigError {
    /// The setting.
    pub key: &'static str,
    /// Why it cannot be used (never its value when the value is secret).
    pub reason: String,
}

impl ConfigError {
    fn new(key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key,
            reason: reason.into(),
        }
    }
}

/// A value that must not reach a log: `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a secret.
    pub fn new(v: T) -> Secret<T> {
        Secret(v)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The Logic App trigger URL. Its query holds the `sig` SAS signature, so only the host is
/// ever printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(reqwest::Url);

impl SecretUrl {
    /// Parse an absolute http(s) URL. The error never contains the input.
    pub fn parse(s: &str) -> Result<SecretUrl, String> {
        let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("not an http(s) URL with a host".into());
        }
        Ok(SecretUrl(url))
    }

    /// The URL, for the one place that sends to it.
    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}/[redacted]",
            self.0.scheme(),
            self.0.host_str().unwrap_or("?")
        )
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How the handler reaches Table Storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableAccess {
    /// Shared Key (SharedKeyLite signing) from a connection string: Azurite and development.
    SharedKey {
        /// Table service endpoint, without a trailing slash (path-style for Azurite).
        endpoint: String,
        /// Storage account name.
        account: String,
        /// Decoded account key.
        key: Secret<Vec<u8>>,
    },
    /// Entra ID bearer tokens from the Functions managed-identity endpoint: production.
    ManagedIdentity {
        /// Table service endpoint, without a trailing slash.
        endpoint: String,
        /// `IDENTITY_ENDPOINT`.
        identity_endpoint: String,
        /// `IDENTITY_HEADER`.
        identity_header: Secret<String>,
        /// `AZURE_CLIENT_ID`, for a user-assigned identity.
        client_id: Option<String>,
    },
}

impl TableAccess {
    /// The table service endpoint.
    pub fn endpoint(&self) -> &str {
        match self {
            TableAccess::SharedKey { endpoint, .. } | TableAccess::ManagedIdentity { endpoint, .. } => {
                endpoint
            }
        }
    }
}

/// Everything the handler reads from its app settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`.
    pub port: u16,
    /// `T1578_STATE_TABLE`.
    pub table_name: String,
    /// Table endpoint and credentials.
    pub table: TableAccess,
    /// `T1578_LOGIC_APP_URL`; optional in shadow mode only.
    pub logic_app_url: Option<SecretUrl>,
    /// Blob service endpoint of the dead-letter container (same account and credential as the table).
    pub blob_endpoint: String,
    /// `T1578_DEADLETTER_CONTAINER`.
    pub dead_letter_container: String,
    /// `T1578_PROFILE`, `T1578_WINDOW`, `T1578_MODE`, `T1578_CONFIG`, `T1578_OBSERVED_SINCE`.
    pub common: CommonSettings,
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read from any key/value source; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let port = get(PORT)
            .ok_or_else(|| ConfigError::new(PORT, "missing (the Functions host sets it)"))?
            .parse::<u16>()
            .map_err(|_| ConfigError::new(PORT, "not a TCP port number"))?;
        let table_name = get(STATE_TABLE).ok_or_else(|| ConfigError::new(STATE_TABLE, "missing"))?;
        validate_table_name(&table_name).map_err(|r| ConfigError::new(STATE_TABLE, r))?;
        let table = table_access(&get)?;
        let blob_endpoint = dead_letter_endpoint(&table, &get)?;
        let dead_letter_container =
            get(DEADLETTER_CONTAINER).unwrap_or_else(|| DEFAULT_DEADLETTER_CONTAINER.to_string());
        crate::deadletter::validate_container_name(&dead_letter_container)
            .map_err(|r| ConfigError::new(DEADLETTER_CONTAINER, r))?;
        let common = CommonSettings::from_lookup(get).map_err(|e| ConfigError {
            key: common_key(&e.key),
            reason: e.reason,
        })?;
        let logic_app_url = match get(LOGIC_APP_URL) {
            Some(u) => Some(SecretUrl::parse(&u).map_err(|r| ConfigError::new(LOGIC_APP_URL, r))?),
            None if common.mode == Mode::Shadow => None,
            None => {
                return Err(ConfigError::new(
                    LOGIC_APP_URL,
                    "missing (required unless T1578_MODE=shadow)",
                ))
            }
        };
        Ok(Config {
            port,
            table_name,
            table,
            logic_app_url,
            blob_endpoint,
            dead_letter_container,
            common,
        })
    }
}

/// How the handler reaches its table: a connection string (development) or the Function App's
/// managed identity, never both.
fn table_access(get: &impl Fn(&str) -> Option<String>) -> Result<TableAccess, ConfigError> {
    Ok(match (get(STORAGE_CONNECTION_STRING), get(TABLE_ENDPOINT)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                STORAGE_CONNECTION_STRING,
                format!("set either it (development) or {TABLE_ENDPOINT} (managed identity), not both"),
            ))
        }
        (Some(cs), None) => {
            parse_connection_string(&cs).map_err(|r| ConfigError::new(STORAGE_CONNECTION_STRING, r))?
        }
        (None, Some(endpoint)) => TableAccess::ManagedIdentity {
            endpoint: validate_endpoint(&endpoint).map_err(|r| ConfigError::new(TABLE_ENDPOINT, r))?,
            identity_endpoint: get(IDENTITY_ENDPOINT).ok_or_else(|| {
                ConfigError::new(
                    IDENTITY_ENDPOINT,
                    "missing: enable a managed identity on the Function App",
                )
            })?,
            identity_header: Secret::new(get(IDENTITY_HEADER).ok_or_else(|| {
                ConfigError::new(
                    IDENTITY_HEADER,
                    "missing: enable a managed identity on the Function App",
                )
            })?),
            client_id: get(AZURE_CLIENT_ID),
        },
        (None, None) => {
            return Err(ConfigError::new(
                TABLE_ENDPOINT,
                format!("missing: set it (managed identity) or {STORAGE_CONNECTION_STRING} (development)"),
            ))
        }
    })
}

/// The dead-letter container's Blob endpoint: set, or the connection string's account.
fn dead_letter_endpoint(
    table: &TableAccess,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match (table, get(BLOB_ENDPOINT), get(STORAGE_CONNECTION_STRING)) {
        (_, Some(e), _) => validate_endpoint(&e).map_err(|r| ConfigError::new(BLOB_ENDPOINT, r)),
        (TableAccess::SharedKey { .. }, None, Some(cs)) => {
            blob_endpoint_of(&cs).map_err(|r| ConfigError::new(STORAGE_CONNECTION_STRING, r))
        }
        _ => Err(ConfigError::new(
            BLOB_ENDPOINT,
            "missing: the dead-letter container's Blob endpoint (same storage account as the table)",
        )),
    }
}

/// `ConfigError::key` is `&'static str`; map the core's owned key back to our constants.
fn common_key(k: &str) -> &'static str {
    match k {
        "T1578_PROFILE" => "T1578_PROFILE",
        "T1578_WINDOW" => "T1578_WINDOW",
        "T1578_MODE" => "T1578_MODE",
        "T1578_CONFIG" => "T1578_CONFIG",
        "T1578_OBSERVED_SINCE" => "T1578_OBSERVED_SINCE",
        _ => "T1578_*",
    }
}

/// Table names: 3-63 alphanumeric characters, starting with a letter.
pub fn validate_table_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a table name (3-63 letters and digits, starting with a letter)"
        ))
    }
}

fn validate_endpoint(s: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("not an http(s) URL with a host".into());
    }
    if url.query().is_some() {
        return Err("must not carry a query (SAS tokens are not supported)".into());
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// The Blob endpoint of a connection string: `BlobEndpoint`, Azurite's default for development
/// storage, or `<proto>://<account>.blob.<suffix>`.
pub fn blob_endpoint_of(cs: &str) -> Result<String, String> {
    let kv = pairs(cs)?;
    if let Some(e) = kv.get("blobendpoint") {
        return validate_endpoint(e);
    }
    if kv
        .get("usedevelopmentstorage")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(format!("http://127.0.0.1:10000/{DEV_ACCOUNT}"));
    }
    let account = kv.get("accountname").ok_or("AccountName is missing")?;
    let proto = kv.get("defaultendpointsprotocol").map_or("https", String::as_str);
    let suffix = kv
        .get("endpointsuffix")
        .map_or("core.windows.net", String::as_str);
    validate_endpoint(&format!("{proto}://{account}.blob.{suffix}"))
}

fn pairs(cs: &str) -> Result<std::collections::HashMap<String, String>, String> {
    let mut kv = std::collections::HashMap::new();
    for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or("expected Key=Value pairs separated by `;`")?;
        kv.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    Ok(kv)
}

/// Parse `Key=Value;...` (keys case-insensitive; values may contain `=`). The returned
/// reasons never include the account key.
pub fn parse_connection_string(cs: &str) -> Result<TableAccess, String> {
    use base64::Engine as _;
    let kv = pairs(cs)?;
    if kv
        .get("usedevelopmentstorage")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        let endpoint = kv
            .get("tableendpoint")
            .cloned()
            .unwrap_or_else(|| DEV_TABLE_ENDPOINT.into());
        let key = base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .map_err(|_| "dev key")?;
        return Ok(TableAccess::SharedKey {
            endpoint: validate_endpoint(&endpoint)?,
            account: DEV_ACCOUNT.into(),
            key: Secret::new(key),
        });
    }
    let account = kv.get("accountname").cloned().ok_or("AccountName is missing")?;
    let key = kv
        .get("accountkey")
        .ok_or("AccountKey is missing (SAS connection strings are not supported)")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| "AccountKey is not base64")?;
    let endpoint = match kv.get("tableendpoint") {
        Some(e) => e.clone(),
        None => {
            let proto = kv
                .get("defaultendpointsprotocol")
                .map(String::as_str)
                .unwrap_or("https");
            let suffix = kv
                .get("endpointsuffix")
                .map(String::as_str)
                .unwrap_or("core.windows.net");
            format!("{proto}://{account}.table.{suffix}")
        }
    };
    Ok(TableAccess::SharedKey {
        endpoint: validate_endpoint(&endpoint)?,
        account,
        key: Secret::new(key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AZURITE: &str = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;";

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(t1578_testkit::lookup(pairs))
    }

    fn base<'a>() -> Vec<(&'a str, &'a str)> {
        vec![
            (PORT, "7071"),
            (STATE_TABLE, "t1578state"),
            (STORAGE_CONNECTION_STRING, AZURITE),
            (LOGIC_APP_URL, "https://prod-1.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?api-version=2016-10-01&sig=SECRETSIG"),
        ]
    }

    #[test]
    fn a_development_configuration_reads() {
        let c = read(&base()).unwrap();
        assert_eq!(c.port, 7071);
        match &c.table {
            TableAccess::SharedKey {
                endpoint,
                account,
                key,
            } => {
                assert_eq!(endpoint, "http://127.0.0.1:10002/devstoreaccount1");
                assert_eq!(account, "devstoreaccount1");
                assert_eq!(key.expose().len(), 64);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.common.mode, Mode::Alert);
    }

    #[test]
    fn blob_endpoints_come_from_the_connection_string() {
        assert_eq!(
            blob_endpoint_of("AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net").unwrap(),
            "https://a.blob.core.windows.net"
        );
        assert_eq!(
            blob_endpoint_of("UseDevelopmentStorage=true").unwrap(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(
            blob_endpoint_of("AccountName=a;BlobEndpoint=http://127.0.0.1:9/x/").unwrap(),
            "http://127.0.0.1:9/x"
        );
    }

    #[test]
    fn managed_identity_needs_the_identity_endpoint() {
        let mut p = base();
        p.retain(|(k, _)| *k != STORAGE_CONNECTION_STRING);
        p.push((TABLE_ENDPOINT, "https://acct.table.core.windows.net/"));
        assert_eq!(read(&p).unwrap_err().key, IDENTITY_ENDPOINT);
        p.push((IDENTITY_ENDPOINT, "http://localhost:8081/msi/token"));
        p.push((IDENTITY_HEADER, "hdr"));
        assert_eq!(read(&p).unwrap_err().key, BLOB_ENDPOINT);
        p.push((BLOB_ENDPOINT, "https://acct.blob.core.windows.net/"));
        let c = read(&p).unwrap();
        assert_eq!(c.table.endpoint(), "https://acct.table.core.windows.net");
        assert_eq!(c.blob_endpoint, "https://acct.blob.core.windows.net");
        assert_eq!(c.dead_letter_container, DEFAULT_DEADLETTER_CONTAINER);
        p.push((DEADLETTER_CONTAINER, "Bad_Name"));
        assert_eq!(read(&p).unwrap_err().key, DEADLETTER_CONTAINER);
    }

    #[test]
    fn errors_name_the_key_and_hide_secrets() {
        let mut p = base();
        p.retain(|(k, _)| *k != PORT);
        assert_eq!(read(&p).unwrap_err().key, PORT);
        let mut p = base();
        p.push((TABLE_ENDPOINT, "https://x.table.core.windows.net"));
        assert_eq!(read(&p).unwrap_err().key, STORAGE_CONNECTION_STRING);
        let mut p = base();
        p.retain(|(k, _)| *k != LOGIC_APP_URL);
        assert_eq!(read(&p).unwrap_err().key, LOGIC_APP_URL);
        p.push(("T1578_MODE", "shadow"));
        assert!(read(&p).unwrap().logic_app_url.is_none());
        let mut p = base();
        p.push(("T1578_WINDOW", "90y"));
        assert_eq!(read(&p).unwrap_err().key, "T1578_WINDOW");
        let mut p = base();
        p.retain(|(k, _)| *k != STORAGE_CONNECTION_STRING);
        p.push((
            STORAGE_CONNECTION_STRING,
            "AccountName=a;AccountKey=not*base64*SECRETKEY",
        ));
        let e = read(&p).unwrap_err();
        assert_eq!(e.key, STORAGE_CONNECTION_STRING);
        assert!(!e.to_string().contains("SECRETKEY"), "{e}");
        let mut p = base();
        p.retain(|(k, _)| *k != STATE_TABLE);
        p.push((STATE_TABLE, "bad-name"));
        assert_eq!(read(&p).unwrap_err().key, STATE_TABLE);
    }

    #[test]
    fn secrets_do_not_print() {
        let c = read(&base()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("SECRETSIG") && !shown.contains("Eby8"), "{shown}");
        assert!(shown.contains("prod-1.westeurope.logic.azure.com"));
    }

    #[test]
    fn connection_string_forms() {
        let prod = parse_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AAAA;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        assert_eq!(prod.endpoint(), "https://acct.table.core.windows.net");
        let dev = parse_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(dev.endpoint(), DEV_TABLE_ENDPOINT);
        assert!(parse_connection_string("AccountName=a").is_err());
    }

    /// The same tuning file the CLI reads, as the inline T1578_CONFIG setting.
    #[test]
    fn reads_the_shared_tuning_document_from_t1578_config() {
        let doc = include_str!("../../../events/tuning/example.toml");
        let c = read(&[base(), vec![("T1578_CONFIG", doc)]].concat()).unwrap();
        assert_eq!(c.common.tuning.allow.len(), 1);
        let engine = c.common.engine().unwrap();
        assert_eq!(
            engine.effective("aaaaaaaa-1111-2222-3333-444444444444").mode,
            Mode::Shadow
        );
        assert_eq!(engine.tuning.score("111122223333", "aws.ec2.run_instances", 1), 0);
        // Every section reaches the engine; the core's tests check what each one does.
        assert!(engine.effective("444455556666").change_windows.is_some());
        let bad = read(&[base(), vec![("T1578_CONFIG", "[defaults]\nwindow = \"99d\"")]].concat());
        let e = bad.unwrap_err().to_string();
        assert!(e.contains("T1578_CONFIG") && e.contains("defaults.window"), "{e}");
        let zone = "[defaults.change_windows]\ntime_zone = \"Mars/Olympus\"";
        let e = read(&[base(), vec![("T1578_CONFIG", zone)]].concat())
            .unwrap_err()
            .to_string();
        assert!(e.contains("defaults.change_windows.time_zone"), "{e}");
    }
}
