//! Contract cases of `DeviceStore` and `AuthorizedClientStore`, and of
//! what deleting an account takes with it. Each case quotes the sentence
//! of the trait's contract it checks.

use atauth_core::identity::Did;
use atauth_core::store::{
    AccountStore, AuthorizedClient, AuthorizedClientStore, Device, DeviceAccount, DeviceStore,
    RefreshLookup, SessionStore, StoreError,
};

use super::cases::{expect_backend_error, plc};
use super::sessions::{alice_and_bob, session};
use super::TestDb;

// ---------------------------------------------------------------- fixtures

/// A moment in the test's clock.
const T: i64 = 1_790_000_000;

const CLIENT: &str = "https://app.example.com/client-metadata.json";
const OTHER_CLIENT: &str = "https://other.example.org/oauth/client.json";

fn device(id: &str, secret_hash: &str) -> Device {
    Device {
        id: id.to_owned(),
        secret_hash: secret_hash.to_owned(),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".to_owned()),
        ip: Some("2001:db8::1".to_owned()),
        created_at: T,
        last_seen_at: T,
    }
}

fn sign_in(device_id: &str, did: Did, authenticated_at: i64, remember: bool) -> DeviceAccount {
    DeviceAccount {
        device_id: device_id.to_owned(),
        did,
        authenticated_at,
        remember,
    }
}

fn create(db: &TestDb, d: &Device) {
    db.store.create_device(d).expect("create device");
}

fn upsert(db: &TestDb, a: &DeviceAccount) {
    db.store.upsert_device_account(a).expect("sign in");
}

fn approval(
    did: Did,
    client_id: &str,
    scope: &str,
    created_at: i64,
    updated_at: i64,
) -> AuthorizedClient {
    AuthorizedClient {
        did,
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        created_at,
        updated_at,
    }
}

fn client_ids(list: &[AuthorizedClient]) -> Vec<&str> {
    list.iter().map(|c| c.client_id.as_str()).collect()
}

// ------------------------------------------------------------ DeviceStore

/// "`create_device` inserts; `device_by_secret` finds by secret hash":
/// every field comes back, and an unknown hash finds nothing.
pub fn create_device_then_find_by_secret(db: &TestDb) {
    let full = device("dev-1", "s1");
    let bare = Device {
        user_agent: None,
        ip: None,
        ..device("dev-2", "s2")
    };
    create(db, &full);
    create(db, &bare);
    assert_eq!(db.store.device_by_secret("s1"), Ok(Some(full)));
    assert_eq!(db.store.device_by_secret("s2"), Ok(Some(bare)));
    assert_eq!(db.store.device_by_secret("S1"), Ok(None));
    assert_eq!(db.store.device_by_secret("dev-1"), Ok(None));
}

/// Device ids and secret hashes are unique: `Conflict("id")` (which wins
/// when both collide) or `Conflict("secret_hash")`, nothing written.
pub fn duplicate_device_id_or_secret_conflicts(db: &TestDb) {
    create(db, &device("dev-1", "s1"));
    assert_eq!(
        db.store.create_device(&device("dev-1", "s2")),
        Err(StoreError::Conflict("id".into()))
    );
    assert_eq!(
        db.store.create_device(&device("dev-1", "s1")),
        Err(StoreError::Conflict("id".into()))
    );
    assert_eq!(
        db.store.create_device(&device("dev-2", "s1")),
        Err(StoreError::Conflict("secret_hash".into()))
    );
    assert_eq!(db.store.device_by_secret("s2"), Ok(None));
    assert_eq!(
        db.store.device_by_secret("s1"),
        Ok(Some(device("dev-1", "s1")))
    );
}

/// "`rotate_device_secret` replaces the secret hash …; the old hash no
/// longer finds the device." / "False if no such device."
pub fn rotated_device_secret_no_longer_finds(db: &TestDb) {
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    assert_eq!(db.store.rotate_device_secret("dev-1", "s1b"), Ok(true));
    assert_eq!(db.store.device_by_secret("s1"), Ok(None));
    assert_eq!(
        db.store.device_by_secret("s1b"),
        Ok(Some(device("dev-1", "s1b")))
    );
    assert_eq!(db.store.rotate_device_secret("dev-9", "s9"), Ok(false));
    assert_eq!(db.store.device_by_secret("s9"), Ok(None));
    assert_eq!(
        db.store.device_by_secret("s2"),
        Ok(Some(device("dev-2", "s2")))
    );
}

