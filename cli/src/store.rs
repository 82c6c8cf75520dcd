//! The CLI's stores: in memory by default, or an embedded redb database file with `--state`,
//! so a later replay continues the windows of an earlier one.

use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;
use t1578_core::memory::MemoryStore;
use t1578_core::ports::{SaveOutcome, StateStore, StoreError, Stored, Version};
use t1578_core::StateKey;

const WINDOWS: TableDefinition<&str, &[u8]> = TableDefinition::new("windows");

fn fail(e: impl std::fmt::Display) -> StoreError {
    StoreError::Permanent(e.to_string())
}

/// Windows in a redb file: value = 8-byte little-endian version, then the encoded window.
pub struct FileStore {
    db: Database,
}

impl FileStore {
    pub fn open(path: &Path) -> anyhow::Result<FileStore> {
        let db = Database::create(path).map_err(|e| anyhow::anyhow!("--state {}: {e}", path.display()))?;
        Ok(FileStore { db })
    }

    fn split(raw: &[u8]) -> Option<(u64, &[u8])> {
        let (v, rest) = raw.split_first_chunk::<8>()?;
        Some((u64::from_le_bytes(*v), rest))
    }
}

impl StateStore for FileStore {
    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let table = match txn.open_table(WINDOWS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        let got = table.get(key.storage_id().as_str()).map_err(fail)?;
        Ok(got.and_then(|g| {
            Self::split(g.value()).map(|(v, b)| Stored {
                bytes: b.to_vec(),
                version: Version(v.to_string()),
            })
        }))
    }

    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        _expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        let id = key.storage_id();
        let txn = self.db.begin_write().map_err(fail)?;
        {
            let mut table = txn.open_table(WINDOWS).map_err(fail)?;
            let current = table
                .get(id.as_str())
                .map_err(fail)?
                .and_then(|g| Self::split(g.value()).map(|(v, _)| v));
            if current.map(|v| v.to_string()).as_deref() != expected.map(|v| v.0.as_str()) {
                return Ok(SaveOutcome::Conflict);
            }
            let mut value = current.map_or(1u64, |v| v + 1).to_le_bytes().to_vec();
            value.extend_from_slice(bytes);
            table.insert(id.as_str(), value.as_slice()).map_err(fail)?;
        }
        txn.commit().map_err(fail)?;
        Ok(SaveOutcome::Saved)
    }
}

/// Either store, chosen at start.
pub enum CliStore {
    Memory(MemoryStore),
    File(FileStore),
}

impl StateStore for CliStore {
    async fn load(&self, key: &StateKey) -> Result<Option<Stored>, StoreError> {
        match self {
            CliStore::Memory(m) => m.load(key).await,
            CliStore::File(f) => f.load(key).await,
        }
    }

    async fn save(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expires_at: i64,
        expected: Option<&Version>,
    ) -> Result<SaveOutcome, StoreError> {
        match self {
            CliStore::Memory(m) => m.save(key, bytes, expires_at, expected).await,
            CliStore::File(f) => f.save(key, bytes, expires_at, expected).await,
        }
    }
}
