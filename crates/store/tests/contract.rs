//! The store contract suite: every sentence of the doc comments on
//! `atauth_core::store::{AccountStore, KeyStore, RequestStore,
//! SessionStore, DeviceStore, AuthorizedClientStore, TrustedClientStore}` and
//! `atauth_core::replay::ReplayStore` as a named case, run against SQLite
//! (a fresh file per test) and PostgreSQL (a throwaway database per test,
//! from `ATAUTH_TEST_POSTGRES_URL`). Cases live in `contract/`, one file
//! per aggregate.
//!
//! Each case becomes two tests, `sqlite::<case>` and `postgres::<case>`,
//! so one backend or one case can be run alone:
//! `cargo test -p atauth-store --test contract postgres::`.
//! Without `ATAUTH_TEST_POSTGRES_URL` the PostgreSQL tests say SKIPPED on
//! stderr and pass; CI sets it (see .ci/start-postgres.sh).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use atauth_store::Store;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

#[path = "contract/cases.rs"]
mod cases;
#[path = "contract/devices.rs"]
mod devices;
#[path = "contract/email_codes.rs"]
mod email_codes;
#[path = "contract/replay.rs"]
mod replay;
#[path = "contract/requests.rs"]
mod requests;
#[path = "contract/sessions.rs"]
mod sessions;
#[path = "contract/trusted.rs"]
mod trusted;

/// Every case, by name, whichever file it is in.
mod all {
    pub use super::cases::*;
    pub use super::devices::*;
    pub use super::email_codes::*;
    pub use super::replay::*;
    pub use super::requests::*;
    pub use super::sessions::*;
    pub use super::trusted::*;
}

const POSTGRES_ENV: &str = "ATAUTH_TEST_POSTGRES_URL";

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A migrated store on a fresh database, plus a direct connection target
/// for the few cases that must write what the store never would.
pub struct TestDb {
    /// The store under test (dropped first, before the database goes).
    pub store: Store,
    raw: Raw,
    _guard: Guard,
}

/// Where to open a connection that bypasses the store.
enum Raw {
    Sqlite(String),
    Postgres(String),
}

/// Removes the database when the test ends, even if it panicked.
enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            let dropped = PgConnection::establish(admin_url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                let _ = writeln!(
                    std::io::stderr(),
                    "could not drop test database {name}: {e}"
                );
            }
        }
    }
}

impl TestDb {
    /// Run SQL on a connection of its own, outside the store.
    pub fn raw_execute(&self, sql: &str) -> Result<(), String> {
        match &self.raw {
            Raw::Sqlite(path) => SqliteConnection::establish(path)
                .map_err(|e| e.to_string())?
                .batch_execute(&format!("PRAGMA busy_timeout = 5000; {sql}"))
                .map_err(|e| e.to_string()),
            Raw::Postgres(url) => PgConnection::establish(url)
                .map_err(|e| e.to_string())?
                .batch_execute(sql)
                .map_err(|e| e.to_string()),
        }
    }

    /// A single number from SQL run on a connection of its own, outside
    /// the store (`SELECT COUNT(*) AS n …`).
    pub fn raw_count(&self, sql: &str) -> Result<i64, String> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let query = diesel::sql_query(sql);
        let count: Count = match &self.raw {
            Raw::Sqlite(path) => {
                let mut c = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
                query.get_result(&mut c).map_err(|e| e.to_string())?
            }
            Raw::Postgres(url) => {
                let mut c = PgConnection::establish(url).map_err(|e| e.to_string())?;
                query.get_result(&mut c).map_err(|e| e.to_string())?
            }
        };
        Ok(count.n)
    }

    /// A second, independent `Store` on the same database: another
    /// instance sharing the backend.
    pub fn another_instance(&self) -> Store {
        let url = match &self.raw {
            Raw::Sqlite(path) => format!("sqlite://{path}"),
            Raw::Postgres(url) => url.clone(),
        };
        Store::open(&url).expect("open a second store on the same database")
    }

    /// Revert every migration with diesel directly (exercising down.sql).
    pub fn revert_all_migrations(&self) -> Result<(), String> {
        match &self.raw {
            Raw::Sqlite(path) => SqliteConnection::establish(path)
                .map_err(|e| e.to_string())?
                .revert_all_migrations(SQLITE_MIGRATIONS)
                .map(drop)
                .map_err(|e| e.to_string()),
            Raw::Postgres(url) => PgConnection::establish(url)
                .map_err(|e| e.to_string())?
                .revert_all_migrations(POSTGRES_MIGRATIONS)
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }
}

/// Run `case` on a migrated SQLite store in a fresh temporary directory.
/// The file sits in a subdirectory that does not exist yet, so every test
/// also checks that `open` creates it.
pub fn run_sqlite(case: fn(&TestDb)) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("data").join("atauth.db");
    let path = path.to_str().expect("UTF-8 temporary path").to_owned();
    let store = Store::open(&format!("sqlite://{path}")).expect("open SQLite store");
    assert_eq!(store.backend_name(), "sqlite");
    store.migrate().expect("migrate SQLite store");
    let db = TestDb {
        store,
        raw: Raw::Sqlite(path),
        _guard: Guard::Sqlite(dir),
    };
    case(&db);
}

