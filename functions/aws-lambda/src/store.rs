//! DynamoDB adapter of [`StateStore`]: one item per state key, optimistic concurrency on a
//! version number.
//!
//! Item: `pk` (S, [`StateKey::storage_id`], a 64-hex SHA-256 hash, so no principal string reaches the
//! key), `state` (B, the encoded window, bounded by the core), `version` (N), `expires_at` (N,
//! epoch seconds, the table's TTL attribute) and `key` (S, the readable key, clipped; data only,
//! never part of an expression).
//!
//! The save is one conditional `UpdateItem`: `attribute_not_exists(pk) OR expires_at < :now`
//! when the caller saw no live item, `version = :expected` otherwise. It is an update rather
//! than a put so the version keeps counting up through an expired-but-not-yet-deleted item
//! (`if_not_exists(version, 0) + 1`): a writer holding a version read before the item expired
//! can never match the version of the window that replaced it.

use crate::aws_error::{classify, describe, Class};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};
use t1578_core::ports::{SaveOutcome, StateStore, StoreError, Stored, Version};
use t1578_core::StateKey;

/// Longest readable key kept on the item (the canonical key is a JSON array of clipped parts).
const MAX_KEY_ATTR: usize = 1024;

/// Rolling windows in a DynamoDB table with `pk` (S) as its only key and TTL on `expires_at`.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`, with a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn store_error<E>(err: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(err) {
        Class::Transient => StoreError::Transient(describe(err)),
        Class::Permanent => StoreError::Permanent(describe(err)),
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

impl StateStore for DynamoStore {
    async fn pause(&self, wait: std::time::Duration) {
        tokio::time::sleep(wait).await;
    }

    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        // Consistent read: an eventually consistent one would often hand back the version
        // before a concurrent writer's and turn into a wasted conditional write.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.storage_id()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        let Some(item) = out.item else { return Ok(None) };
        // TTL deletion runs up to days late; an expired window must not be counted into.
        if number(&item, "expires_at").is_some_and(|t| t < now_secs()) {
            return Ok(None);
        }
        // A damaged item (no state, wrong type) still yields its version, so the core restarts
        // the window and the conditional save replaces it instead of conflicting forever.
        let bytes = item
            .get("state")
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let version = number(&item, "version")
            .map(|v| v.to_string())
            .unwrap_or_default();
        Ok(Some(Stored {
            bytes,
            version: Version(version),
        }))
    }

    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.storage_id()))
            .update_expression(
                "SET #st = :st, #exp = :exp, #key = :key, #v = if_not_exists(#v, :zero) + :one",
            )
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":st", AttributeValue::B(Blob::new(bytes)))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(
                ":key",
                AttributeValue::S(t1578_core::event::clip(&key.0, MAX_KEY_ATTR)),
            )
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        req = match expected {
            None => req
                .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string())),
            Some(Version(v)) if v.is_empty() => req
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#v)")
                .expression_attribute_names("#pk", "pk"),
            Some(Version(v)) => {
                let n: u64 = v.parse().map_err(|_| {
                    StoreError::Permanent(format!(
                        "version `{}` is not a number",
                        t1578_core::event::clip(v, 32)
                    ))
                })?;
                req.condition_expression("#v = :expected")
                    .expression_attribute_values(":expected", AttributeValue::N(n.to_string()))
            }
        };
        match req.send().await {
            Ok(_) => Ok(SaveOutcome::Saved),
            Err(SdkError::ServiceError(ctx))
                if matches!(ctx.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(SaveOutcome::Conflict)
            }
            Err(e) => Err(store_error(&e)),
        }
    }
}
