//! Dead letters: records the Function cannot process are parked as JSON-lines blobs in a
//! container of the Function's storage account, with their reason and position, instead of
//! being answered 200 and lost when Event Hubs checkpoints past them.
//!
//! One blob per set of records an invocation parks, named by the day and a hash of those
//! records, and written only where no blob has that name (`If-None-Match: *`): a batch the host
//! delivers again after parking it, and parking the same records, is not parked a second time.
//! Each line is
//! `{"parked": {reason, position, event, record, invocation, retry, at}, "records": [<record>]}`:
//! the `records` wrapper is a container every reader of the detector already unwraps, so
//! `t1578 replay <downloaded blobs>` redrives the parked records as they are, and `parked` says
//! why each one is there.
//!
//! Raw Blob REST (create container, put block blob, list, get), for the same reason as
//! [`crate::table`]: no maintained Blob crate on the current `azure_core` fits a 5 MB handler.
//! Shared Key for Azurite and development, bearer tokens from the managed identity in
//! Azure (the identity needs only *Storage Blob Data Contributor* on this one container).

use crate::auth::Credential;
use crate::table::describe;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::Sha256;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// Blob REST version; bearer tokens need 2017-11-09 or later.
pub const BLOB_API_VERSION: &str = "2021-08-06";

/// Why parking failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// Timeout, refused or reset connection.
    #[error("dead-letter request {op} failed: {reason}")]
    Transport {
        /// Operation.
        op: &'static str,
        /// What happened.
        reason: String,
    },
    /// The service answered with an error status.
    #[error("dead-letter request {op} answered HTTP {status} {code}")]
    Status {
        /// Operation.
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// `x-ms-error-code`.
        code: String,
    },
    /// No bearer token.
    #[error(transparent)]
    Token(#[from] crate::auth::TokenError),
    /// A request we refuse to send.
    #[error("dead-letter request {op} refused locally: {reason}")]
    Invalid {
        /// Operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
}

/// What a park did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parking {
    /// The blob was written.
    Written,
    /// A blob of that name was there already: the same records, parked by an earlier delivery
    /// of the batch (names are the records' hash), so nothing was written.
    AlreadyThere,
}

/// Where parked records go.
pub trait DeadLetters: Send + Sync {
    /// Store one blob of JSON lines named `name`, unless one of that name exists.
    fn park(
        &self,
        name: &str,
        lines: Vec<u8>,
    ) -> impl Future<Output = Result<Parking, DeadLetterError>> + Send;
}

/// Container names: 3-63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit.
pub fn validate_container_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a container name (3-63 lowercase letters, digits and single hyphens)"
        ))
    }
}

/// `SharedKey` for the Blob service (the emulator accepts no Lite form for blobs): the verb,
/// the standard headers we send (Content-Length empty when zero, Content-Type, If-None-Match),
/// the `x-ms-*` headers sorted, then `/account/path` and each query parameter as
/// `\nname:value`, sorted.
pub fn blob_shared_key(
    account: &str,
    key: &[u8],
    method: &Method,
    url: &reqwest::Url,
    content: (usize, &str),
    if_none_match: Option<&str>,
    ms_headers: &[(&str, &str)],
) -> String {
    let mut headers: Vec<(String, &str)> = ms_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    headers.sort();
    let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut resource = format!("/{account}{}", url.path());
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    query.sort();
    for (k, v) in query {
        resource.push_str(&format!("\n{k}:{v}"));
    }
    let length = if content.0 == 0 {
        String::new()
    } else {
        content.0.to_string()
    };
    // Content-Encoding, -Language, -Length, -MD5, -Type, Date, If-Modified-Since, If-Match,
    // If-None-Match, If-Unmodified-Since, Range.
    let to_sign = format!(
        "{method}\n\n\n{length}\n\n{}\n\n\n\n{}\n\n\n{canon_headers}{resource}",
        content.1,
        if_none_match.unwrap_or("")
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("SharedKey {account}:{sig}")
}

/// One dead-letter container.
pub struct BlobDeadLetters {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    container: String,
    credential: Credential,
    timeout: Duration,
}

impl std::fmt::Debug for BlobDeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobDeadLetters")
            .field("endpoint", &self.endpoint.as_str())
            .field("container", &self.container)
            .finish()
    }
}

/// Blob names we write: `[A-Za-z0-9/._-]`, so no escaping question reaches a URL.
fn check_name(op: &'static str, name: &str) -> Result<(), DeadLetterError> {
    let ok = !name.is_empty()
        && name.len() <= 1024
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DeadLetterError::Invalid {
            op,
            reason: "blob name is not [A-Za-z0-9/._-]".into(),
        })
    }
}