/// Rotating to a secret hash another device holds is
/// `Conflict("secret_hash")` and changes nothing (pinned here).
pub fn rotate_device_secret_to_a_taken_hash_conflicts(db: &TestDb) {
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    assert_eq!(
        db.store.rotate_device_secret("dev-1", "s2"),
        Err(StoreError::Conflict("secret_hash".into()))
    );
    assert_eq!(
        db.store.device_by_secret("s1"),
        Ok(Some(device("dev-1", "s1")))
    );
}

/// "`touch_device` updates last seen, user agent and IP", as given (an
/// absent one is cleared); nothing else. An unknown device is not an error.
pub fn touch_device_updates_last_seen_agent_and_ip(db: &TestDb) {
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    db.store
        .touch_device("dev-1", T + 100, Some("curl/8.0"), Some("192.0.2.7"))
        .expect("touch");
    let touched = Device {
        user_agent: Some("curl/8.0".to_owned()),
        ip: Some("192.0.2.7".to_owned()),
        last_seen_at: T + 100,
        ..device("dev-1", "s1")
    };
    assert_eq!(db.store.device_by_secret("s1"), Ok(Some(touched)));
    db.store
        .touch_device("dev-1", T + 200, None, None)
        .expect("touch");
    let cleared = Device {
        user_agent: None,
        ip: None,
        last_seen_at: T + 200,
        ..device("dev-1", "s1")
    };
    assert_eq!(db.store.device_by_secret("s1"), Ok(Some(cleared)));
    assert_eq!(
        db.store.device_by_secret("s2"),
        Ok(Some(device("dev-2", "s2")))
    );
    assert_eq!(db.store.touch_device("dev-9", T, None, None), Ok(()));
}

/// "`delete_device` removes a device and its sign-ins." Returns whether
/// there was one.
pub fn delete_device_removes_it_and_its_sign_ins(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    upsert(db, &sign_in("dev-1", plc('a'), T, true));
    upsert(db, &sign_in("dev-1", plc('b'), T, false));
    upsert(db, &sign_in("dev-2", plc('a'), T, false));
    assert_eq!(db.store.delete_device("dev-1"), Ok(true));
    assert_eq!(db.store.device_by_secret("s1"), Ok(None));
    assert_eq!(db.store.device_accounts("dev-1"), Ok(vec![]));
    assert_eq!(db.store.devices_of_account(&plc('b')), Ok(vec![]));
    let alices = db.store.devices_of_account(&plc('a')).expect("devices");
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0].0.id, "dev-2");
    assert_eq!(db.store.delete_device("dev-1"), Ok(false));
    assert_eq!(
        db.raw_count("SELECT COUNT(*) AS n FROM device_accounts WHERE device_id = 'dev-1'"),
        Ok(0)
    );
}

/// "`upsert_device_account` signs an account in (or refreshes
/// `authenticated_at`/`remember`)": one sign-in per device and account.
pub fn upsert_device_account_signs_in_and_refreshes(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    upsert(db, &sign_in("dev-1", plc('a'), T, true));
    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![sign_in("dev-1", plc('a'), T, true)])
    );
    upsert(db, &sign_in("dev-1", plc('a'), T + 60, false));
    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![sign_in("dev-1", plc('a'), T + 60, false)])
    );
    upsert(db, &sign_in("dev-1", plc('a'), T + 90, true));
    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![sign_in("dev-1", plc('a'), T + 90, true)])
    );
}

/// "`remove_device_account` signs it out": true if it was signed in.
pub fn remove_device_account_signs_out(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    upsert(db, &sign_in("dev-1", plc('a'), T, true));
    upsert(db, &sign_in("dev-1", plc('b'), T, true));
    assert_eq!(db.store.remove_device_account("dev-1", &plc('a')), Ok(true));
    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![sign_in("dev-1", plc('b'), T, true)])
    );
    assert_eq!(
        db.store.remove_device_account("dev-1", &plc('a')),
        Ok(false)
    );
    assert_eq!(
        db.store.remove_device_account("dev-9", &plc('b')),
        Ok(false)
    );
    assert!(db.store.device_by_secret("s1").expect("device").is_some());
}

