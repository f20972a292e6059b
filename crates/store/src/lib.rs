//! atauth storage: the store traits of `atauth_core::store` (accounts,
//! signing keys, authorization requests, OAuth sessions, devices,
//! authorized clients, trusted clients) and `atauth_core::replay::ReplayStore`, implemented
//! with diesel for SQLite (embedded, bundled) and PostgreSQL (shared by
//! several instances).
//!
//! ```no_run
//! use atauth_core::store::AccountStore;
//! # fn main() -> Result<(), atauth_core::store::StoreError> {
//! let store = atauth_store::Store::open("sqlite://data/atauth.db")?;
//! store.migrate()?;
//! let accounts = store.list_accounts()?;
//! # let _ = accounts; Ok(()) }
//! ```
//!
//! The backend is chosen by the URL (see [`Store::open`]). Both backends
//! share one diesel schema (`src/schema.rs`) and have mirrored migrations under
//! `migrations/sqlite` and `migrations/postgres`, embedded in the binary.
//! Every trait implementation is checked by the contract suite in
//! `tests/contract.rs` against both backends.

#![warn(missing_docs)]

mod accounts;
mod cached;
mod codec;
mod conn;
mod devices;
mod email_codes;
mod error;
mod keys;
mod replay;
mod requests;
mod schema;
mod sessions;
mod trusted;

use std::sync::atomic::AtomicU64;

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use atauth_core::store::{StoreError, StoreResult};

use crate::conn::{AnyConnection, Pool, PooledConn, Target};

/// A checked-out connection. Fields drop in order: the connection goes
/// back to the pool before the gate opens.
pub(crate) struct Conn<'a> {
    conn: PooledConn,
    _gate: Option<ReentrantMutexGuard<'a, ()>>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// Migrations for SQLite, embedded at build time.
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// Migrations for PostgreSQL, embedded at build time.
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating, so instances
/// starting together do not apply the same migration twice.
const MIGRATION_LOCK_KEY: i64 = 0x6174_6175_7468_6d67; // "atauthmg"

/// What diesel's migration harness fails with.
type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Pool settings for [`Store::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most connections the pool opens; `None` picks the backend default
    /// (8 for SQLite, 16 for PostgreSQL).
    pub max_connections: Option<u32>,
    /// How long to wait for a connection before failing a call.
    pub connection_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// A pooled database handle implementing the store traits. Cheap to clone;
/// clones share the pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: &'static str,
    /// `check_and_insert` calls so far, shared by clones: every
    /// `replay::PURGE_EVERY`th one purges expired replay entries.
    replay_calls: Arc<AtomicU64>,
    /// SQLite only: one connection at a time in this process (see
    /// [`Store::is_embedded`]); `None` for PostgreSQL.
    gate: Option<Arc<ReentrantMutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("pool", &self.pool.state())
            .finish()
    }
}

impl Store {
    /// Open a store with default pool settings.
    ///
    /// `postgres://…` and `postgresql://…` select PostgreSQL. `sqlite://PATH`,
    /// `sqlite:PATH` or a plain path select SQLite; its parent directory is
    /// created, and every connection runs in WAL mode with a 5 s busy
    /// timeout, foreign keys on and `synchronous=NORMAL`. Any other scheme
    /// is refused with an error naming the supported ones.
    ///
    /// Opens one connection before returning, so an unreachable or
    /// misconfigured database fails here. Does not migrate: call
    /// [`Store::migrate`].
    pub fn open(database_url: &str) -> Result<Store, StoreError> {
        Store::open_with(database_url, StoreOptions::default())
    }

    /// Open a store with explicit pool settings; see [`Store::open`].
    pub fn open_with(database_url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let target = Target::parse(database_url)?;
        let backend = target.backend_name();
        let max = options.max_connections.unwrap_or(match target {
            Target::Sqlite(_) => 8,
            Target::Postgres(_) => 16,
        });
        let gate = matches!(target, Target::Sqlite(_)).then(|| Arc::new(ReentrantMutex::new(())));
        let pool = conn::build_pool(target, max, options.connection_timeout)?;
        Ok(Store {
            pool,
            backend,
            replay_calls: Arc::new(AtomicU64::new(0)),
            gate,
        })
    }

    /// Apply every embedded migration not yet applied. Running it again
    /// is a no-op. Instances migrating the same database at once take
    /// turns; a failed migration leaves the schema unchanged.
    pub fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        // All pending migrations run in one transaction: on SQLite an
        // IMMEDIATE one (it takes the write lock first), on PostgreSQL one
        // holding a transaction-scoped advisory lock. Either way two
        // instances starting together take turns, and a failure leaves the
        // schema as it was.
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .immediate_transaction::<_, MigrationError, _>(|c| {
                    Ok(c.run_pending_migrations(SQLITE_MIGRATIONS)?.len())
                })
                .map_err(|e| error::backend("applying SQLite migrations", e))?,
            AnyConnection::Postgres(c) => c
                .transaction::<_, MigrationError, _>(|c| {
                    c.batch_execute(&format!(
                        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
                    ))?;
                    Ok(c.run_pending_migrations(POSTGRES_MIGRATIONS)?.len())
                })
                .map_err(|e| error::backend("applying PostgreSQL migrations", e))?,
        };
        if applied > 0 {
            tracing::info!(
                backend = self.backend,
                applied,
                "database migrations applied"
            );
        }
        Ok(())
    }

    /// The backend in use: `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend
    }

    /// Check that the database answers (`SELECT 1` on a pooled
    /// connection), for a health endpoint.
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| error::query("pinging the database", e))
    }

    /// How many OAuth sessions have not expired at `now` (Unix seconds):
    /// one `SELECT COUNT(*)`, for the active-session metric.
    pub fn count_active_sessions(&self, now: i64) -> Result<i64, StoreError> {
        use diesel::prelude::*;
        use schema::oauth_sessions::dsl as s;
        let mut conn = self.conn()?;
        s::oauth_sessions
            .filter(s::expires_at.gt(now))
            .count()
            .get_result::<i64>(&mut *conn)
            .map_err(|e| error::query("counting active OAuth sessions", e))
    }

    /// Whether the database is embedded in this process (SQLite): every
    /// call is then a short local operation, cheap enough to run on the
    /// request's own thread rather than a blocking pool.
    ///
    /// SQLite allows one writer at a time and, when a second one arrives,
    /// makes it sleep in steps of milliseconds (its busy handler). This
    /// process therefore uses one connection at a time (a re-entrant
    /// mutex held with each checked-out connection): callers queue on the
    /// mutex for microseconds instead of sleeping on the database lock.
    /// Other processes on the same file (the CLI) still meet the busy
    /// timeout.
    pub fn is_embedded(&self) -> bool {
        self.gate.is_some()
    }

    /// A connection from the pool (on SQLite, with the gate held; see
    /// [`Store::is_embedded`]).
    ///
    /// Single-row lookups use `get_result`, never `first`: `first` adds a
    /// bound `LIMIT ?`, which SQLite treats as shaping the query plan, so
    /// every call with a fresh binding recompiled the cached statement
    /// (`sqlite3Reprepare`, ~10 % of a request's CPU).
    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let gate = self.gate.as_deref().map(ReentrantMutex::lock);
        let conn = self
            .pool
            .get()
            .map_err(|e| error::backend("no database connection available", e))?;
        Ok(Conn { conn, _gate: gate })
    }
}