/// Run `case` on a migrated PostgreSQL store in a throwaway database, or
/// say loudly that it was skipped.
pub fn run_postgres(name: &str, case: fn(&TestDb)) {
    let Some(admin_url) = std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty()) else {
        // Straight to stderr: the test harness captures println!/eprintln!.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {POSTGRES_ENV} not set (postgres::{name}); \
             run `eval \"$(bash .ci/start-postgres.sh)\"` to test PostgreSQL"
        );
        return;
    };
    let db_name = format!("atauth_test_{:016x}", rand::random::<u64>());
    create_postgres_database(&admin_url, &db_name);
    // The guard exists from here on, so the database is dropped whatever
    // happens next.
    let guard = Guard::Postgres {
        admin_url: admin_url.clone(),
        name: db_name.clone(),
    };
    let mut url = url::Url::parse(&admin_url).expect("ATAUTH_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{db_name}"));
    let url = url.to_string();
    let store = Store::open(&url).expect("open PostgreSQL store");
    assert_eq!(store.backend_name(), "postgres");
    store.migrate().expect("migrate PostgreSQL store");
    let db = TestDb {
        store,
        raw: Raw::Postgres(url),
        _guard: guard,
    };
    case(&db);
}

/// Create the database with a locale-aware default collation where the
/// server allows it (ICU, PostgreSQL 15+), so that the schema's bytewise
/// ordering is tested against a collation that would order differently.
fn create_postgres_database(admin_url: &str, name: &str) {
    let mut admin = PgConnection::establish(admin_url)
        .unwrap_or_else(|e| panic!("connect to {POSTGRES_ENV}: {e}"));
    let icu = format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    );
    if admin.batch_execute(&icu).is_err() {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
    }
}

/// Each named case in `cases` becomes `sqlite::<case>` and `postgres::<case>`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    super::run_sqlite(super::all::$case);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $case() {
                    super::run_postgres(stringify!($case), super::all::$case);
                }
            )*
        }
    };
}

contract! {
    // AccountStore
    create_then_get_by_did_and_handle,
    optional_fields_round_trip,
    unknown_did_or_handle_is_none,
    duplicate_did_conflicts_and_writes_nothing,
    duplicate_handle_conflicts_and_writes_nothing,
    handle_uniqueness_is_case_insensitive,
    did_and_handle_both_taken_reports_did,
    concurrent_creates_of_one_handle_have_one_winner,
    concurrent_creates_of_one_did_have_one_winner,
    dids_are_case_sensitive,
    list_accounts_is_empty_at_first,
    list_accounts_is_ordered_by_handle,
    set_password_hash_replaces_only_the_hash,
    set_password_hash_of_unknown_did_is_false,
    set_disabled_sets_and_clears,
    set_disabled_of_unknown_did_is_false,
    delete_account_reports_whether_there_was_one,
    deleted_handle_can_be_taken_again,
    invalid_did_in_database_is_backend_error,
    invalid_handle_in_database_is_backend_error,
    schema_refuses_uppercase_handles,
    // KeyStore
    signing_keys_are_empty_at_first,
    signing_keys_list_oldest_first_ties_by_kid,
    duplicate_kid_conflicts_and_keeps_the_original,
    private_key_bytes_round_trip_exactly,
    // Store
    migrate_twice_is_a_no_op,
    migrations_revert_and_reapply,
    concurrent_migrations_take_turns,
    clones_share_one_database,
    ping_answers,
    // RequestStore
    request_round_trips_every_field,
    duplicate_request_id_conflicts_and_keeps_the_original,
    unknown_request_is_none,
    get_request_returns_it_whatever_its_state,
    bind_device_first_use_wins,
    bind_device_is_refused_once_a_code_is_issued,
    bind_device_of_unknown_request_is_false,
    concurrent_binds_have_one_winner,
    issue_code_stores_sub_hash_and_expiry_once,
    issue_code_of_unknown_request_is_false,
    issue_code_with_a_taken_hash_conflicts,
    consume_code_once_then_reused,
    consume_code_after_expiry_is_reused,
    consume_unknown_code_is_unknown,
    concurrent_consumes_have_one_winner,
    delete_request_reports_whether_there_was_one,
    purge_expired_requests_keeps_the_grace_period,
    invalid_request_json_in_database_is_backend_error,
    invalid_request_sub_in_database_is_backend_error,
    // SessionStore
    session_round_trips_every_field,
    duplicate_session_id_conflicts_and_keeps_the_original,
    duplicate_refresh_hash_conflicts,
    sessions_without_refresh_tokens_coexist,
    unknown_session_is_none,
    find_refresh_says_current_previous_or_unknown,
    rotate_refresh_swaps_and_keeps_the_old_as_previous,
    rotate_refresh_from_a_stale_hash_changes_nothing,
    concurrent_rotations_have_one_winner,
    rotate_refresh_to_a_taken_hash_conflicts,
    touch_session_sets_last_used_at_only,
    deleted_session_is_found_by_nothing,
    delete_sessions_for_request_counts,
    delete_sessions_for_account_and_client,
    list_sessions_newest_first_with_filters,
    purge_expired_sessions_removes_ended_ones,
    session_for_unknown_account_is_backend_error,
    invalid_session_json_in_database_is_backend_error,
    // DeviceStore
    create_device_then_find_by_secret,
    duplicate_device_id_or_secret_conflicts,
    rotated_device_secret_no_longer_finds,
    rotate_device_secret_to_a_taken_hash_conflicts,
    touch_device_updates_last_seen_agent_and_ip,
    delete_device_removes_it_and_its_sign_ins,
    upsert_device_account_signs_in_and_refreshes,
    remove_device_account_signs_out,
    device_accounts_most_recent_first,
    devices_of_account_lists_each_sign_in,
    sign_in_to_unknown_device_or_account_is_backend_error,
    // AuthorizedClientStore
    upsert_authorized_client_records_an_approval,
    upsert_authorized_client_replaces_scope_keeps_created_at,
    forget_authorized_client_reports_whether_it_existed,
    authorized_clients_newest_first_per_account,
    // Account deletion
    deleting_an_account_cascades,
    // ReplayStore
    replay_is_refused_until_expiry,
    replay_uses_the_callers_clock,
    refused_replay_changes_nothing,
    replay_namespaces_are_independent,
    expired_replay_entry_counts_as_new_purged_or_not,
    concurrent_replay_checks_have_one_winner,
    concurrent_replay_checks_of_an_expired_key_have_one_winner,
    replay_is_shared_between_instances,
    check_and_insert_purges_expired_entries,
    // TrustedClientStore
    trusted_clients_are_empty_at_first,
    add_trusted_client_records_once_and_keeps_created_at,
    remove_trusted_client_reports_whether_it_was_there,
    is_trusted_client_matches_exactly,
    trusted_clients_are_ordered_by_client_id_bytewise,
    trusted_clients_are_shared_between_instances,
    concurrent_adds_of_one_client_have_one_winner,
    // EmailCodeStore
    put_email_code_keeps_one_code_per_account_and_purpose,
    put_email_code_needs_the_account,
    take_email_code_attempt_counts_up_to_max,
    concurrent_attempts_never_exceed_max,
    consume_email_code_has_one_winner,
    delete_and_purge_email_codes,
    verified_email_round_trips_and_goes_with_the_account,
    accounts_with_email_ignores_ascii_case,
    email_code_is_single_use,
    rejects_expired_email_code,
    rejects_email_code_of_another_account,
    rejects_email_code_after_too_many_attempts,
}

