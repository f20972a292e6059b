//! Contract cases of `SessionStore`: OAuth sessions and their rotating
//! refresh tokens. Each case quotes the sentence of the trait's contract it
//! checks.

use std::thread;

use atauth_core::client::auth::ClientAuth;
use atauth_core::identity::Did;
use atauth_core::store::{AccountStore, OAuthSession, RefreshLookup, SessionStore, StoreError};

use super::cases::{account, expect_backend_error, plc};
use super::requests::private_key_jwt;
use super::TestDb;

// ---------------------------------------------------------------- fixtures

/// A moment in the test's clock.
const T: i64 = 1_790_000_000;

const CLIENT: &str = "https://app.example.com/client-metadata.json";
const OTHER_CLIENT: &str = "https://other.example.org/oauth/client.json";

/// A session of `did` with the refresh token hash `refresh`.
pub(crate) fn session(id: &str, did: Did, refresh: Option<&str>) -> OAuthSession {
    OAuthSession {
        id: id.to_owned(),
        did,
        client_id: CLIENT.to_owned(),
        client_auth: private_key_jwt(),
        scope: "atproto transition:generic".to_owned(),
        dpop_jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_owned(),
        request_id: format!("req-of-{id}"),
        created_at: T,
        expires_at: T + 86_400,
        refresh_hash: refresh.map(str::to_owned),
        refresh_expires_at: refresh.map(|_| T + 3_600),
        previous_refresh_hash: None,
        rotated_at: None,
        last_used_at: T,
    }
}

/// Create the accounts `plc('a')` (alice) and `plc('b')` (bob).
pub(crate) fn alice_and_bob(db: &TestDb) {
    db.store
        .create_account(&account(plc('a'), "alice.test"))
        .expect("create alice");
    db.store
        .create_account(&account(plc('b'), "bob.test"))
        .expect("create bob");
}

fn create(db: &TestDb, session: &OAuthSession) {
    db.store.create_session(session).expect("create session");
}

fn get(db: &TestDb, id: &str) -> OAuthSession {
    db.store
        .session_by_id(id)
        .expect("session by id")
        .unwrap_or_else(|| panic!("session {id} is gone"))
}

fn ids(sessions: &[OAuthSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.id.as_str()).collect()
}

// ------------------------------------------------------------------ cases

/// "`create_session` inserts a new session": every field comes back as
/// written, `ClientAuth` exactly.
pub fn session_round_trips_every_field(db: &TestDb) {
    alice_and_bob(db);
    let full = OAuthSession {
        previous_refresh_hash: Some("r0".to_owned()),
        rotated_at: Some(T + 10),
        last_used_at: T + 10,
        ..session("ses-full", plc('a'), Some("r1"))
    };
    let public = OAuthSession {
        client_auth: ClientAuth::None,
        expires_at: i64::MAX,
        ..session("ses-public", plc('b'), None)
    };
    create(db, &full);
    create(db, &public);
    assert_eq!(db.store.session_by_id("ses-full"), Ok(Some(full)));
    assert_eq!(db.store.session_by_id("ses-public"), Ok(Some(public)));
}

/// "(unique id, …)": a second session with the id is `Conflict("id")` and
/// the first is kept.
pub fn duplicate_session_id_conflicts_and_keeps_the_original(db: &TestDb) {
    alice_and_bob(db);
    let original = session("ses-1", plc('a'), Some("r1"));
    create(db, &original);
    assert_eq!(
        db.store
            .create_session(&session("ses-1", plc('b'), Some("r1"))),
        Err(StoreError::Conflict("id".into()))
    );
    assert_eq!(
        db.store
            .create_session(&session("ses-1", plc('b'), Some("r2"))),
        Err(StoreError::Conflict("id".into()))
    );
    assert_eq!(db.store.session_by_id("ses-1"), Ok(Some(original)));
    assert_eq!(db.store.find_refresh("r2"), Ok(RefreshLookup::Unknown));
}

/// "(… unique refresh hash)": `Conflict("refresh_hash")`, nothing written.
pub fn duplicate_refresh_hash_conflicts(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    assert_eq!(
        db.store
            .create_session(&session("ses-2", plc('b'), Some("r1"))),
        Err(StoreError::Conflict("refresh_hash".into()))
    );
    assert_eq!(db.store.session_by_id("ses-2"), Ok(None));
}

/// Sessions of clients that get no refresh tokens have no hash, and any
/// number of them coexist.
pub fn sessions_without_refresh_tokens_coexist(db: &TestDb) {
    alice_and_bob(db);
    for id in ["ses-1", "ses-2", "ses-3"] {
        create(db, &session(id, plc('a'), None));
    }
    assert_eq!(db.store.list_sessions(None, None).expect("list").len(), 3);
}

