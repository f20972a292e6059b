//! Contract cases of `RequestStore`: authorization requests and their
//! codes. Each case quotes the sentence of the trait's contract it checks.

use std::thread;

use atauth_core::client::auth::ClientAuth;
use atauth_core::store::{
    AuthorizationParams, AuthorizationRequest, CodeConsumption, RequestStore, StoreError,
};

use super::cases::{expect_backend_error, plc};
use super::TestDb;

// ---------------------------------------------------------------- fixtures

/// A moment in the test's clock.
const T: i64 = 1_790_000_000;

/// Parameters with every optional one set.
pub(crate) fn params() -> AuthorizationParams {
    AuthorizationParams {
        redirect_uri: "https://app.example.com/callback?x=1&y=ü".to_owned(),
        scope: "atproto transition:generic".to_owned(),
        state: "st\"ate\\with\u{0}odd chars 🦋".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        response_mode: "fragment".to_owned(),
        login_hint: Some("alice.test".to_owned()),
        prompt: Some("consent".to_owned()),
        ui_locales: Some("fr-CA en".to_owned()),
        dpop_jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_owned(),
    }
}

/// A confidential client's authentication.
pub(crate) fn private_key_jwt() -> ClientAuth {
    ClientAuth::PrivateKeyJwt {
        kid: "client-key-1".to_owned(),
        alg: "ES256".to_owned(),
        jkt: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".to_owned(),
    }
}

/// A fresh request as PAR creates it: no device, no code.
pub(crate) fn request(id: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        id: id.to_owned(),
        client_id: "https://app.example.com/client-metadata.json".to_owned(),
        client_auth: private_key_jwt(),
        params: params(),
        created_at: T,
        expires_at: T + 300,
        device_id: None,
        sub: None,
        code_hash: None,
        consumed_at: None,
    }
}

fn get(db: &TestDb, id: &str) -> AuthorizationRequest {
    db.store
        .get_request(id)
        .expect("get request")
        .unwrap_or_else(|| panic!("request {id} is gone"))
}

/// A request with a code issued (hash `code_hash`, valid until T + 60).
fn with_code(db: &TestDb, id: &str, code_hash: &str) -> AuthorizationRequest {
    db.store.create_request(&request(id)).expect("create");
    assert_eq!(
        db.store.issue_code(id, &plc('a'), code_hash, T + 60),
        Ok(true)
    );
    get(db, id)
}

// ------------------------------------------------------------------ cases

/// "`create_request` inserts a new request": every field comes back as
/// written, the JSON columns (`ClientAuth`, `AuthorizationParams`) exactly.
pub fn request_round_trips_every_field(db: &TestDb) {
    let s = &db.store;
    let full = AuthorizationRequest {
        device_id: Some("dev-1".to_owned()),
        sub: Some(plc('b')),
        code_hash: Some("hash-1".to_owned()),
        consumed_at: Some(T + 5),
        ..request("req-full")
    };
    let bare = AuthorizationRequest {
        client_auth: ClientAuth::None,
        params: AuthorizationParams {
            login_hint: None,
            prompt: None,
            ui_locales: None,
            state: String::new(),
            ..params()
        },
        created_at: i64::MIN,
        expires_at: i64::MAX,
        ..request("req-bare")
    };
    s.create_request(&full).expect("create full");
    s.create_request(&bare).expect("create bare");
    assert_eq!(s.get_request("req-full"), Ok(Some(full)));
    assert_eq!(s.get_request("req-bare"), Ok(Some(bare)));
}

/// "… its id is unique": a second request with the id is
/// `Conflict("id")` and the first is kept; a taken code hash is
/// `Conflict("code_hash")`.
pub fn duplicate_request_id_conflicts_and_keeps_the_original(db: &TestDb) {
    let s = &db.store;
    let original = request("req-1");
    s.create_request(&original).expect("create");
    let again = AuthorizationRequest {
        client_id: "https://other.example.com/client.json".to_owned(),
        ..request("req-1")
    };
    assert_eq!(
        s.create_request(&again),
        Err(StoreError::Conflict("id".into()))
    );
    assert_eq!(s.get_request("req-1"), Ok(Some(original.clone())));
    // Code hashes are unique too (pinned: the trait does not say).
    with_code(db, "req-2", "h2");
    let stolen_hash = AuthorizationRequest {
        code_hash: Some("h2".to_owned()),
        ..request("req-3")
    };
    assert_eq!(
        s.create_request(&stolen_hash),
        Err(StoreError::Conflict("code_hash".into()))
    );
    assert_eq!(s.get_request("req-3"), Ok(None));
}