impl BlobDeadLetters {
    /// A client of `container` at the Blob `endpoint` (`https://acct.blob.core.windows.net`, or
    /// Azurite's path-style `http://127.0.0.1:10000/devstoreaccount1`).
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        container: &str,
        credential: Credential,
        timeout: Duration,
    ) -> Result<BlobDeadLetters, DeadLetterError> {
        let op = "configure";
        validate_container_name(container).map_err(|reason| DeadLetterError::Invalid { op, reason })?;
        let endpoint =
            reqwest::Url::parse(endpoint.trim_end_matches('/')).map_err(|e| DeadLetterError::Invalid {
                op,
                reason: format!("endpoint: {e}"),
            })?;
        Ok(BlobDeadLetters {
            http,
            endpoint,
            container: container.to_string(),
            credential,
            timeout,
        })
    }

    /// The container name.
    pub fn container(&self) -> &str {
        &self.container
    }

    fn url(&self, path: &str, query: &str) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        let base = self.endpoint.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/{}{path}", self.container));
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    async fn send(
        &self,
        op: &'static str,
        method: Method,
        url: reqwest::Url,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
        if_none_match: Option<&str>,
    ) -> Result<reqwest::Response, DeadLetterError> {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let content_type = if body.is_some() {
            "application/x-ndjson"
        } else {
            ""
        };
        let mut ms: Vec<(&str, &str)> = vec![("x-ms-date", &date), ("x-ms-version", BLOB_API_VERSION)];
        ms.extend_from_slice(extra);
        let auth = match &self.credential {
            Credential::SharedKey { account, key } => blob_shared_key(
                account,
                key.expose(),
                &method,
                &url,
                (body.as_ref().map_or(0, Vec::len), content_type),
                if_none_match,
                &ms,
            ),
            Credential::ManagedIdentity(_) => self.credential.authorization(&self.http, &url, &date).await?,
        };
        let is_put = method == Method::PUT;
        let mut req = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header(reqwest::header::AUTHORIZATION, auth);
        for (k, v) in &ms {
            req = req.header(*k, *v);
        }
        if let Some(v) = if_none_match {
            req = req.header(reqwest::header::IF_NONE_MATCH, v);
        }
        if let Some(b) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, content_type).body(b);
        } else if is_put {
            req = req.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        self.credential
            .send(req)
            .await
            .map_err(|e| DeadLetterError::Transport {
                op,
                reason: describe(&e),
            })
    }

    fn status_error(op: &'static str, resp: &reqwest::Response) -> DeadLetterError {
        DeadLetterError::Status {
            op,
            status: resp.status().as_u16(),
            code: crate::auth::error_code(resp),
        }
    }

    /// Create the container; an existing one is fine.
    pub async fn ensure_container(&self) -> Result<(), DeadLetterError> {
        let op = "create container";
        let resp = self
            .send(
                op,
                Method::PUT,
                self.url("", "restype=container"),
                &[],
                None,
                None,
            )
            .await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            _ => Err(Self::status_error(op, &resp)),
        }
    }

    /// Names of the blobs under `prefix` (first 5000; an operator tool, not a hot path).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, DeadLetterError> {
        let op = "list blobs";
        check_name(op, &format!("{prefix}x"))?;
        let resp = self
            .send(
                op,
                Method::GET,
                self.url("", &format!("restype=container&comp=list&prefix={prefix}")),
                &[],
                None,
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(op, &resp));
        }
        let xml = resp.text().await.map_err(|e| DeadLetterError::Transport {
            op,
            reason: describe(&e),
        })?;
        Ok(xml
            .split("<Name>")
            .skip(1)
            .filter_map(|s| s.split("</Name>").next())
            .map(str::to_string)
            .collect())
    }

    /// One blob's content.
    pub async fn get(&self, name: &str) -> Result<Vec<u8>, DeadLetterError> {
        let op = "get blob";
        check_name(op, name)?;
        let resp = self
            .send(
                op,
                Method::GET,
                self.url(&format!("/{name}"), ""),
                &[],
                None,
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(op, &resp));
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| DeadLetterError::Transport {
                op,
                reason: describe(&e),
            })?
            .to_vec())
    }
}

impl DeadLetters for BlobDeadLetters {
    async fn park(&self, name: &str, lines: Vec<u8>) -> Result<Parking, DeadLetterError> {
        let op = "put blob";
        check_name(op, name)?;
        // Names are the parked records' own (a hash of them), and a blob is written only if
        // none has the name: a batch the host delivers again after it was parked (its answer
        // lost, a new partition owner) finds its records parked already and is not parked twice.
        let resp = self
            .send(
                op,
                Method::PUT,
                self.url(&format!("/{name}"), ""),
                &[("x-ms-blob-type", "BlockBlob")],
                Some(lines),
                Some("*"),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Parking::Written),
            // The one condition sent is If-None-Match: *, so either answer means the name is
            // taken (Put Blob answers 409 BlobAlreadyExists; 412 is the generic condition's).
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED
                if matches!(
                    crate::auth::error_code(&resp).as_str(),
                    "BlobAlreadyExists" | "ConditionNotMet"
                ) =>
            {
                Ok(Parking::AlreadyThere)
            }
            _ => Err(Self::status_error(op, &resp)),
        }
    }
}

/// In-memory dead letters, for router tests and shadow experiments.
#[derive(Debug, Default)]
pub struct MemoryDeadLetters {
    /// Parked blobs by name.
    pub blobs: Mutex<Vec<(String, Vec<u8>)>>,
    /// Refuse this many next writes (an account that is down).
    pub fail_next: std::sync::atomic::AtomicUsize,
}

impl DeadLetters for MemoryDeadLetters {
    async fn park(&self, name: &str, lines: Vec<u8>) -> Result<Parking, DeadLetterError> {
        use std::sync::atomic::Ordering;
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeadLetterError::Transport {
                op: "put blob",
                reason: "injected failure".into(),
            });
        }
        let mut b = self
            .blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.iter().any(|(n, _)| n == name) {
            return Ok(Parking::AlreadyThere);
        }
        b.push((name.to_string(), lines));
        Ok(Parking::Written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_the_service_rules() {
        assert!(validate_container_name("t1578-deadletter").is_ok());
        for bad in ["ab", "Upper", "a--b", "-ab", "ab-", "a_b", &"a".repeat(64)] {
            assert!(validate_container_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_names_are_plain() {
        assert!(check_name("t", "2026/11/29/abc-1.jsonl").is_ok());
        for bad in ["", "a/../b", "a b", "a?b", "a#b", "a%2f"] {
            assert!(check_name("t", bad).is_err(), "{bad:?}");
        }
    }
}