/// "`session_by_id` returns it while it exists": none for an unknown id.
pub fn unknown_session_is_none(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    assert_eq!(db.store.session_by_id("ses-2"), Ok(None));
    assert_eq!(db.store.session_by_id("SES-1"), Ok(None));
}

/// "`find_refresh` finds a session by its current or previous refresh
/// hash, saying which."
pub fn find_refresh_says_current_previous_or_unknown(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    create(db, &session("ses-2", plc('b'), Some("r2")));
    create(db, &session("ses-3", plc('b'), None));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r1b", T + 7_200, T + 50),
        Ok(true)
    );
    let rotated = get(db, "ses-1");
    assert_eq!(
        db.store.find_refresh("r1b"),
        Ok(RefreshLookup::Current(rotated.clone()))
    );
    assert_eq!(
        db.store.find_refresh("r1"),
        Ok(RefreshLookup::Previous(rotated))
    );
    assert_eq!(
        db.store.find_refresh("r2"),
        Ok(RefreshLookup::Current(get(db, "ses-2")))
    );
    for unknown in ["r3", "", "R1B"] {
        assert_eq!(
            db.store.find_refresh(unknown),
            Ok(RefreshLookup::Unknown),
            "{unknown:?}"
        );
    }
}

/// "`rotate_refresh` … replaces the refresh hash only if the current one
/// equals `expected_hash`, moving the old one to `previous_refresh_hash`
/// and setting `rotated_at` and `last_used_at` to `now`". Nothing else
/// changes.
pub fn rotate_refresh_swaps_and_keeps_the_old_as_previous(db: &TestDb) {
    alice_and_bob(db);
    let original = session("ses-1", plc('a'), Some("r1"));
    create(db, &original);
    create(db, &session("ses-2", plc('a'), Some("r2")));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r1b", T + 7_200, T + 50),
        Ok(true)
    );
    let once = OAuthSession {
        refresh_hash: Some("r1b".to_owned()),
        refresh_expires_at: Some(T + 7_200),
        previous_refresh_hash: Some("r1".to_owned()),
        rotated_at: Some(T + 50),
        last_used_at: T + 50,
        ..original
    };
    assert_eq!(get(db, "ses-1"), once);
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1b", "r1c", T + 9_000, T + 90),
        Ok(true)
    );
    let twice = OAuthSession {
        refresh_hash: Some("r1c".to_owned()),
        refresh_expires_at: Some(T + 9_000),
        previous_refresh_hash: Some("r1b".to_owned()),
        rotated_at: Some(T + 90),
        last_used_at: T + 90,
        ..once
    };
    assert_eq!(get(db, "ses-1"), twice);
    assert_eq!(db.store.find_refresh("r1"), Ok(RefreshLookup::Unknown));
    assert_eq!(get(db, "ses-2"), session("ses-2", plc('a'), Some("r2")));
}

/// "… the others get false and change nothing": a stale hash, another
/// session's hash, an unknown session, a session without refresh tokens.
pub fn rotate_refresh_from_a_stale_hash_changes_nothing(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    create(db, &session("ses-2", plc('a'), Some("r2")));
    create(db, &session("ses-3", plc('a'), None));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r1b", T + 7_200, T + 50),
        Ok(true)
    );
    let after = get(db, "ses-1");
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r1x", T + 9_999, T + 60),
        Ok(false)
    );
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r2", "r1y", T + 9_999, T + 60),
        Ok(false)
    );
    assert_eq!(
        db.store
            .rotate_refresh("ses-9", "r1b", "r1z", T + 9_999, T + 60),
        Ok(false)
    );
    assert_eq!(
        db.store
            .rotate_refresh("ses-3", "", "r3", T + 9_999, T + 60),
        Ok(false)
    );
    assert_eq!(get(db, "ses-1"), after);
    assert_eq!(get(db, "ses-3"), session("ses-3", plc('a'), None));
    for never in ["r1x", "r1y", "r1z", "r3"] {
        assert_eq!(db.store.find_refresh(never), Ok(RefreshLookup::Unknown));
    }
}