/// "`get_request` returns the request": none for an unknown id.
pub fn unknown_request_is_none(db: &TestDb) {
    db.store.create_request(&request("req-1")).expect("create");
    assert_eq!(db.store.get_request("req-2"), Ok(None));
    assert_eq!(db.store.get_request("REQ-1"), Ok(None));
}

/// "`get_request` returns the request whatever its state; callers check
/// expiry against their clock."
pub fn get_request_returns_it_whatever_its_state(db: &TestDb) {
    let s = &db.store;
    let expired = AuthorizationRequest {
        expires_at: 1,
        ..request("req-expired")
    };
    s.create_request(&expired).expect("create");
    assert_eq!(s.get_request("req-expired"), Ok(Some(expired)));
    with_code(db, "req-used", "h-used");
    let consumed = s.consume_code("h-used", T + 1).expect("consume");
    assert!(matches!(consumed, CodeConsumption::Consumed(_)));
    let got = get(db, "req-used");
    assert_eq!(got.consumed_at, Some(T + 1));
    assert_eq!(got.code_hash.as_deref(), Some("h-used"));
}

/// "`bind_device` sets `device_id` when it is unset and returns true, or
/// returns true when it already equals the given device; it returns false
/// (and changes nothing) when another device holds the request".
pub fn bind_device_first_use_wins(db: &TestDb) {
    let s = &db.store;
    s.create_request(&request("req-1")).expect("create");
    assert_eq!(s.bind_device("req-1", "dev-a"), Ok(true));
    let bound = get(db, "req-1");
    assert_eq!(
        bound,
        AuthorizationRequest {
            device_id: Some("dev-a".to_owned()),
            ..request("req-1")
        }
    );
    assert_eq!(s.bind_device("req-1", "dev-a"), Ok(true));
    assert_eq!(s.bind_device("req-1", "dev-b"), Ok(false));
    assert_eq!(s.bind_device("req-1", "DEV-A"), Ok(false));
    assert_eq!(get(db, "req-1"), bound);
}

/// "… it returns false (and changes nothing) when … the request has a
/// code": whether it is unbound or bound to this very device.
pub fn bind_device_is_refused_once_a_code_is_issued(db: &TestDb) {
    let s = &db.store;
    let unbound = with_code(db, "req-1", "h1");
    assert_eq!(s.bind_device("req-1", "dev-a"), Ok(false));
    assert_eq!(get(db, "req-1"), unbound);

    s.create_request(&request("req-2")).expect("create");
    assert_eq!(s.bind_device("req-2", "dev-a"), Ok(true));
    assert_eq!(s.issue_code("req-2", &plc('a'), "h2", T + 60), Ok(true));
    let bound = get(db, "req-2");
    assert_eq!(s.bind_device("req-2", "dev-a"), Ok(false));
    assert_eq!(s.bind_device("req-2", "dev-b"), Ok(false));
    assert_eq!(get(db, "req-2"), bound);
}

/// "… or it does not exist."
pub fn bind_device_of_unknown_request_is_false(db: &TestDb) {
    assert_eq!(db.store.bind_device("req-none", "dev-a"), Ok(false));
    assert_eq!(db.store.get_request("req-none"), Ok(None));
}

