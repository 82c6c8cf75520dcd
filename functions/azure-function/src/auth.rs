//! Table Storage authorization: Shared Key Lite from an account key (Azurite, development) or
//! Entra ID bearer tokens from the Functions managed-identity endpoint (production).
//!
//! Shared Key Lite signs `x-ms-date + "\n" + "/" + account + <URL path>`. Using the request's
//! own path makes the emulator's path-style URLs come out right without a special case:
//! `http://127.0.0.1:10002/devstoreaccount1/t` signs `/devstoreaccount1/devstoreaccount1/t`,
//! which is what Azurite checks (signing the account once gets 403).
//!
//! Bearer tokens are cached until five minutes before they expire; one fetch at a time, so a
//! batch touching 50 keys concurrently asks the identity endpoint once.

use crate::config::{Secret, TableAccess};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;
use tokio::sync::Mutex;

/// Token audience for Azure Storage.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
/// API version of the App Service / Functions identity endpoint.
pub const IDENTITY_API_VERSION: &str = "2019-08-01";
/// Refresh this long before the token expires.
const REFRESH_MARGIN_S: i64 = 300;
const IDENTITY_TIMEOUT: Duration = Duration::from_secs(10);

/// The identity endpoint did not give a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Nothing answered, or it answered 429/5xx.
    #[error("managed identity endpoint unavailable: {0}")]
    Unavailable(String),
    /// It refused (no identity, wrong client id) or answered something unreadable.
    #[error("managed identity endpoint refused: {0}")]
    Refused(String),
}

impl TokenError {
    /// Would retrying help?
    pub fn retryable(&self) -> bool {
        matches!(self, TokenError::Unavailable(_))
    }
}

#[derive(Clone)]
struct Token {
    value: Secret<String>,
    expires_on: i64,
}

/// How requests are authorized.
#[derive(Debug)]
pub enum Credential {
    /// Shared Key Lite.
    SharedKey {
        /// Account name.
        account: String,
        /// Decoded account key.
        key: Secret<Vec<u8>>,
    },
    /// Managed identity bearer tokens.
    ManagedIdentity(ManagedIdentity),
}

/// The Functions managed-identity endpoint and its token cache.
pub struct ManagedIdentity {
    endpoint: String,
    header: Secret<String>,
    client_id: Option<String>,
    cache: Mutex<Option<Token>>,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl ManagedIdentity {
    /// `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and an optional user-assigned client id.
    pub fn new(endpoint: String, header: Secret<String>, client_id: Option<String>) -> ManagedIdentity {
        ManagedIdentity {
            endpoint,
            header,
            client_id,
            cache: Mutex::new(None),
        }
    }

    async fn token(&self, http: &reqwest::Client) -> Result<String, TokenError> {
        let mut cache = self.cache.lock().await;
        let now = chrono::Utc::now().timestamp();
        if let Some(t) = cache.as_ref().filter(|t| t.expires_on - REFRESH_MARGIN_S > now) {
            return Ok(t.value.expose().clone());
        }
        let mut query = vec![
            ("resource", STORAGE_RESOURCE),
            ("api-version", IDENTITY_API_VERSION),
        ];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id));
        }
        let resp = http
            .get(&self.endpoint)
            .query(&query)
            .header("X-IDENTITY-HEADER", self.header.expose())
            .timeout(IDENTITY_TIMEOUT)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(crate::table::describe(&e)))?;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(TokenError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(TokenError::Refused(format!("HTTP {status}")));
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(crate::table::describe(&e)))?;
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| TokenError::Refused("no access_token in the response".into()))?
            .to_string();
        let num = |k: &str| match body.get(k) {
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        // `expires_on` is epoch seconds on this API version; fall back to `expires_in`, and to
        // a short life when neither is readable, so a bad answer costs a refetch, not a 401.
        let expires_on = num("expires_on")
            .or_else(|| num("expires_in").map(|s| now + s))
            .unwrap_or(now + 2 * REFRESH_MARGIN_S);
        *cache = Some(Token {
            value: Secret::new(value.clone()),
            expires_on,
        });
        Ok(value)
    }
}

impl Credential {
    /// From the configuration.
    pub fn from_access(access: &TableAccess) -> Credential {
        match access {
            TableAccess::SharedKey { account, key, .. } => Credential::SharedKey {
                account: account.clone(),
                key: key.clone(),
            },
            TableAccess::ManagedIdentity {
                identity_endpoint,
                identity_header,
                client_id,
                ..
            } => Credential::ManagedIdentity(ManagedIdentity::new(
                identity_endpoint.clone(),
                identity_header.clone(),
                client_id.clone(),
            )),
        }
    }

    /// The `Authorization` header value for a request to `url` sent with `x-ms-date: date`.
    pub async fn authorization(
        &self,
        http: &reqwest::Client,
        url: &reqwest::Url,
        date: &str,
    ) -> Result<String, TokenError> {
        match self {
            Credential::SharedKey { account, key } => Ok(shared_key_lite(account, key.expose(), url, date)),
            Credential::ManagedIdentity(mi) => Ok(format!("Bearer {}", mi.token(http).await?)),
        }
    }

    /// Send a request signed by this credential. A 401 drops the cached token (revoked or
    /// expired early), so the caller's next attempt fetches a fresh one.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        let resp = req.send().await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.invalidate().await;
        }
        Ok(resp)
    }

    /// Forget a cached token (after a 401).
    pub async fn invalidate(&self) {
        if let Credential::ManagedIdentity(mi) = self {
            *mi.cache.lock().await = None;
        }
    }
}

/// The storage service's error code of a failed response (`x-ms-error-code`), or "".
pub fn error_code(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// `SharedKeyLite account:base64(HMAC-SHA256(key, date + "\n" + "/" + account + path[?comp=..]))`.
pub fn shared_key_lite(account: &str, key: &[u8], url: &reqwest::Url, date: &str) -> String {
    let mut resource = format!("/{account}{}", url.path());
    if let Some((_, comp)) = url.query_pairs().find(|(k, _)| k == "comp") {
        resource.push_str("?comp=");
        resource.push_str(&comp);
    }
    let string_to_sign = format!("{date}\n{resource}");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("SharedKeyLite {account}:{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_key_lite_signs_the_path_as_sent() {
        // Expected value computed independently with Python's hmac over the string-to-sign
        // "Thu, 26 Nov 2026 12:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables", key b"key":
        // the account appears twice because the emulator URL is path-style.
        let url = reqwest::Url::parse("http://127.0.0.1:10002/devstoreaccount1/Tables").unwrap();
        let h = shared_key_lite("devstoreaccount1", b"key", &url, "Thu, 26 Nov 2026 12:00:00 GMT");
        assert_eq!(
            h,
            "SharedKeyLite devstoreaccount1:JikCwNLu1YnVjmLT7v49wroFSZ7zIzuXyohqnqq1LtE="
        );
    }
}