/// "… of concurrent rotations from one hash at most one succeeds (true),
/// the others get false and change nothing": exactly one here, since the
/// hash is current when they start.
pub fn concurrent_rotations_have_one_winner(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    let results: Vec<(String, bool)> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = db.store.clone();
                scope.spawn(move || {
                    let new_hash = format!("r1-{i}");
                    let won = s
                        .rotate_refresh("ses-1", "r1", &new_hash, T + 7_200, T + i)
                        .expect("rotate");
                    (new_hash, won)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    let winners: Vec<_> = results.iter().filter(|(_, won)| *won).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let now = get(db, "ses-1");
    assert_eq!(now.refresh_hash.as_ref(), Some(&winners[0].0));
    assert_eq!(now.previous_refresh_hash.as_deref(), Some("r1"));
    for (hash, won) in &results {
        if !won {
            assert_eq!(db.store.find_refresh(hash), Ok(RefreshLookup::Unknown));
        }
    }
}

/// Rotating to a hash another session holds breaks "unique refresh hash":
/// `Conflict("refresh_hash")`, and the session keeps its token (pinned
/// here; the trait does not say).
pub fn rotate_refresh_to_a_taken_hash_conflicts(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    create(db, &session("ses-2", plc('a'), Some("r2")));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r2", T + 7_200, T + 50),
        Err(StoreError::Conflict("refresh_hash".into()))
    );
    assert_eq!(get(db, "ses-1"), session("ses-1", plc('a'), Some("r1")));
}

/// "`touch_session` sets `last_used_at`" and nothing else; touching an
/// unknown session is not an error.
pub fn touch_session_sets_last_used_at_only(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    create(db, &session("ses-2", plc('a'), Some("r2")));
    assert_eq!(db.store.touch_session("ses-1", T + 500), Ok(()));
    assert_eq!(
        get(db, "ses-1"),
        OAuthSession {
            last_used_at: T + 500,
            ..session("ses-1", plc('a'), Some("r1"))
        }
    );
    assert_eq!(get(db, "ses-2"), session("ses-2", plc('a'), Some("r2")));
    assert_eq!(db.store.touch_session("ses-none", T + 500), Ok(()));
    assert_eq!(db.store.session_by_id("ses-none"), Ok(None));
}

/// "`delete_session` … remove[s] sessions (revocation) and return[s] how
/// many; afterwards neither `session_by_id` nor `find_refresh` finds them"
/// (by the current or the previous hash).
pub fn deleted_session_is_found_by_nothing(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    create(db, &session("ses-2", plc('a'), Some("r2")));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1", "r1b", T + 7_200, T + 50),
        Ok(true)
    );
    assert_eq!(db.store.delete_session("ses-1"), Ok(1));
    assert_eq!(db.store.session_by_id("ses-1"), Ok(None));
    assert_eq!(db.store.find_refresh("r1b"), Ok(RefreshLookup::Unknown));
    assert_eq!(db.store.find_refresh("r1"), Ok(RefreshLookup::Unknown));
    assert_eq!(
        db.store
            .rotate_refresh("ses-1", "r1b", "r1c", T + 7_200, T + 60),
        Ok(false)
    );
    assert_eq!(db.store.delete_session("ses-1"), Ok(0));
    assert_eq!(db.store.list_sessions(None, None).map(|l| l.len()), Ok(1));
}

/// "`delete_sessions_for_request` remove[s] sessions … and return[s] how
/// many; afterwards neither `session_by_id` nor `find_refresh` finds them."
pub fn delete_sessions_for_request_counts(db: &TestDb) {
    alice_and_bob(db);
    let shared = |id: &str, refresh: &str| OAuthSession {
        request_id: "req-shared".to_owned(),
        ..session(id, plc('a'), Some(refresh))
    };
    create(db, &shared("ses-1", "r1"));
    create(db, &shared("ses-2", "r2"));
    create(db, &session("ses-3", plc('a'), Some("r3")));
    assert_eq!(db.store.delete_sessions_for_request("req-shared"), Ok(2));
    for (id, refresh) in [("ses-1", "r1"), ("ses-2", "r2")] {
        assert_eq!(db.store.session_by_id(id), Ok(None));
        assert_eq!(db.store.find_refresh(refresh), Ok(RefreshLookup::Unknown));
    }
    assert!(db.store.session_by_id("ses-3").expect("get").is_some());
    assert_eq!(db.store.delete_sessions_for_request("req-shared"), Ok(0));
}

/// "`delete_sessions_for` remove[s] sessions … and return[s] how many":
/// an account's, optionally only those of one client.
pub fn delete_sessions_for_account_and_client(db: &TestDb) {
    alice_and_bob(db);
    let of = |id: &str, did: Did, client: &str| OAuthSession {
        client_id: client.to_owned(),
        ..session(id, did, Some(&format!("r-{id}")))
    };
    create(db, &of("ses-a1", plc('a'), CLIENT));
    create(db, &of("ses-a2", plc('a'), CLIENT));
    create(db, &of("ses-a3", plc('a'), OTHER_CLIENT));
    create(db, &of("ses-b1", plc('b'), CLIENT));
    assert_eq!(db.store.delete_sessions_for(&plc('a'), Some(CLIENT)), Ok(2));
    assert_eq!(db.store.session_by_id("ses-a1"), Ok(None));
    assert_eq!(
        db.store.find_refresh("r-ses-a2"),
        Ok(RefreshLookup::Unknown)
    );
    assert!(db.store.session_by_id("ses-a3").expect("get").is_some());
    assert!(db.store.session_by_id("ses-b1").expect("get").is_some());
    assert_eq!(db.store.delete_sessions_for(&plc('a'), None), Ok(1));
    assert_eq!(db.store.session_by_id("ses-a3"), Ok(None));
    assert_eq!(db.store.delete_sessions_for(&plc('a'), None), Ok(0));
    assert_eq!(
        ids(&db.store.list_sessions(None, None).expect("list")),
        ["ses-b1"]
    );
}