/// "(first use wins)": of concurrent binds by different devices exactly one
/// succeeds, and it is the one stored.
pub fn concurrent_binds_have_one_winner(db: &TestDb) {
    db.store.create_request(&request("req-1")).expect("create");
    let results: Vec<(String, bool)> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = db.store.clone();
                scope.spawn(move || {
                    let device = format!("dev-{i}");
                    let won = s.bind_device("req-1", &device).expect("bind");
                    (device, won)
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
    assert_eq!(get(db, "req-1").device_id.as_ref(), Some(&winners[0].0));
}

/// "`issue_code` stores `sub`, `code_hash` and the new `expires_at` only
/// when the request has no code yet; it returns false otherwise."
pub fn issue_code_stores_sub_hash_and_expiry_once(db: &TestDb) {
    let s = &db.store;
    s.create_request(&request("req-1")).expect("create");
    assert_eq!(s.bind_device("req-1", "dev-a"), Ok(true));
    assert_eq!(s.issue_code("req-1", &plc('a'), "h1", T + 60), Ok(true));
    let issued = AuthorizationRequest {
        device_id: Some("dev-a".to_owned()),
        sub: Some(plc('a')),
        code_hash: Some("h1".to_owned()),
        expires_at: T + 60,
        ..request("req-1")
    };
    assert_eq!(get(db, "req-1"), issued);
    assert_eq!(s.issue_code("req-1", &plc('b'), "h2", T + 600), Ok(false));
    assert_eq!(s.issue_code("req-1", &plc('a'), "h1", T + 60), Ok(false));
    assert_eq!(get(db, "req-1"), issued);
    assert_eq!(
        s.consume_code("h2", T).expect("consume"),
        CodeConsumption::Unknown
    );
}

/// "… it returns false otherwise": an unknown request has no code to give.
pub fn issue_code_of_unknown_request_is_false(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.issue_code("req-none", &plc('a'), "h1", T + 60), Ok(false));
    assert_eq!(
        s.consume_code("h1", T).expect("consume"),
        CodeConsumption::Unknown
    );
}

/// Code hashes are unique (the trait does not say what a collision does;
/// this pins it): issuing a hash another request holds is
/// `Conflict("code_hash")` and changes nothing.
pub fn issue_code_with_a_taken_hash_conflicts(db: &TestDb) {
    let s = &db.store;
    let first = with_code(db, "req-1", "h1");
    s.create_request(&request("req-2")).expect("create");
    assert_eq!(
        s.issue_code("req-2", &plc('b'), "h1", T + 60),
        Err(StoreError::Conflict("code_hash".into()))
    );
    assert_eq!(get(db, "req-2"), request("req-2"));
    assert_eq!(get(db, "req-1"), first);
}

/// "exactly one gets `Consumed` (when `now < expires_at` and not yet
/// consumed); every later … call … gets `Reused` with the request".
pub fn consume_code_once_then_reused(db: &TestDb) {
    let s = &db.store;
    let issued = with_code(db, "req-1", "h1");
    let consumed = AuthorizationRequest {
        consumed_at: Some(T + 59),
        ..issued
    };
    assert_eq!(
        s.consume_code("h1", T + 59),
        Ok(CodeConsumption::Consumed(consumed.clone()))
    );
    assert_eq!(
        s.consume_code("h1", T + 59),
        Ok(CodeConsumption::Reused(consumed.clone()))
    );
    assert_eq!(
        s.consume_code("h1", T + 10_000),
        Ok(CodeConsumption::Reused(consumed.clone()))
    );
    assert_eq!(get(db, "req-1"), consumed);
}

/// "… and any call after expiry, gets `Reused` with the request": at
/// `now == expires_at` already, and the code is not consumed by it.
pub fn consume_code_after_expiry_is_reused(db: &TestDb) {
    let s = &db.store;
    let issued = with_code(db, "req-1", "h1");
    assert_eq!(issued.expires_at, T + 60);
    assert_eq!(
        s.consume_code("h1", T + 60),
        Ok(CodeConsumption::Reused(issued.clone()))
    );
    assert_eq!(
        s.consume_code("h1", T + 61),
        Ok(CodeConsumption::Reused(issued.clone()))
    );
    assert_eq!(get(db, "req-1"), issued);
}

/// "an unknown hash gets `Unknown`", also when requests without codes
/// exist (a NULL hash matches nothing).
pub fn consume_unknown_code_is_unknown(db: &TestDb) {
    let s = &db.store;
    s.create_request(&request("req-1")).expect("create");
    with_code(db, "req-2", "h2");
    for hash in ["h1", "", "H2", "h2 "] {
        assert_eq!(
            s.consume_code(hash, T),
            Ok(CodeConsumption::Unknown),
            "{hash:?}"
        );
    }
    assert_eq!(get(db, "req-1"), request("req-1"));
}

/// "`consume_code` is atomic: of concurrent calls with one code hash,
/// exactly one gets `Consumed` …; every … concurrent call … gets `Reused`".
pub fn concurrent_consumes_have_one_winner(db: &TestDb) {
    with_code(db, "req-1", "h1");
    let results: Vec<CodeConsumption> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = db.store.clone();
                scope.spawn(move || s.consume_code("h1", T + 1).expect("consume"))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    let consumed = results
        .iter()
        .filter(|r| matches!(r, CodeConsumption::Consumed(_)))
        .count();
    let reused: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            CodeConsumption::Reused(req) => Some(req),
            _ => None,
        })
        .collect();
    assert_eq!(consumed, 1, "{results:?}");
    assert_eq!(reused.len(), 7, "{results:?}");
    for req in reused {
        assert_eq!(req.id, "req-1");
    }
    assert_eq!(get(db, "req-1").consumed_at, Some(T + 1));
}

