//! The contract cases of `AccountStore`, `KeyStore` and `Store` itself
//! (the other traits have a file each beside this one), and the fixtures
//! they share. Each case quotes the sentence of the trait doc comment it
//! checks, takes a migrated store on a fresh database, and knows nothing
//! of the backend.

use std::thread;

use atauth_core::identity::{Did, Handle};
use atauth_core::store::{Account, AccountStore, KeyStore, StoreError, StoredKey};

use super::TestDb;

// ---------------------------------------------------------------- fixtures

pub(crate) fn did(s: &str) -> Did {
    Did::parse(s).unwrap_or_else(|e| panic!("fixture DID {s}: {e}"))
}

fn handle(s: &str) -> Handle {
    Handle::parse(s).unwrap_or_else(|e| panic!("fixture handle {s}: {e}"))
}

/// A did:plc whose 24 identifier characters are `c` repeated.
pub(crate) fn plc(c: char) -> Did {
    did(&format!("did:plc:{}", c.to_string().repeat(24)))
}

pub(crate) fn account(d: Did, h: &str) -> Account {
    Account {
        did: d,
        handle: handle(h),
        email: Some(format!("{h}@mail.test")),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${h}"),
        created_at: 1_790_000_000,
        disabled_at: None,
    }
}

fn key(kid: &str, created_at: i64, byte: u8) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        private_pkcs8: vec![byte; 138],
        created_at,
    }
}

fn conflict(what: &str) -> Result<(), StoreError> {
    Err(StoreError::Conflict(what.to_owned()))
}

fn handles(accounts: &[Account]) -> Vec<&str> {
    accounts.iter().map(|a| a.handle.as_str()).collect()
}

