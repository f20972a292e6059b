//! The one-time rules of the in-memory store, and its lock. The full
//! contract suite lives in atauth-store; these cover what the flow tests
//! lean on: single consumption, compare-and-swap rotation, no panic.

use std::sync::Arc;
use std::thread;

use super::*;
use crate::client::auth::ClientAuth;
use crate::store::AuthorizationParams;

fn did() -> Did {
    Did::parse("did:plc:abcdefghijklmnopqrstuvwx").unwrap()
}

fn request(id: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        id: id.into(),
        client_id: "http://localhost".into(),
        client_auth: ClientAuth::None,
        params: AuthorizationParams {
            redirect_uri: "http://127.0.0.1/".into(),
            scope: "atproto".into(),
            state: "s".into(),
            code_challenge: "c".repeat(43),
            response_mode: "query".into(),
            login_hint: None,
            prompt: None,
            ui_locales: None,
            dpop_jkt: "j".repeat(43),
        },
        created_at: 100,
        expires_at: 400,
        device_id: None,
        sub: None,
        code_hash: None,
        consumed_at: None,
    }
}

fn session(id: &str, refresh: &str) -> OAuthSession {
    OAuthSession {
        id: id.into(),
        did: did(),
        client_id: "http://localhost".into(),
        client_auth: ClientAuth::None,
        scope: "atproto".into(),
        dpop_jkt: "j".repeat(43),
        request_id: "req-1".into(),
        created_at: 100,
        expires_at: 10_000,
        refresh_hash: Some(refresh.into()),
        refresh_expires_at: Some(10_000),
        previous_refresh_hash: None,
        rotated_at: None,
        last_used_at: 100,
    }
}

#[test]
fn consume_code_once_then_reused_then_unknown() {
    let s = MemoryStore::new();
    s.create_request(&request("req-1")).unwrap();
    assert!(s.issue_code("req-1", &did(), "h1", 200).unwrap());
    assert!(
        !s.issue_code("req-1", &did(), "h2", 200).unwrap(),
        "a request gets one code"
    );
    assert!(
        matches!(s.consume_code("h1", 150).unwrap(), CodeConsumption::Consumed(r) if r.consumed_at == Some(150))
    );
    assert!(
        matches!(s.consume_code("h1", 151).unwrap(), CodeConsumption::Reused(r) if r.id == "req-1")
    );
    assert_eq!(
        s.consume_code("nope", 151).unwrap(),
        CodeConsumption::Unknown
    );
}

#[test]
fn expired_code_is_reused_not_consumed() {
    let s = MemoryStore::new();
    s.create_request(&request("req-1")).unwrap();
    assert!(s.issue_code("req-1", &did(), "h1", 200).unwrap());
    assert!(
        matches!(s.consume_code("h1", 200).unwrap(), CodeConsumption::Reused(r) if r.consumed_at.is_none())
    );
}

#[test]
fn concurrent_consumptions_admit_exactly_one() {
    let s = Arc::new(MemoryStore::new());
    s.create_request(&request("req-1")).unwrap();
    assert!(s.issue_code("req-1", &did(), "h1", 200).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            thread::spawn(move || {
                matches!(
                    s.consume_code("h1", 150).unwrap(),
                    CodeConsumption::Consumed(_)
                )
            })
        })
        .collect();
    let winners = handles
        .into_iter()
        .filter_map(|h| h.join().ok())
        .filter(|w| *w)
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn bind_device_first_use_wins_and_stops_at_the_code() {
    let s = MemoryStore::new();
    s.create_request(&request("req-1")).unwrap();
    assert!(s.bind_device("req-1", "dev-a").unwrap());
    assert!(s.bind_device("req-1", "dev-a").unwrap());
    assert!(!s.bind_device("req-1", "dev-b").unwrap());
    assert!(s.issue_code("req-1", &did(), "h1", 200).unwrap());
    assert!(!s.bind_device("req-1", "dev-a").unwrap());
    assert!(!s.bind_device("req-2", "dev-a").unwrap());
}