/// "`delete_request` removes a request": it, and its code, are gone.
/// Returns whether there was one.
pub fn delete_request_reports_whether_there_was_one(db: &TestDb) {
    let s = &db.store;
    with_code(db, "req-1", "h1");
    s.create_request(&request("req-2")).expect("create");
    assert_eq!(s.delete_request("req-1"), Ok(true));
    assert_eq!(s.get_request("req-1"), Ok(None));
    assert_eq!(s.consume_code("h1", T), Ok(CodeConsumption::Unknown));
    assert_eq!(s.delete_request("req-1"), Ok(false));
    assert_eq!(s.get_request("req-2"), Ok(Some(request("req-2"))));
}

/// "`purge_expired_requests` removes requests whose `expires_at` is more
/// than `grace_secs` in the past and returns how many."
pub fn purge_expired_requests_keeps_the_grace_period(db: &TestDb) {
    let s = &db.store;
    let now = T + 1000;
    let grace = 100;
    for (id, expires_at) in [
        ("req-long-gone", now - grace - 500),
        ("req-just-past-grace", now - grace - 1),
        ("req-at-grace", now - grace),
        ("req-in-grace", now - 1),
        ("req-now", now),
        ("req-live", now + 60),
    ] {
        s.create_request(&AuthorizationRequest {
            expires_at,
            ..request(id)
        })
        .expect("create");
    }
    assert_eq!(s.purge_expired_requests(now, grace), Ok(2));
    assert_eq!(s.get_request("req-long-gone"), Ok(None));
    assert_eq!(s.get_request("req-just-past-grace"), Ok(None));
    for id in ["req-at-grace", "req-in-grace", "req-now", "req-live"] {
        assert!(s.get_request(id).expect("get").is_some(), "{id} was purged");
    }
    assert_eq!(s.purge_expired_requests(now, grace), Ok(0));
    assert_eq!(s.purge_expired_requests(now, 0), Ok(2));
}

/// A JSON column the store would never write is a `Backend` error naming
/// the column, not a panic.
pub fn invalid_request_json_in_database_is_backend_error(db: &TestDb) {
    db.store.create_request(&request("req-1")).expect("create");
    db.store.create_request(&request("req-2")).expect("create");
    db.raw_execute("UPDATE authorization_requests SET client_auth = '{\"method\":\"magic\"}' WHERE id = 'req-1'")
        .expect("raw update");
    db.raw_execute("UPDATE authorization_requests SET params = 'not json' WHERE id = 'req-2'")
        .expect("raw update");
    expect_backend_error(
        db.store.get_request("req-1"),
        "authorization_requests.client_auth",
    );
    expect_backend_error(
        db.store.get_request("req-2"),
        "authorization_requests.params",
    );
}

/// Likewise for a `sub` that is not a DID.
pub fn invalid_request_sub_in_database_is_backend_error(db: &TestDb) {
    with_code(db, "req-1", "h1");
    db.raw_execute("UPDATE authorization_requests SET sub = 'did:nope:x' WHERE id = 'req-1'")
        .expect("raw update");
    expect_backend_error(db.store.get_request("req-1"), "authorization_requests.sub");
    expect_backend_error(db.store.consume_code("h1", T), "authorization_requests.sub");
}