fn kids(keys: &[StoredKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

pub(crate) fn expect_backend_error<T: std::fmt::Debug>(r: Result<T, StoreError>, naming: &str) {
    match r {
        Err(StoreError::Backend(msg)) => {
            assert!(msg.contains(naming), "{msg:?} should name {naming}")
        }
        other => panic!("expected a Backend error naming {naming}, got {other:?}"),
    }
}

// ---------------------------------------------------------- AccountStore

/// "Insert a new account." / "The account with this DID, if any." /
/// "The account with this handle, if any."
pub fn create_then_get_by_did_and_handle(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    assert_eq!(
        s.account_by_did(&alice.did).expect("by did"),
        Some(alice.clone())
    );
    assert_eq!(
        s.account_by_handle(&alice.handle).expect("by handle"),
        Some(alice.clone())
    );
}

/// Every field comes back as written: no email, a disabled time, a did:web,
/// extreme timestamps.
pub fn optional_fields_round_trip(db: &TestDb) {
    let s = &db.store;
    let mut bob = account(did("did:web:bob.example.com"), "bob.example.com");
    bob.email = None;
    bob.created_at = i64::MIN;
    bob.disabled_at = Some(i64::MAX);
    s.create_account(&bob).expect("create");
    assert_eq!(
        s.account_by_did(&bob.did).expect("by did"),
        Some(bob.clone())
    );
    assert!(!s
        .account_by_handle(&bob.handle)
        .expect("by handle")
        .expect("found")
        .is_active());
}

/// "…, if any": an unknown DID or handle is `None`, not an error.
pub fn unknown_did_or_handle_is_none(db: &TestDb) {
    let s = &db.store;
    s.create_account(&account(plc('a'), "alice.test"))
        .expect("create");
    assert_eq!(s.account_by_did(&plc('z')).expect("by did"), None);
    assert_eq!(
        s.account_by_handle(&handle("nobody.test"))
            .expect("by handle"),
        None
    );
}

/// "Fails with `Conflict("did")` when the DID exists … nothing is written
/// on failure."
pub fn duplicate_did_conflicts_and_writes_nothing(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    let again = account(plc('a'), "other.test");
    assert_eq!(s.create_account(&again), conflict("did"));
    assert_eq!(s.account_by_handle(&again.handle).expect("by handle"), None);
    assert_eq!(s.account_by_did(&alice.did).expect("by did"), Some(alice));
    assert_eq!(s.list_accounts().expect("list").len(), 1);
}

/// "… and `Conflict("handle")` when the handle exists …; nothing is written
/// on failure."
pub fn duplicate_handle_conflicts_and_writes_nothing(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    let imposter = account(plc('b'), "alice.test");
    assert_eq!(s.create_account(&imposter), conflict("handle"));
    assert_eq!(s.account_by_did(&imposter.did).expect("by did"), None);
    assert_eq!(
        s.account_by_handle(&alice.handle).expect("by handle"),
        Some(alice)
    );
    assert_eq!(s.list_accounts().expect("list").len(), 1);
}

/// "handles are stored lowercase, so uniqueness is case-insensitive".
pub fn handle_uniqueness_is_case_insensitive(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    let shouty = account(plc('b'), "ALICE.Test");
    assert_eq!(shouty.handle.as_str(), "alice.test");
    assert_eq!(s.create_account(&shouty), conflict("handle"));
    assert_eq!(
        s.account_by_handle(&handle("Alice.TEST"))
            .expect("by handle"),
        Some(alice)
    );
}

/// When both the DID and the handle are taken, the DID is reported (the
/// trait does not say; this pins the behaviour so backends agree).
pub fn did_and_handle_both_taken_reports_did(db: &TestDb) {
    let s = &db.store;
    s.create_account(&account(plc('a'), "alice.test"))
        .expect("create");
    assert_eq!(
        s.create_account(&account(plc('a'), "alice.test")),
        conflict("did")
    );
}

/// Uniqueness holds under concurrency: of many simultaneous creates of one
/// handle exactly one succeeds and the rest are `Conflict("handle")`.
pub fn concurrent_creates_of_one_handle_have_one_winner(db: &TestDb) {
    let results: Vec<_> = thread::scope(|scope| {
        let threads: Vec<_> = "abcdefgh"
            .chars()
            .map(|c| {
                let s = db.store.clone();
                scope.spawn(move || s.create_account(&account(plc(c), "contested.test")))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r, &conflict("handle"));
    }
    assert_eq!(db.store.list_accounts().expect("list").len(), 1);
}

/// Likewise for one DID: one winner, the rest `Conflict("did")`.
pub fn concurrent_creates_of_one_did_have_one_winner(db: &TestDb) {
    let results: Vec<_> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = db.store.clone();
                scope.spawn(move || s.create_account(&account(plc('q'), &format!("h{i}.test"))))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r, &conflict("did"));
    }
}

/// DIDs are case-sensitive and kept as given (`Did`'s contract), so two
/// DIDs differing only in case are two accounts.
pub fn dids_are_case_sensitive(db: &TestDb) {
    let s = &db.store;
    let lower = account(did("did:web:carol.example.com"), "carol.test");
    let upper = account(did("did:web:Carol.example.com"), "carol2.test");
    s.create_account(&lower).expect("create lower");
    s.create_account(&upper).expect("create upper");
    assert_eq!(s.account_by_did(&upper.did).expect("by did"), Some(upper));
    assert_eq!(s.account_by_did(&lower.did).expect("by did"), Some(lower));
}

/// "Every account" of an empty store is none.
pub fn list_accounts_is_empty_at_first(db: &TestDb) {
    assert_eq!(
        db.store.list_accounts().expect("list"),
        Vec::<Account>::new()
    );
}

/// "Every account, ordered by handle": bytewise, whatever the database's
/// locale ('-' < '.' < digits < letters).
pub fn list_accounts_is_ordered_by_handle(db: &TestDb) {
    let s = &db.store;
    let order = [
        "zed.test", "ab.test", "a.test", "a-c.test", "b9.test", "b.test", "a0.test",
    ];
    for (i, h) in order.iter().enumerate() {
        let c = char::from(b'a' + i as u8);
        s.create_account(&account(plc(c), h)).expect("create");
    }
    let listed = s.list_accounts().expect("list");
    assert_eq!(
        handles(&listed),
        ["a-c.test", "a.test", "a0.test", "ab.test", "b.test", "b9.test", "zed.test"]
    );
    let alice = account(plc('c'), "a.test");
    assert_eq!(listed[1], alice, "listed accounts carry every field");
}

/// "Replace the password hash." Nothing else changes.
pub fn set_password_hash_replaces_only_the_hash(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    let bob = account(plc('b'), "bob.test");
    s.create_account(&alice).expect("create");
    s.create_account(&bob).expect("create");
    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$new";
    assert_eq!(s.set_password_hash(&alice.did, new_hash), Ok(true));
    let expected = Account {
        password_hash: new_hash.to_owned(),
        ..alice.clone()
    };
    assert_eq!(
        s.account_by_did(&alice.did).expect("by did"),
        Some(expected)
    );
    assert_eq!(s.account_by_did(&bob.did).expect("by did"), Some(bob));
}

/// "Returns false if no such account."
pub fn set_password_hash_of_unknown_did_is_false(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.set_password_hash(&plc('z'), "$argon2id$x"), Ok(false));
    assert_eq!(s.account_by_did(&plc('z')).expect("by did"), None);
}

/// "Set or clear the disabled timestamp."
pub fn set_disabled_sets_and_clears(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    assert_eq!(s.set_disabled(&alice.did, Some(1_790_000_123)), Ok(true));
    let got = s
        .account_by_did(&alice.did)
        .expect("by did")
        .expect("found");
    assert_eq!(got.disabled_at, Some(1_790_000_123));
    assert!(!got.is_active());
    assert_eq!(s.set_disabled(&alice.did, None), Ok(true));
    assert_eq!(s.account_by_did(&alice.did).expect("by did"), Some(alice));
}

/// "Returns false if no such account."
pub fn set_disabled_of_unknown_did_is_false(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.set_disabled(&plc('z'), Some(1)), Ok(false));
    assert_eq!(s.set_disabled(&plc('z'), None), Ok(false));
}