#[test]
fn rotate_refresh_is_compare_and_swap() {
    let s = MemoryStore::new();
    s.create_session(&session("ses-1", "r1")).unwrap();
    assert!(s.rotate_refresh("ses-1", "r1", "r2", 5000, 200).unwrap());
    assert!(
        !s.rotate_refresh("ses-1", "r1", "r3", 5000, 201).unwrap(),
        "the old hash no longer rotates"
    );
    let after = s.session_by_id("ses-1").unwrap().unwrap();
    assert_eq!(after.refresh_hash.as_deref(), Some("r2"));
    assert_eq!(after.previous_refresh_hash.as_deref(), Some("r1"));
    assert_eq!(
        (
            after.rotated_at,
            after.last_used_at,
            after.refresh_expires_at
        ),
        (Some(200), 200, Some(5000))
    );
    assert!(matches!(
        s.find_refresh("r1").unwrap(),
        RefreshLookup::Previous(_)
    ));
    assert!(matches!(
        s.find_refresh("r2").unwrap(),
        RefreshLookup::Current(_)
    ));
}

#[test]
fn concurrent_rotations_from_one_hash_admit_at_most_one() {
    let s = Arc::new(MemoryStore::new());
    s.create_session(&session("ses-1", "r1")).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            thread::spawn(move || {
                s.rotate_refresh("ses-1", "r1", &format!("n{i}"), 5000, 200)
                    .unwrap()
            })
        })
        .collect();
    let winners = handles
        .into_iter()
        .filter_map(|h| h.join().ok())
        .filter(|w| *w)
        .count();
    assert_eq!(winners, 1);
}

#[test]
fn deleted_session_is_found_by_nothing() {
    let s = MemoryStore::new();
    s.create_session(&session("ses-1", "r1")).unwrap();
    assert!(s.rotate_refresh("ses-1", "r1", "r2", 5000, 200).unwrap());
    assert_eq!(s.delete_session("ses-1").unwrap(), 1);
    assert_eq!(s.delete_session("ses-1").unwrap(), 0);
    assert!(s.session_by_id("ses-1").unwrap().is_none());
    assert_eq!(s.find_refresh("r1").unwrap(), RefreshLookup::Unknown);
    assert_eq!(s.find_refresh("r2").unwrap(), RefreshLookup::Unknown);
}

#[test]
fn duplicate_refresh_hash_conflicts() {
    let s = MemoryStore::new();
    s.create_session(&session("ses-1", "r1")).unwrap();
    assert_eq!(
        s.create_session(&session("ses-2", "r1")),
        Err(StoreError::Conflict("refresh_hash".into()))
    );
    assert_eq!(
        s.create_session(&session("ses-1", "r9")),
        Err(StoreError::Conflict("id".into()))
    );
}

#[test]
fn upsert_authorized_client_keeps_first_created_at() {
    let s = MemoryStore::new();
    s.upsert_authorized_client(&did(), "c", "atproto", 10)
        .unwrap();
    s.upsert_authorized_client(&did(), "c", "atproto transition:generic", 20)
        .unwrap();
    let a = s.authorized_client(&did(), "c").unwrap().unwrap();
    assert_eq!(
        (a.scope.as_str(), a.created_at, a.updated_at),
        ("atproto transition:generic", 10, 20)
    );
}

#[test]
fn trusted_clients_follow_the_contract() {
    let s = MemoryStore::new();
    assert_eq!(
        s.add_trusted_client("https://b.example/c.json", 10),
        Ok(true)
    );
    assert_eq!(
        s.add_trusted_client("https://b.example/c.json", 20),
        Ok(false)
    );
    assert_eq!(
        s.add_trusted_client("https://B.example/c.json", 30),
        Ok(true)
    );
    assert_eq!(s.is_trusted_client("https://b.example/c.json"), Ok(true));
    assert_eq!(s.is_trusted_client("https://b.example/c"), Ok(false));
    let listed = s.trusted_clients().unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.client_id.as_str(), c.created_at))
            .collect::<Vec<_>>(),
        [
            ("https://B.example/c.json", 30),
            ("https://b.example/c.json", 10)
        ]
    );
    assert_eq!(
        s.remove_trusted_client("https://b.example/c.json"),
        Ok(true)
    );
    assert_eq!(
        s.remove_trusted_client("https://b.example/c.json"),
        Ok(false)
    );
}

#[test]
fn poisoned_lock_is_a_backend_error_not_a_panic() {
    let s = Arc::new(MemoryStore::new());
    let s2 = s.clone();
    let _ = thread::spawn(move || {
        let _guard = s2.tables.lock();
        panic!("poison the lock");
    })
    .join();
    assert!(matches!(s.session_by_id("x"), Err(StoreError::Backend(_))));
    assert!(matches!(
        s.consume_code("x", 0),
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(s.list_accounts(), Err(StoreError::Backend(_))));
}
