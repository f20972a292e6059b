//! Checking what is read back: identifiers and JSON columns. A value the
//! store would never have written is corrupt data, reported as a backend
//! error naming the table, the column and the row.

use serde::de::DeserializeOwned;
use serde::Serialize;

use atauth_core::identity::Did;
use atauth_core::store::{StoreError, StoreResult};

/// Serialise a value for a JSON text column.
pub(crate) fn to_json<T: Serialize>(column: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot serialise {column} as JSON: {e}")))
}

/// Read a JSON text column of the row `row`.
pub(crate) fn from_json<T: DeserializeOwned>(
    column: &str,
    row: &str,
    text: &str,
) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("{column} of {row} holds invalid JSON: {e}")))
}

/// Read a DID column of the row `row`.
pub(crate) fn did(column: &str, row: &str, text: &str) -> StoreResult<Did> {
    Did::parse(text)
        .map_err(|e| StoreError::Backend(format!("{column} of {row} holds an invalid DID: {e}")))
}

/// A count of affected rows as the traits return it.
pub(crate) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