/// The migration folders, by name, for one backend.
fn migration_folders(backend: &str) -> Vec<String> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        for file in ["up.sql", "down.sql"] {
            assert!(
                dir.join(name).join(file).is_file(),
                "migrations/{backend}/{name} has no {file}"
            );
        }
    }
    names
}

/// Both backends have the same changes under the same names (vaultwarden's
/// drifted; this keeps ours from doing so).
#[test]
fn migration_folders_match_between_backends() {
    let sqlite = migration_folders("sqlite");
    let postgres = migration_folders("postgres");
    assert!(!sqlite.is_empty(), "no SQLite migrations found");
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres differ"
    );
}

/// `Store` can be shared between threads and cloned into them.
#[test]
fn store_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Store>();
}

/// An unsupported scheme is refused with the supported ones named, and
/// the URL's password is not repeated.
#[test]
fn open_refuses_unknown_schemes() {
    match Store::open("mysql://root:hunter2@localhost/atauth") {
        Err(atauth_store::StoreError::Backend(msg)) => {
            assert!(
                msg.contains("postgres://") && msg.contains("sqlite:"),
                "{msg}"
            );
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
}

/// `sqlite:PATH` and a plain path open the same file as `sqlite://PATH`.
#[test]
fn open_accepts_every_sqlite_form() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("a").join("b").join("atauth.db");
    let path = path.to_str().expect("UTF-8 path");
    for url in [
        format!("sqlite://{path}"),
        format!("sqlite:{path}"),
        path.to_owned(),
    ] {
        let store = Store::open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(store.backend_name(), "sqlite");
        store.migrate().expect("migrate");
    }
    assert!(Path::new(path).is_file());
}

/// A PostgreSQL server that refuses the password fails at open, without
/// echoing the password.
#[test]
fn open_reports_a_bad_postgres_password_without_it() {
    let Some(admin_url) = std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty()) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {POSTGRES_ENV} not set (open_reports_a_bad_postgres_password_without_it)"
        );
        return;
    };
    let mut url = url::Url::parse(&admin_url).expect("URL");
    url.set_password(Some("not-the-password-x9"))
        .expect("URL takes a password");
    let options = atauth_store::StoreOptions {
        max_connections: Some(1),
        connection_timeout: std::time::Duration::from_secs(2),
    };
    match Store::open_with(url.as_str(), options) {
        Err(atauth_store::StoreError::Backend(msg)) => {
            assert!(!msg.contains("not-the-password-x9"), "{msg}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
}
