//! Contract cases of `ReplayStore`: one-time values seen. Each case quotes
//! the sentence of the trait's contract it checks.

use std::thread;

use atauth_core::replay::{ReplayStore, NS_CLIENT_ASSERTION, NS_DPOP};

use super::TestDb;

/// A moment in the test's clock.
const T: i64 = 1_790_000_000;

fn check(db: &TestDb, namespace: &str, key: &str, expires_at: i64, now: i64) -> bool {
    db.store
        .check_and_insert(namespace, key, expires_at, now)
        .expect("check_and_insert")
}

/// How many entries the table holds, expired ones included.
fn entries(db: &TestDb, condition: &str) -> i64 {
    db.raw_count(&format!(
        "SELECT COUNT(*) AS n FROM replay WHERE {condition}"
    ))
    .expect("count replay entries")
}

/// "It returns `true` if the key was not present … and records it until
/// `expires_at`; it returns `false` … if the key is present with
/// `expires_at > now`." At `now == expires_at` it is expired.
pub fn replay_is_refused_until_expiry(db: &TestDb) {
    assert!(check(db, NS_DPOP, "j1", T + 10, T));
    assert!(!check(db, NS_DPOP, "j1", T + 20, T));
    assert!(!check(db, NS_DPOP, "j1", T + 20, T + 9));
    assert!(check(db, NS_DPOP, "j1", T + 30, T + 10));
    assert!(!check(db, NS_DPOP, "j1", T + 40, T + 29));
    // Keys are compared exactly.
    assert!(check(db, NS_DPOP, "J1", T + 30, T + 10));
    assert!(check(db, NS_DPOP, "j1 ", T + 30, T + 10));
}

/// "Timestamps are Unix seconds; `now` is the caller's clock, never read
/// by the store": entries from 1970 are live while the caller says so.
pub fn replay_uses_the_callers_clock(db: &TestDb) {
    assert!(check(db, NS_DPOP, "epoch", 100, 50));
    assert!(!check(db, NS_DPOP, "epoch", 200, 99));
    assert!(check(db, NS_DPOP, "epoch", 200, 100));
    // And an entry far in the future is expired when the caller says so.
    let far = i64::MAX - 1;
    assert!(check(db, NS_DPOP, "future", far, far - 10));
    assert!(!check(db, NS_DPOP, "future", far, T));
    assert!(check(db, NS_DPOP, "future", i64::MAX, far));
}

/// "… it returns `false`, and changes nothing": a refused replay does not
/// extend the entry.
pub fn refused_replay_changes_nothing(db: &TestDb) {
    assert!(check(db, NS_DPOP, "j", T + 10, T));
    assert!(!check(db, NS_DPOP, "j", T + 1_000, T + 1));
    assert_eq!(entries(db, &format!("expires_at = {}", T + 10)), 1);
    assert!(check(db, NS_DPOP, "j", T + 20, T + 10));
}

/// "Namespaces are independent: the same key in two namespaces is two
/// entries."
pub fn replay_namespaces_are_independent(db: &TestDb) {
    assert!(check(db, NS_DPOP, "j", T + 10, T));
    assert!(check(db, NS_CLIENT_ASSERTION, "j", T + 10, T));
    assert!(check(db, "other", "j", T + 10, T));
    assert!(!check(db, NS_CLIENT_ASSERTION, "j", T + 10, T));
    assert!(!check(db, NS_DPOP, "j", T + 10, T));
    assert_eq!(entries(db, "1 = 1"), 3);
}

/// "An entry with `expires_at <= now` is expired: it may be purged at any
/// time, and once expired (purged or not) the key counts as new again."
/// `Store::purge_expired_replay` removes exactly the expired entries.
pub fn expired_replay_entry_counts_as_new_purged_or_not(db: &TestDb) {
    assert!(check(db, NS_DPOP, "kept", T + 10, T));
    assert!(check(db, NS_DPOP, "purged", T + 10, T));
    assert!(check(db, NS_DPOP, "live", T + 100, T));
    assert_eq!(db.store.purge_expired_replay(T + 9), Ok(0));
    // Unpurged but expired: new again.
    assert!(check(db, NS_DPOP, "kept", T + 50, T + 10));
    // Purged: new again.
    assert_eq!(db.store.purge_expired_replay(T + 10), Ok(1));
    assert_eq!(entries(db, "\"key\" = 'purged'"), 0);
    assert!(check(db, NS_DPOP, "purged", T + 50, T + 10));
    // The live entry survived both.
    assert!(!check(db, NS_DPOP, "live", T + 200, T + 99));
}

/// "`check_and_insert` is atomic: of any number of concurrent calls with
/// the same `namespace` and `key`, exactly one returns `true`".
pub fn concurrent_replay_checks_have_one_winner(db: &TestDb) {
    let admitted = race(db, "same");
    assert_eq!(admitted, 1);
}

/// The same when the key is present but expired: exactly one caller
/// revives it.
pub fn concurrent_replay_checks_of_an_expired_key_have_one_winner(db: &TestDb) {
    assert!(check(db, NS_DPOP, "old", T - 100, T - 200));
    let admitted = race(db, "old");
    assert_eq!(admitted, 1);
    assert_eq!(entries(db, &format!("expires_at = {}", T + 60)), 1);
}

/// Eight threads check one key at once; how many were admitted.
fn race(db: &TestDb, key: &str) -> usize {
    let results: Vec<bool> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = db.store.clone();
                scope.spawn(move || {
                    s.check_and_insert(NS_DPOP, key, T + 60, T)
                        .expect("check_and_insert")
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    results.into_iter().filter(|admitted| *admitted).count()
}

/// "… across every instance sharing the backend": a second `Store` on the
/// same database refuses what the first recorded, also under concurrency.
pub fn replay_is_shared_between_instances(db: &TestDb) {
    let other = db.another_instance();
    assert!(check(db, NS_CLIENT_ASSERTION, "client|jti-1", T + 60, T));
    assert_eq!(
        other.check_and_insert(NS_CLIENT_ASSERTION, "client|jti-1", T + 60, T + 1),
        Ok(false)
    );
    let results: Vec<bool> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                scope.spawn(move || {
                    s.check_and_insert(NS_DPOP, "shared", T + 60, T)
                        .expect("check_and_insert")
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|a| **a).count(), 1, "{results:?}");
}

/// "… it may be purged at any time": the store purges expired entries by
/// itself (at least once every 256 calls), so the table does not grow
/// without bound. Unexpired entries are never purged.
pub fn check_and_insert_purges_expired_entries(db: &TestDb) {
    for i in 0..10 {
        assert!(check(db, NS_DPOP, &format!("early-{i}"), T + 10, T));
    }
    for i in 0..256 {
        assert!(check(
            db,
            NS_DPOP,
            &format!("late-{i}"),
            T + 2_000,
            T + 1_000
        ));
    }
    assert_eq!(entries(db, "\"key\" LIKE 'early-%'"), 0);
    assert_eq!(entries(db, "\"key\" LIKE 'late-%'"), 256);
}
