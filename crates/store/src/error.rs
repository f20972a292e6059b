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

/// If `err` is a foreign-key violation: a row refers to a parent that does
/// not exist (an unknown account or device).
pub(crate) fn is_foreign_key_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

/// A failed write: a unique violation on one of `keys` (column,
/// PostgreSQL constraint name) is `Conflict(column)`, the first one the
/// backend names; a foreign-key violation is a backend error saying
/// `missing_parent` (for tables that have foreign keys); anything else is a
/// backend error with the backend's text.
pub(crate) fn write(
    what: &str,
    table: &str,
    err: DieselError,
    keys: &[(&str, &str)],
    missing_parent: Option<&str>,
) -> StoreError {
    if let Some(info) = unique_violation(&err) {
        return keys
            .iter()
            .find(|(column, constraint)| violation_names(info, table, column, constraint))
            .map(|(column, _)| StoreError::Conflict((*column).to_owned()))
            .unwrap_or_else(|| backend(what, info.message()));
    }
    if let Some(parent) = missing_parent.filter(|_| is_foreign_key_violation(&err)) {
        return backend(what, parent);
    }
    query(what, err)
}