/// "`device_accounts` lists a device's accounts, most recent first" (most
/// recent sign-in; ties by DID, byte order).
pub fn device_accounts_most_recent_first(db: &TestDb) {
    alice_and_bob(db);
    let carol = Did::parse("did:web:carol.example.com").expect("DID");
    db.store
        .create_account(&super::cases::account(carol.clone(), "carol.test"))
        .expect("create carol");
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    upsert(db, &sign_in("dev-1", plc('a'), T + 10, false));
    upsert(db, &sign_in("dev-1", plc('b'), T + 30, true));
    upsert(db, &sign_in("dev-1", carol.clone(), T + 10, true));
    upsert(db, &sign_in("dev-2", plc('a'), T + 99, true));
    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![
            sign_in("dev-1", plc('b'), T + 30, true),
            sign_in("dev-1", plc('a'), T + 10, false),
            sign_in("dev-1", carol, T + 10, true),
        ])
    );
    assert_eq!(db.store.device_accounts("dev-9"), Ok(vec![]));
}

/// "`devices_of_account` lists the devices an account is signed in on",
/// each with its sign-in record (most recent first), and no others.
pub fn devices_of_account_lists_each_sign_in(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    create(db, &device("dev-2", "s2"));
    create(db, &device("dev-3", "s3"));
    upsert(db, &sign_in("dev-1", plc('a'), T + 10, true));
    upsert(db, &sign_in("dev-2", plc('a'), T + 20, false));
    upsert(db, &sign_in("dev-3", plc('b'), T + 30, true));
    assert_eq!(
        db.store.devices_of_account(&plc('a')),
        Ok(vec![
            (
                device("dev-2", "s2"),
                sign_in("dev-2", plc('a'), T + 20, false)
            ),
            (
                device("dev-1", "s1"),
                sign_in("dev-1", plc('a'), T + 10, true)
            ),
        ])
    );
    assert_eq!(db.store.devices_of_account(&plc('z')), Ok(vec![]));
}

/// A sign-in refers to a device and an account: either missing is a
/// `Backend` error and nothing is written (pinned here).
pub fn sign_in_to_unknown_device_or_account_is_backend_error(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    expect_backend_error(
        db.store
            .upsert_device_account(&sign_in("dev-9", plc('a'), T, true)),
        "does not exist",
    );
    expect_backend_error(
        db.store
            .upsert_device_account(&sign_in("dev-1", plc('z'), T, true)),
        "does not exist",
    );
    assert_eq!(db.store.device_accounts("dev-1"), Ok(vec![]));
    assert_eq!(db.store.devices_of_account(&plc('a')), Ok(vec![]));
}

// -------------------------------------------------- AuthorizedClientStore

/// "`upsert_authorized_client` records … an approval …; `authorized_client`
/// reads it": `created_at` and `updated_at` are both `now` at first.
pub fn upsert_authorized_client_records_an_approval(db: &TestDb) {
    alice_and_bob(db);
    assert_eq!(db.store.authorized_client(&plc('a'), CLIENT), Ok(None));
    db.store
        .upsert_authorized_client(&plc('a'), CLIENT, "atproto", T)
        .expect("approve");
    assert_eq!(
        db.store.authorized_client(&plc('a'), CLIENT),
        Ok(Some(approval(plc('a'), CLIENT, "atproto", T, T)))
    );
    assert_eq!(db.store.authorized_client(&plc('b'), CLIENT), Ok(None));
    assert_eq!(
        db.store.authorized_client(&plc('a'), OTHER_CLIENT),
        Ok(None)
    );
    expect_backend_error(
        db.store
            .upsert_authorized_client(&plc('z'), CLIENT, "atproto", T),
        "not an account",
    );
}

/// "… (or replaces the scope of) an approval, keeping `created_at` of the
/// first".
pub fn upsert_authorized_client_replaces_scope_keeps_created_at(db: &TestDb) {
    alice_and_bob(db);
    db.store
        .upsert_authorized_client(&plc('a'), CLIENT, "atproto transition:generic", T)
        .expect("approve");
    db.store
        .upsert_authorized_client(&plc('a'), CLIENT, "atproto", T + 50)
        .expect("approve again");
    assert_eq!(
        db.store.authorized_client(&plc('a'), CLIENT),
        Ok(Some(approval(plc('a'), CLIENT, "atproto", T, T + 50)))
    );
    assert_eq!(
        db.store.authorized_clients(&plc('a')).map(|l| l.len()),
        Ok(1)
    );
}

