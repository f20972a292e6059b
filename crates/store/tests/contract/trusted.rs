//! Contract cases of `TrustedClientStore`. Each case quotes the sentence of
//! the trait's contract it checks.

use std::thread;

use atauth_core::store::{TrustedClient, TrustedClientStore};

use super::TestDb;

const T: i64 = 1_790_000_000;

const APP: &str = "https://app.example.com/client-metadata.json";
const OTHER: &str = "https://other.example.org/oauth/client.json";

fn ids(list: &[TrustedClient]) -> Vec<&str> {
    list.iter().map(|c| c.client_id.as_str()).collect()
}

/// Nothing is trusted in a fresh database.
pub fn trusted_clients_are_empty_at_first(db: &TestDb) {
    assert_eq!(db.store.trusted_clients(), Ok(vec![]));
    assert_eq!(db.store.is_trusted_client(APP), Ok(false));
}

/// "`add_trusted_client` records a client_id and returns true; adding one
/// that is already recorded changes nothing (its `created_at` is kept)
/// and returns false."
pub fn add_trusted_client_records_once_and_keeps_created_at(db: &TestDb) {
    assert_eq!(db.store.add_trusted_client(APP, T), Ok(true));
    assert_eq!(db.store.is_trusted_client(APP), Ok(true));
    assert_eq!(db.store.add_trusted_client(APP, T + 50), Ok(false));
    assert_eq!(
        db.store.trusted_clients(),
        Ok(vec![TrustedClient {
            client_id: APP.to_owned(),
            created_at: T,
        }])
    );
}

/// "`remove_trusted_client` deletes it and returns whether it was there."
pub fn remove_trusted_client_reports_whether_it_was_there(db: &TestDb) {
    db.store.add_trusted_client(APP, T).expect("add");
    db.store.add_trusted_client(OTHER, T).expect("add");
    assert_eq!(db.store.remove_trusted_client(APP), Ok(true));
    assert_eq!(db.store.remove_trusted_client(APP), Ok(false));
    assert_eq!(db.store.is_trusted_client(APP), Ok(false));
    assert_eq!(ids(&db.store.trusted_clients().expect("list")), vec![OTHER]);
    // Removed, it can be added again, with a new date.
    assert_eq!(db.store.add_trusted_client(APP, T + 9), Ok(true));
    let again = db.store.trusted_clients().expect("list");
    assert_eq!(again[0].created_at, T + 9);
}

/// "`is_trusted_client` says whether exactly this client_id is recorded
/// (byte for byte: no case folding, no prefix match)."
pub fn is_trusted_client_matches_exactly(db: &TestDb) {
    db.store.add_trusted_client(APP, T).expect("add");
    for near in [
        "https://APP.example.com/client-metadata.json",
        "https://app.example.com/client-metadata.json/",
        "https://app.example.com/client-metadata",
        "https://app.example.com/client-metadata.json?x=1",
        "",
    ] {
        assert_eq!(db.store.is_trusted_client(near), Ok(false), "{near:?}");
    }
}

/// "`trusted_clients` lists every recorded client, ordered by client_id
/// (byte order, whatever the locale)."
pub fn trusted_clients_are_ordered_by_client_id_bytewise(db: &TestDb) {
    let all = [
        "https://b.example.com/c.json",
        "https://B.example.com/c.json",
        "https://a.example.com/c.json",
        "https://a.example.com/C.json",
    ];
    for id in all {
        db.store.add_trusted_client(id, T).expect("add");
    }
    assert_eq!(
        ids(&db.store.trusted_clients().expect("list")),
        vec![
            "https://B.example.com/c.json",
            "https://a.example.com/C.json",
            "https://a.example.com/c.json",
            "https://b.example.com/c.json",
        ]
    );
}

/// What one instance (the CLI) records, another (a running server) reads.
pub fn trusted_clients_are_shared_between_instances(db: &TestDb) {
    let other = db.another_instance();
    assert_eq!(other.add_trusted_client(APP, T), Ok(true));
    assert_eq!(db.store.is_trusted_client(APP), Ok(true));
    assert_eq!(db.store.remove_trusted_client(APP), Ok(true));
    assert_eq!(other.is_trusted_client(APP), Ok(false));
}

/// Concurrent adds of one client_id: exactly one reports it as new.
pub fn concurrent_adds_of_one_client_have_one_winner(db: &TestDb) {
    let results: Vec<_> = thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let s = db.store.clone();
                scope.spawn(move || s.add_trusted_client(APP, T + i))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|r| **r == Ok(true)).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(db.store.trusted_clients().expect("list").len(), 1);
}