/// "Delete the account. Returns false if there was none."
pub fn delete_account_reports_whether_there_was_one(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    let bob = account(plc('b'), "bob.test");
    s.create_account(&alice).expect("create");
    s.create_account(&bob).expect("create");
    assert_eq!(s.delete_account(&alice.did), Ok(true));
    assert_eq!(s.account_by_did(&alice.did).expect("by did"), None);
    assert_eq!(s.account_by_handle(&alice.handle).expect("by handle"), None);
    assert_eq!(s.delete_account(&alice.did), Ok(false));
    assert_eq!(s.list_accounts().expect("list"), vec![bob]);
}

/// Once deleted, neither the DID nor the handle is taken any more.
pub fn deleted_handle_can_be_taken_again(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    assert_eq!(s.delete_account(&alice.did), Ok(true));
    let newcomer = account(plc('n'), "alice.test");
    s.create_account(&newcomer).expect("handle free again");
    s.create_account(&account(plc('a'), "alice2.test"))
        .expect("DID free again");
    assert_eq!(
        s.account_by_handle(&alice.handle).expect("by handle"),
        Some(newcomer)
    );
}

/// A row the store would never write (a bad DID) is a `Backend` error that
/// names the column, not a panic and not a silently skipped row.
pub fn invalid_did_in_database_is_backend_error(db: &TestDb) {
    db.raw_execute(
        "INSERT INTO accounts (did, handle, password_hash, created_at) \
         VALUES ('did:nope:x', 'broken.test', 'h', 1)",
    )
    .expect("raw insert");
    expect_backend_error(
        db.store.account_by_handle(&handle("broken.test")),
        "accounts.did",
    );
    expect_backend_error(db.store.list_accounts(), "accounts.did");
}

/// Likewise for a bad handle.
pub fn invalid_handle_in_database_is_backend_error(db: &TestDb) {
    let d = plc('b');
    db.raw_execute(&format!(
        "INSERT INTO accounts (did, handle, password_hash, created_at) \
         VALUES ('{d}', 'under_score.test', 'h', 1)"
    ))
    .expect("raw insert");
    expect_backend_error(db.store.account_by_did(&d), "accounts.handle");
    expect_backend_error(db.store.list_accounts(), "accounts.handle");
}

/// The schema itself keeps handles lowercase, so a writer other than the
/// store cannot break case-insensitive uniqueness.
pub fn schema_refuses_uppercase_handles(db: &TestDb) {
    let d = plc('c');
    let r = db.raw_execute(&format!(
        "INSERT INTO accounts (did, handle, password_hash, created_at) \
         VALUES ('{d}', 'Upper.test', 'h', 1)"
    ));
    assert!(r.is_err(), "an uppercase handle was accepted");
    assert_eq!(db.store.account_by_did(&d).expect("by did"), None);
}

// --------------------------------------------------------------- KeyStore

/// "Every stored key" of an empty store is none.
pub fn signing_keys_are_empty_at_first(db: &TestDb) {
    assert_eq!(
        db.store.list_signing_keys().expect("list"),
        Vec::<StoredKey>::new()
    );
}

