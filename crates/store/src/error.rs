//! Turning diesel and pool errors into `StoreError`.
//!
//! Messages name the operation and carry the backend's own text, which
//! describes the failure (never bound values such as password hashes or
//! key bytes, and never the connection URL).

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

use atauth_core::store::StoreError;

/// A backend failure while doing `what`.
pub(crate) fn backend(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{what}: {err}"))
}

/// A diesel error while doing `what`.
pub(crate) fn query(what: &str, err: DieselError) -> StoreError {
    backend(what, err)
}

/// If `err` is a unique-constraint violation, its details.
pub(crate) fn unique_violation(
    err: &DieselError,
) -> Option<&(dyn DatabaseErrorInformation + Send + Sync)> {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Some(info.as_ref()),
        _ => None,
    }
}

/// Whether a unique violation concerns `table.column`. PostgreSQL names the
/// constraint (`accounts_handle_key`, as the migration names it); SQLite
/// says "UNIQUE constraint failed: accounts.handle".
pub(crate) fn violation_names(
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    table: &str,
    column: &str,
    constraint: &str,
) -> bool {
    info.constraint_name() == Some(constraint)
        || info.message().contains(&format!("{table}.{column}"))
}