/// "`forget_authorized_client` deletes it (true if it existed)".
pub fn forget_authorized_client_reports_whether_it_existed(db: &TestDb) {
    alice_and_bob(db);
    for did in [plc('a'), plc('b')] {
        db.store
            .upsert_authorized_client(&did, CLIENT, "atproto", T)
            .expect("approve");
    }
    assert_eq!(
        db.store.forget_authorized_client(&plc('a'), CLIENT),
        Ok(true)
    );
    assert_eq!(db.store.authorized_client(&plc('a'), CLIENT), Ok(None));
    assert_eq!(
        db.store.forget_authorized_client(&plc('a'), CLIENT),
        Ok(false)
    );
    assert_eq!(
        db.store.forget_authorized_client(&plc('a'), OTHER_CLIENT),
        Ok(false)
    );
    assert!(db
        .store
        .authorized_client(&plc('b'), CLIENT)
        .expect("read")
        .is_some());
}

/// "`authorized_clients` lists an account's approvals, newest first" (by
/// last approval; ties by client id, byte order), and only that account's.
pub fn authorized_clients_newest_first_per_account(db: &TestDb) {
    alice_and_bob(db);
    assert_eq!(db.store.authorized_clients(&plc('a')), Ok(vec![]));
    let approve = |did: Did, client: &str, now: i64| {
        db.store
            .upsert_authorized_client(&did, client, "atproto", now)
            .expect("approve")
    };
    approve(plc('a'), "https://c.example/1", T);
    approve(plc('a'), "https://b.example/1", T + 10);
    approve(plc('a'), "https://a.example/1", T + 10);
    approve(plc('a'), "https://B.example/1", T + 10);
    approve(plc('b'), "https://z.example/1", T + 99);
    // Re-approval makes the oldest the newest.
    approve(plc('a'), "https://c.example/1", T + 20);
    let listed = db.store.authorized_clients(&plc('a')).expect("list");
    assert_eq!(
        client_ids(&listed),
        [
            "https://c.example/1",
            "https://B.example/1",
            "https://a.example/1",
            "https://b.example/1",
        ]
    );
    assert_eq!(
        listed[0],
        approval(plc('a'), "https://c.example/1", "atproto", T, T + 20)
    );
}

// --------------------------------------------------------- account deletion

/// Deleting an account deletes its sign-ins, its approvals and its
/// sessions (revocation), and nobody else's; its devices stay.
pub fn deleting_an_account_cascades(db: &TestDb) {
    alice_and_bob(db);
    create(db, &device("dev-1", "s1"));
    upsert(db, &sign_in("dev-1", plc('a'), T, true));
    upsert(db, &sign_in("dev-1", plc('b'), T, true));
    for did in [plc('a'), plc('b')] {
        db.store
            .upsert_authorized_client(&did, CLIENT, "atproto", T)
            .expect("approve");
    }
    db.store
        .create_session(&session("ses-a", plc('a'), Some("r-a")))
        .expect("session");
    db.store
        .create_session(&session("ses-b", plc('b'), Some("r-b")))
        .expect("session");

    assert_eq!(db.store.delete_account(&plc('a')), Ok(true));

    assert_eq!(
        db.store.device_accounts("dev-1"),
        Ok(vec![sign_in("dev-1", plc('b'), T, true)])
    );
    assert_eq!(db.store.devices_of_account(&plc('a')), Ok(vec![]));
    assert_eq!(db.store.authorized_clients(&plc('a')), Ok(vec![]));
    assert_eq!(db.store.authorized_client(&plc('a'), CLIENT), Ok(None));
    assert_eq!(db.store.session_by_id("ses-a"), Ok(None));
    assert_eq!(db.store.find_refresh("r-a"), Ok(RefreshLookup::Unknown));
    assert_eq!(db.store.list_sessions(Some(&plc('a')), None), Ok(vec![]));

    assert!(db.store.device_by_secret("s1").expect("device").is_some());
    assert!(db
        .store
        .authorized_client(&plc('b'), CLIENT)
        .expect("read")
        .is_some());
    assert!(db.store.session_by_id("ses-b").expect("get").is_some());
}
