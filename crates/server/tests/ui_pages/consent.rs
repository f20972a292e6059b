//! Consent: approve issues a code bound to the account, deny answers
//! `access_denied` and deletes the request, the skip rules, and
//! `prompt=none`.

use atauth_core::ids::secret_hash;
use atauth_core::store::AuthorizedClientStore;

use crate::support::*;

fn is_consent(r: &Resp) -> bool {
    r.status == 200 && r.body.contains("name=\"decision\" value=\"approve\"")
}

#[actix_web::test]
async fn approve_issues_a_code_and_remembers_the_approval() {
    let h = Harness::start().await;
    let alice = h.alice();
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;
    let consent = b.sign_in(&page, "alice.test", PASSWORD, false).await;
    assert!(is_consent(&consent), "{}", consent.body);
    assert!(consent.body.contains("@alice.test"));
    assert!(
        consent.body.contains("Know who you are"),
        "atproto in plain words"
    );
    assert!(
        consent.body.contains("like an app password"),
        "transition:generic in plain words"
    );
    let r = b.decide(&consent, "approve").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location().unwrap();
    assert!(loc.as_str().starts_with(PUBLIC_REDIRECT));
    let p = params(&loc, false);
    let code = p.get("code").unwrap();
    assert!(code.starts_with("cod-"));
    assert_eq!(p.get("state").map(String::as_str), Some(STATE));
    assert_eq!(p.get("iss"), Some(&h.base));
    let stored = h.get_request(&id).unwrap();
    assert_eq!(stored.code_hash, Some(secret_hash(code)));
    assert_eq!(stored.sub, Some(alice.clone()));
    let approval = h.store.authorized_client(&alice, PUBLIC).unwrap().unwrap();
    assert_eq!(approval.scope, "atproto transition:generic");
    // The page cannot be used again.
    let again = b.decide(&consent, "approve").await;
    assert_eq!(again.status, 400);
    assert!(again.header("location").is_none());
}

#[actix_web::test]
async fn deny_answers_access_denied_and_deletes_the_request() {
    let h = Harness::start().await;
    h.alice();
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;
    let consent = b.sign_in(&page, "alice.test", PASSWORD, false).await;
    let r = b.decide(&consent, "deny").await;
    assert_eq!(r.status, 303);
    let p = params(&r.location().unwrap(), false);
    assert_eq!(p.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(p.get("state").map(String::as_str), Some(STATE));
    assert_eq!(p.get("iss"), Some(&h.base));
    assert!(!p.contains_key("code"));
    assert!(h.get_request(&id).is_none(), "deleted");

    // Cancel from the sign-in page is a deny too.
    let id = h.request(Req::public());
    let mut fresh = h.browser();
    let page = fresh.authorize(PUBLIC, &id).await;
    let r = fresh.decide(&page, "deny").await;
    assert_eq!(
        params(&r.location().unwrap(), false)
            .get("error")
            .map(String::as_str),
        Some("access_denied")
    );
}

#[actix_web::test]
async fn consent_is_skipped_only_for_trusted_or_confidential_clients_with_a_covering_approval() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();
    b.signed_in("alice.test", true).await;
    for client in [PUBLIC, TRUSTED, CONFIDENTIAL] {
        h.store
            .upsert_authorized_client(
                &alice,
                client,
                "atproto transition:generic transition:email",
                now(),
            )
            .unwrap();
    }

    // Untrusted public client: always asked, whatever was approved.
    let id = h.request(Req::public());
    assert!(is_consent(&b.authorize(PUBLIC, &id).await));

    // Trusted and confidential: skipped.
    for req in [Req::trusted(), Req::confidential()] {
        let id = h.request(req);
        let r = b.authorize(req.client_id, &id).await;
        assert_eq!(r.status, 303, "{}: {}", req.client_id, r.body);
        assert!(params(&r.location().unwrap(), false).contains_key("code"));
        assert!(h.get_request(&id).unwrap().code_hash.is_some());
    }

    // prompt=consent: asked.
    let req = Req::trusted().prompt("consent");
    let id = h.request(req);
    assert!(is_consent(&b.authorize(TRUSTED, &id).await));

    // A scope beyond the approval: asked.
    h.store
        .upsert_authorized_client(&alice, CONFIDENTIAL, "atproto", now())
        .unwrap();
    let id = h.request(Req::confidential());
    let consent = b.authorize(CONFIDENTIAL, &id).await;
    assert!(is_consent(&consent));
    // Approving widens the remembered approval.
    let r = b.decide(&consent, "approve").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        h.store
            .authorized_client(&alice, CONFIDENTIAL)
            .unwrap()
            .unwrap()
            .scope,
        "atproto transition:generic"
    );

    // Loopback clients are never trusted: asked.
    h.store
        .upsert_authorized_client(&alice, LOOPBACK, "atproto transition:generic", now())
        .unwrap();
    let id = h.request(Req::loopback());
    let r = b.authorize(LOOPBACK, &id).await;
    assert!(is_consent(&r), "{}", r.body);
    assert!(r.body.contains("An application on this device"));
}

#[actix_web::test]
async fn prompt_none_never_shows_a_page() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();

    // Nobody signed in: login_required.
    let id = h.request(Req::trusted().prompt("none"));
    let r = b.authorize(TRUSTED, &id).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = params(&r.location().unwrap(), false);
    assert_eq!(p.get("error").map(String::as_str), Some("login_required"));
    assert_eq!(p.get("iss"), Some(&h.base));
    assert_eq!(p.get("state").map(String::as_str), Some(STATE));
    assert!(h.get_request(&id).is_none());

    b.signed_in("alice.test", true).await;

    // Signed in, consent needed: consent_required.
    let id = h.request(Req::trusted().prompt("none"));
    let r = b.authorize(TRUSTED, &id).await;
    let p = params(&r.location().unwrap(), false);
    assert_eq!(p.get("error").map(String::as_str), Some("consent_required"));

    // Signed in and approved: the code, silently.
    h.store
        .upsert_authorized_client(&alice, TRUSTED, "atproto transition:generic", now())
        .unwrap();
    let id = h.request(Req::trusted().prompt("none"));
    let r = b.authorize(TRUSTED, &id).await;
    assert!(params(&r.location().unwrap(), false).contains_key("code"));

    // Two accounts: account_selection_required.
    h.bob();
    b.signed_in("bob.test", true).await;
    let id = h.request(Req::trusted().prompt("none"));
    let r = b.authorize(TRUSTED, &id).await;
    let p = params(&r.location().unwrap(), false);
    assert_eq!(
        p.get("error").map(String::as_str),
        Some("account_selection_required")
    );
    // …unless the hint picks one.
    let id = h.request(Req::trusted().prompt("none").hint("alice.test"));
    let r = b.authorize(TRUSTED, &id).await;
    assert!(params(&r.location().unwrap(), false).contains_key("code"));
}
