//! Sign-in: identical failures, rate limit, cookie rotation, freshness,
//! `prompt=login`, `login_hint`.

use atauth_core::identity::Did;
use atauth_core::ids::secret_hash;
use atauth_core::store::{AccountStore, DeviceAccount, DeviceStore};

use crate::support::*;

#[actix_web::test]
async fn wrong_password_unknown_account_and_disabled_account_look_the_same() {
    let h = Harness::start().await;
    h.alice();
    let carol = h.account("carol.test", "did:plc:cccccccccccccccccccccccc");
    h.store.set_disabled(&carol, Some(now())).unwrap();
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;

    let wrong = b
        .sign_in(&page, "alice.test", "not the password", false)
        .await;
    let unknown = b
        .sign_in(&page, "nobody.test", "not the password", false)
        .await;
    let garbage = b
        .sign_in(&page, "not an identifier!", "not the password", false)
        .await;
    let disabled = b.sign_in(&page, "carol.test", PASSWORD, false).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Wrong handle, DID or password."));
    wrong.assert_page_headers();
    let norm = |r: &Resp, ident: &str| r.body.replace(ident, "IDENT");
    let reference = norm(&wrong, "alice.test");
    for (r, ident) in [
        (&unknown, "nobody.test"),
        (&garbage, "not an identifier!"),
        (&disabled, "carol.test"),
    ] {
        assert_eq!(r.status, wrong.status);
        assert_eq!(norm(r, ident), reference, "{ident}");
        assert!(r.device_cookie().is_none());
    }
    assert!(!wrong.body.contains("not the password"), "password echoed");
    let missing = b.sign_in(&page, "alice.test", "", false).await;
    assert_eq!(missing.status, 400);
    assert!(missing
        .body
        .contains("Enter your handle or DID and your password."));
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    assert!(h.store.device_accounts(&device.id).unwrap().is_empty());
}

#[actix_web::test]
async fn repeated_failures_are_rate_limited_with_retry_after() {
    let h = Harness::start().await;
    h.alice();
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;
    for i in 0..5 {
        let r = b
            .sign_in(&page, "alice.test", "wrong password", false)
            .await;
        assert_eq!(r.status, 400, "attempt {i}");
    }
    // Locked now, even with the right password (no verification at all).
    let r = b
        .sign_in(&page, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", PASSWORD, false)
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
    r.assert_page_headers();
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert!(r.device_cookie().is_none());

    // Unknown identifiers are limited the same way.
    for _ in 0..5 {
        b.sign_in(&page, "ghost.test", "wrong password", false)
            .await;
    }
    assert_eq!(
        b.sign_in(&page, "ghost.test", "wrong password", false)
            .await
            .status,
        429
    );
}

#[actix_web::test]
async fn sign_in_rotates_the_device_cookie_and_records_the_sign_in() {
    let h = Harness::start().await;
    let alice = h.alice();
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;
    let before = b.cookie.clone().unwrap();
    let consent = b.sign_in(&page, "Alice.Test", PASSWORD, true).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let after = consent.device_cookie().expect("a new cookie on sign-in");
    assert_ne!(before, after);
    assert!(
        h.store
            .device_by_secret(&secret_hash(&before))
            .unwrap()
            .is_none(),
        "old secret dead"
    );
    let device = h
        .store
        .device_by_secret(&secret_hash(&after))
        .unwrap()
        .unwrap();
    let accounts = h.store.device_accounts(&device.id).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].did, alice);
    assert!(accounts[0].remember);

    // The old cookie can no longer post (a fixated secret is worthless).
    let mut stale = h.browser();
    stale.cookie = Some(before);
    let r = stale.decide(&consent, "approve").await;
    assert_eq!(r.status, 403);
    // The page's forms still work with the new cookie.
    let done = b.decide(&consent, "approve").await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[actix_web::test]
async fn stale_sign_in_without_remember_asks_for_the_password_again() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();
    b.signed_in("alice.test", false).await;
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();

    // Fresh: straight to consent.
    let id = h.request(Req::public());
    let r = b.authorize(PUBLIC, &id).await;
    assert!(
        r.body.contains("action=\"/oauth/authorize/consent\"")
            && r.body.contains("name=\"decision\" value=\"approve\""),
        "{}",
        r.body
    );

    // Two hours later: the password again.
    h.store
        .upsert_device_account(&DeviceAccount {
            device_id: device.id.clone(),
            did: alice.clone(),
            authenticated_at: now() - 7200,
            remember: false,
        })
        .unwrap();
    let id = h.request(Req::public());
    let r = b.authorize(PUBLIC, &id).await;
    assert!(r.body.contains("name=\"password\""), "{}", r.body);

    // Remembered: still signed in.
    h.store
        .upsert_device_account(&DeviceAccount {
            device_id: device.id,
            did: alice,
            authenticated_at: now() - 7200,
            remember: true,
        })
        .unwrap();
    let id = h.request(Req::public());
    let r = b.authorize(PUBLIC, &id).await;
    assert!(!r.body.contains("name=\"password\""), "{}", r.body);
}