/// "Add a key." / "Every stored key, oldest first (ties broken by kid)."
pub fn signing_keys_list_oldest_first_ties_by_kid(db: &TestDb) {
    let s = &db.store;
    for k in [
        key("k-newest", 300, 3),
        key("k-b", 200, 2),
        key("k-old", 100, 1),
        key("k-a", 200, 4),
        key("K-upper", 200, 5),
    ] {
        s.insert_signing_key(&k).expect("insert");
    }
    let listed = s.list_signing_keys().expect("list");
    assert_eq!(
        kids(&listed),
        ["k-old", "K-upper", "k-a", "k-b", "k-newest"]
    );
    assert_eq!(
        listed[0],
        key("k-old", 100, 1),
        "listed keys carry every field"
    );
}

/// "Fails with `Conflict("kid")` if the kid exists. Keys are never updated
/// or silently replaced."
pub fn duplicate_kid_conflicts_and_keeps_the_original(db: &TestDb) {
    let s = &db.store;
    let original = key("k1", 100, 1);
    s.insert_signing_key(&original).expect("insert");
    let replacement = StoredKey {
        alg: "ES384".to_owned(),
        ..key("k1", 200, 9)
    };
    assert_eq!(s.insert_signing_key(&replacement), conflict("kid"));
    assert_eq!(s.list_signing_keys().expect("list"), vec![original]);
}

/// "PKCS#8 DER of the private key": the bytes come back exactly, every
/// byte value (NUL, 0xff, invalid UTF-8) included.
pub fn private_key_bytes_round_trip_exactly(db: &TestDb) {
    let s = &db.store;
    let every_byte: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let k = StoredKey {
        private_pkcs8: every_byte.clone(),
        ..key("all-bytes", 1, 0)
    };
    let single = StoredKey {
        private_pkcs8: vec![0],
        ..key("one-nul", 2, 0)
    };
    s.insert_signing_key(&k).expect("insert");
    s.insert_signing_key(&single).expect("insert");
    let listed = s.list_signing_keys().expect("list");
    assert_eq!(listed[0].private_pkcs8, every_byte);
    assert_eq!(listed[1].private_pkcs8, vec![0]);
}

// ------------------------------------------------------------------ Store

/// Migrating an up-to-date database changes nothing and loses nothing.
pub fn migrate_twice_is_a_no_op(db: &TestDb) {
    let s = &db.store;
    let alice = account(plc('a'), "alice.test");
    s.create_account(&alice).expect("create");
    s.insert_signing_key(&key("k1", 1, 1)).expect("insert");
    s.migrate().expect("second migrate");
    s.migrate().expect("third migrate");
    assert_eq!(s.list_accounts().expect("list"), vec![alice]);
    assert_eq!(s.list_signing_keys().expect("list").len(), 1);
}

/// Every down.sql undoes its up.sql: revert all, migrate again, and the
/// store works on the rebuilt (empty) schema.
pub fn migrations_revert_and_reapply(db: &TestDb) {
    let s = &db.store;
    s.create_account(&account(plc('a'), "alice.test"))
        .expect("create");
    db.revert_all_migrations().expect("revert all migrations");
    s.migrate().expect("migrate again");
    assert_eq!(s.list_accounts().expect("list"), Vec::<Account>::new());
    s.create_account(&account(plc('a'), "alice.test"))
        .expect("create again");
    s.insert_signing_key(&key("k1", 1, 1)).expect("insert");
}

/// Instances starting together on a fresh database all migrate without
/// error: they take turns, and the later ones find nothing to do.
pub fn concurrent_migrations_take_turns(db: &TestDb) {
    db.revert_all_migrations().expect("revert all migrations");
    let results: Vec<_> = thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = db.store.clone();
                scope.spawn(move || s.migrate())
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    db.store
        .create_account(&account(plc('a'), "alice.test"))
        .expect("create after migrating");
}

/// Clones share the pool and so the database.
pub fn clones_share_one_database(db: &TestDb) {
    let clone = db.store.clone();
    let alice = account(plc('a'), "alice.test");
    clone.create_account(&alice).expect("create");
    assert_eq!(
        db.store.account_by_did(&alice.did).expect("by did"),
        Some(alice)
    );
}

/// `Store::ping` answers while the database does.
pub fn ping_answers(db: &TestDb) {
    assert_eq!(db.store.ping(), Ok(()));
    assert_eq!(db.store.clone().ping(), Ok(()));
}