/// "`list_sessions` lists sessions, newest first, optionally filtered by
/// account and client" (ties by id, byte order).
pub fn list_sessions_newest_first_with_filters(db: &TestDb) {
    alice_and_bob(db);
    let at = |id: &str, did: Did, client: &str, created_at: i64| OAuthSession {
        client_id: client.to_owned(),
        created_at,
        ..session(id, did, None)
    };
    assert_eq!(db.store.list_sessions(None, None), Ok(vec![]));
    create(db, &at("ses-old", plc('a'), CLIENT, T));
    create(db, &at("ses-new", plc('a'), OTHER_CLIENT, T + 20));
    create(db, &at("ses-mid", plc('b'), CLIENT, T + 10));
    create(db, &at("ses-Tie", plc('a'), CLIENT, T + 10));
    create(db, &at("ses-tie", plc('a'), CLIENT, T + 10));
    let all = db.store.list_sessions(None, None).expect("list");
    assert_eq!(
        ids(&all),
        ["ses-new", "ses-Tie", "ses-mid", "ses-tie", "ses-old"]
    );
    assert_eq!(all[0], at("ses-new", plc('a'), OTHER_CLIENT, T + 20));
    let alices = db.store.list_sessions(Some(&plc('a')), None).expect("list");
    assert_eq!(ids(&alices), ["ses-new", "ses-Tie", "ses-tie", "ses-old"]);
    let clients = db.store.list_sessions(None, Some(CLIENT)).expect("list");
    assert_eq!(ids(&clients), ["ses-Tie", "ses-mid", "ses-tie", "ses-old"]);
    let both = db
        .store
        .list_sessions(Some(&plc('a')), Some(CLIENT))
        .expect("list");
    assert_eq!(ids(&both), ["ses-Tie", "ses-tie", "ses-old"]);
    assert_eq!(db.store.list_sessions(Some(&plc('c')), None), Ok(vec![]));
}

/// "`purge_expired_sessions` removes sessions with `expires_at <= now`"
/// and returns how many.
pub fn purge_expired_sessions_removes_ended_ones(db: &TestDb) {
    alice_and_bob(db);
    let ending = |id: &str, expires_at: i64| OAuthSession {
        expires_at,
        ..session(id, plc('a'), Some(&format!("r-{id}")))
    };
    let now = T + 1_000;
    create(db, &ending("ses-gone", now - 1));
    create(db, &ending("ses-now", now));
    create(db, &ending("ses-live", now + 1));
    assert_eq!(db.store.purge_expired_sessions(now), Ok(2));
    assert_eq!(db.store.session_by_id("ses-gone"), Ok(None));
    assert_eq!(
        db.store.find_refresh("r-ses-now"),
        Ok(RefreshLookup::Unknown)
    );
    assert!(db.store.session_by_id("ses-live").expect("get").is_some());
    assert_eq!(db.store.purge_expired_sessions(now), Ok(0));
}

/// A session belongs to an account: one for a DID with no account is a
/// `Backend` error and is not written (pinned here; the trait does not
/// say).
pub fn session_for_unknown_account_is_backend_error(db: &TestDb) {
    alice_and_bob(db);
    expect_backend_error(
        db.store
            .create_session(&session("ses-1", plc('z'), Some("r1"))),
        "not an account",
    );
    assert_eq!(db.store.session_by_id("ses-1"), Ok(None));
}

/// A `client_auth` the store would never write is a `Backend` error naming
/// the column, not a panic.
pub fn invalid_session_json_in_database_is_backend_error(db: &TestDb) {
    alice_and_bob(db);
    create(db, &session("ses-1", plc('a'), Some("r1")));
    db.raw_execute("UPDATE oauth_sessions SET client_auth = '[]' WHERE id = 'ses-1'")
        .expect("raw update");
    expect_backend_error(
        db.store.session_by_id("ses-1"),
        "oauth_sessions.client_auth",
    );
    expect_backend_error(db.store.find_refresh("r1"), "oauth_sessions.client_auth");
    expect_backend_error(
        db.store.list_sessions(None, None),
        "oauth_sessions.client_auth",
    );
}
