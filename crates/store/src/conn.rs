//! Connections: which backend a URL selects, the connection enum over both
//! backends, and the r2d2 pool that hands them out.

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use atauth_core::store::StoreError;

/// One connection of either backend. Queries written against this type
/// run on both; backend-specific work matches on the variant.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    /// An embedded SQLite database file.
    Sqlite(SqliteConnection),
    /// A PostgreSQL server.
    Postgres(PgConnection),
}

/// Run `$body` with `$c` bound to the backend's own connection. For the
/// few statements diesel's multi-backend cannot express (upserts: it has
/// no `ON CONFLICT`); the body is compiled once per backend, so both run
/// the same statement.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::conn::AnyConnection::Sqlite($c) => $body,
            $crate::conn::AnyConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// The pool type the store holds.
pub(crate) type Pool = r2d2::Pool<Manager>;

/// A connection checked out of the pool.
pub(crate) type PooledConn = r2d2::PooledConnection<Manager>;

/// Settings applied to every SQLite connection when it is opened.
/// `busy_timeout` comes first so that switching to WAL waits for a
/// concurrent opener instead of failing with "database is locked".
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000;\
     PRAGMA journal_mode = WAL;\
     PRAGMA foreign_keys = ON;\
     PRAGMA synchronous = NORMAL;";

/// The URL schemes `Store::open` accepts, for error messages.
pub(crate) const SUPPORTED_SCHEMES: &str =
    "postgres://…, postgresql://…, sqlite://PATH, sqlite:PATH or a plain file path";

/// The database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite file at this path.
    Sqlite(String),
    /// A PostgreSQL connection URL, as given (it may hold a password, so
    /// it is never logged or put in an error).
    Postgres(String),
}

impl Target {
    /// Work out the backend from the URL's scheme.
    pub(crate) fn parse(database_url: &str) -> Result<Target, StoreError> {
        let url = database_url.trim();
        if url.is_empty() {
            return Err(StoreError::Backend(format!(
                "the database URL is empty; use one of: {SUPPORTED_SCHEMES}"
            )));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some(scheme) = scheme_of(url) {
            return Err(StoreError::Backend(format!(
                "unsupported database URL scheme {scheme:?}; use one of: {SUPPORTED_SCHEMES}"
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(StoreError::Backend(format!(
                "the SQLite URL names no file; use one of: {SUPPORTED_SCHEMES}"
            )));
        }
        if path == ":memory:" || path.starts_with("file:") || path.contains('?') {
            return Err(StoreError::Backend(
                "SQLite needs a plain file path (in-memory databases and URI options are not \
                 supported: each pooled connection would see a different database)"
                    .to_owned(),
            ));
        }
        Ok(Target::Sqlite(path.to_owned()))
    }

    /// "sqlite" or "postgres".
    pub(crate) fn backend_name(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres(_) => "postgres",
        }
    }
}

/// The scheme of `url` if it starts with one (`letters:`), other than a
/// Windows drive letter.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() > 1).then_some(scheme)
}

/// Opens connections for the pool: the backend is fixed by the URL, never
/// guessed by trying each one in turn.
#[derive(Debug)]
pub(crate) struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            Target::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Build the pool and open its first connection, so a bad URL, a wrong
/// password or an unreachable server fails here rather than on first use.
pub(crate) fn build_pool(
    target: Target,
    max_connections: u32,
    connection_timeout: Duration,
) -> Result<Pool, StoreError> {
    let backend = target.backend_name();
    if let Target::Sqlite(path) = &target {
        create_parent_dir(path)?;
    }
    let failed = |e: r2d2::PoolError| {
        StoreError::Backend(format!("cannot open the {backend} database: {e}"))
    };
    // `min_idle` 0: r2d2 tops the idle connections up to `min_idle` on a
    // worker thread after every check-out, so with a minimum of 1 a
    // short-lived process (every CLI command) exits while that worker is in
    // the middle of libpq's SCRAM handshake, and crashes in OpenSSL's exit
    // handlers (SIGSEGV, or "could not calculate client proof"). With 0, a
    // connection is only made while a caller waits for it, and then kept
    // idle for reuse.
    let pool = r2d2::Pool::builder()
        .max_size(max_connections.max(1))
        .min_idle(Some(0))
        .connection_timeout(connection_timeout)
        // A SQLite connection cannot go stale; a PostgreSQL one can (server
        // restart, idle timeout), so it is pinged before each use.
        .test_on_check_out(matches!(target, Target::Postgres(_)))
        .build(Manager { target })
        .map_err(failed)?;
    // The first connection, made here so that a bad URL fails at open; it
    // goes back to the pool idle.
    drop(pool.get().map_err(failed)?);
    Ok(pool)
}

/// SQLite creates the file but not the directories above it.
fn create_parent_dir(path: &str) -> Result<(), StoreError> {
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create the directory {} for the SQLite database: {e}",
                dir.display()
            ))
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(p: &str) -> Target {
        Target::Sqlite(p.to_owned())
    }

    #[test]
    fn postgres_schemes_select_postgres() {
        for url in [
            "postgres://u:p@h/db",
            "postgresql://u:p@h:5432/db?sslmode=disable",
        ] {
            assert_eq!(Target::parse(url), Ok(Target::Postgres(url.to_owned())));
        }
    }

    #[test]
    fn sqlite_forms_select_sqlite() {
        assert_eq!(
            Target::parse("sqlite:///var/lib/a.db"),
            Ok(sqlite("/var/lib/a.db"))
        );
        assert_eq!(Target::parse("sqlite://data/a.db"), Ok(sqlite("data/a.db")));
        assert_eq!(Target::parse("sqlite:data/a.db"), Ok(sqlite("data/a.db")));
        assert_eq!(Target::parse("data/a.db"), Ok(sqlite("data/a.db")));
        assert_eq!(Target::parse("/abs/a.db"), Ok(sqlite("/abs/a.db")));
        assert_eq!(
            Target::parse("C:\\data\\a.db"),
            Ok(sqlite("C:\\data\\a.db"))
        );
    }

    #[test]
    fn rejects_unknown_scheme_naming_the_supported_ones() {
        for url in ["mysql://u@h/db", "redis://h", "file:a.db", "http://x"] {
            match Target::parse(url) {
                Err(StoreError::Backend(msg)) => {
                    assert!(msg.contains("postgres://"), "{msg}");
                    assert!(msg.contains("sqlite:"), "{msg}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_empty_and_in_memory_sqlite() {
        for url in [
            "",
            "  ",
            "sqlite://",
            "sqlite:",
            "sqlite::memory:",
            ":memory:",
        ] {
            assert!(
                matches!(Target::parse(url), Err(StoreError::Backend(_))),
                "{url:?}"
            );
        }
    }

    #[test]
    fn rejected_postgres_url_is_not_echoed() {
        // Unknown schemes are named, but the rest of the URL (which may hold
        // a password) is not.
        match Target::parse("mysql://user:hunter2@h/db") {
            Err(StoreError::Backend(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