#[actix_web::test]
async fn prompt_login_asks_for_the_password_even_when_signed_in() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();
    b.signed_in("alice.test", true).await;
    // Signed in a minute before the request was made.
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    h.store
        .upsert_device_account(&DeviceAccount {
            device_id: device.id,
            did: alice,
            authenticated_at: now() - 60,
            remember: true,
        })
        .unwrap();
    let plain = h.request(Req::public());
    assert!(!b
        .authorize(PUBLIC, &plain)
        .await
        .body
        .contains("name=\"password\""));
    let id = h.request(Req::public().prompt("login"));
    let page = b.authorize(PUBLIC, &id).await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let consent = b.sign_in(&page, "alice.test", PASSWORD, true).await;
    assert_eq!(consent.status, 200);
    assert!(consent.body.contains("value=\"approve\""));
}

#[actix_web::test]
async fn login_hint_limits_the_chooser_and_the_sign_in() {
    let h = Harness::start().await;
    h.alice();
    let bob = h.bob();
    let mut b = h.browser();
    b.signed_in("alice.test", true).await;
    b.signed_in("bob.test", true).await;

    // No hint: the chooser with both.
    let id = h.request(Req::public());
    let r = b.authorize(PUBLIC, &id).await;
    assert_eq!(r.fields("account").len(), 2, "{}", r.body);

    // select_account + hint: the chooser with bob only.
    let id = h.request(Req::public().prompt("select_account").hint("bob.test"));
    let r = b.authorize(PUBLIC, &id).await;
    assert_eq!(r.fields("account"), vec![bob.to_string()]);
    // Picking alice anyway is not accepted.
    let csrf = r.field("csrf").unwrap();
    let ru = id.request_uri();
    let picked = b
        .post(
            "/oauth/authorize/select",
            &[
                ("csrf", &csrf),
                ("request_uri", &ru),
                ("account", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
            ],
        )
        .await;
    assert_eq!(
        picked.fields("account"),
        vec![bob.to_string()],
        "{}",
        picked.body
    );
    // Picking bob goes to consent for bob.
    let picked = b
        .post(
            "/oauth/authorize/select",
            &[
                ("csrf", &csrf),
                ("request_uri", &ru),
                ("account", bob.as_str()),
            ],
        )
        .await;
    assert!(
        picked.body.contains("@bob.test") && picked.body.contains("value=\"approve\""),
        "{}",
        picked.body
    );

    // Hint alone: bob is settled, no chooser.
    let id = h.request(Req::public().hint("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"));
    let r = b.authorize(PUBLIC, &id).await;
    assert!(
        r.body.contains("@bob.test") && r.body.contains("value=\"approve\""),
        "{}",
        r.body
    );
    assert!(!r.body.contains("@alice.test"));

    // A fresh browser, hint bob: the identifier is fixed, and alice's
    // correct password signs nothing in.
    let mut fresh = h.browser();
    let id = h.request(Req::public().hint("bob.test"));
    let page = fresh.authorize(PUBLIC, &id).await;
    assert!(
        page.body.contains("value=\"bob.test\" readonly"),
        "{}",
        page.body
    );
    let r = fresh.sign_in(&page, "alice.test", PASSWORD, false).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("asked for the account bob.test"),
        "{}",
        r.body
    );
    let device = h
        .store
        .device_by_secret(&secret_hash(fresh.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    assert!(h.store.device_accounts(&device.id).unwrap().is_empty());
    let ok = fresh.sign_in(&page, "bob.test", PASSWORD, false).await;
    assert_eq!(ok.status, 200);
    let device = h
        .store
        .device_by_secret(&secret_hash(fresh.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    let signed: Vec<Did> = h
        .store
        .device_accounts(&device.id)
        .unwrap()
        .into_iter()
        .map(|a| a.did)
        .collect();
    assert_eq!(signed, vec![bob]);
}
