//! CSRF: every POST route refuses a missing, wrong or foreign token, a
//! missing device cookie and a cross-site origin with 403, and changes
//! nothing.

use atauth_core::ids::secret_hash;
use atauth_core::store::{AuthorizationRequest, DeviceStore};

use crate::support::*;

const ROUTES: &[&str] = &[
    "/oauth/authorize/sign-in",
    "/oauth/authorize/select",
    "/oauth/authorize/consent",
];

/// What a successful POST of each route would change.
fn snapshot(
    h: &Harness,
    b: &Browser<'_>,
    id: &atauth_core::ids::RequestId,
) -> (Option<AuthorizationRequest>, usize, Option<String>) {
    let device = h
        .store
        .device_by_secret(&secret_hash(b.cookie.as_ref().unwrap()))
        .unwrap()
        .unwrap();
    let accounts = h.store.device_accounts(&device.id).unwrap().len();
    (h.get_request(id), accounts, Some(device.secret_hash))
}

fn forms<'a>(
    csrf: &'a str,
    ru: &'a str,
    did: &'a str,
) -> Vec<(&'static str, Vec<(&'static str, &'a str)>)> {
    vec![
        (
            ROUTES[0],
            vec![
                ("csrf", csrf),
                ("request_uri", ru),
                ("identifier", "alice.test"),
                ("password", PASSWORD),
            ],
        ),
        (
            ROUTES[1],
            vec![("csrf", csrf), ("request_uri", ru), ("account", did)],
        ),
        (
            ROUTES[2],
            vec![
                ("csrf", csrf),
                ("request_uri", ru),
                ("account", did),
                ("decision", "approve"),
            ],
        ),
        (
            ROUTES[2],
            vec![("csrf", csrf), ("request_uri", ru), ("decision", "deny")],
        ),
    ]
}

#[actix_web::test]
async fn bad_tokens_are_refused_on_every_post_and_change_nothing() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();
    b.signed_in("alice.test", true).await;
    let id = h.request(Req::public());
    let page = b.authorize(PUBLIC, &id).await;
    let good = page.field("csrf").unwrap();
    let ru = id.request_uri();
    let other = h.request(Req::public());
    let other_page = b.authorize(PUBLIC, &other).await;
    let foreign = other_page.field("csrf").unwrap();
    let before = snapshot(&h, &b, &id);

    let mut flipped = good.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for token in ["", "garbage", flipped.as_str(), foreign.as_str()] {
        for (route, form) in forms(token, &ru, alice.as_str()) {
            let form: Vec<_> = form
                .into_iter()
                .filter(|(k, v)| !(*k == "csrf" && v.is_empty()))
                .collect();
            let r = b.post(route, &form).await;
            assert_eq!(r.status, 403, "{route} token {token:?}: {}", r.body);
            r.assert_page_headers();
            assert!(r.header("location").is_none());
            assert!(r.device_cookie().is_none());
            assert_eq!(snapshot(&h, &b, &id), before, "{route} changed something");
        }
    }

    // No cookie at all.
    let mut anon = h.browser();
    for (route, form) in forms(&good, &ru, alice.as_str()) {
        let r = anon.post(route, &form).await;
        assert_eq!(r.status, 403, "{route}");
        assert!(r.device_cookie().is_none());
    }
    assert_eq!(snapshot(&h, &b, &id), before);

    // The genuine token still works afterwards.
    let r = b
        .post(
            ROUTES[2],
            &[("csrf", &good), ("request_uri", &ru), ("decision", "deny")],
        )
        .await;
    assert_eq!(r.status, 303);
}

#[actix_web::test]
async fn cross_site_posts_are_refused() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut b = h.browser();
    b.signed_in("alice.test", true).await;
    let id = h.request(Req::public());
    let page = b.authorize(PUBLIC, &id).await;
    let good = page.field("csrf").unwrap();
    let ru = id.request_uri();
    let before = snapshot(&h, &b, &id);
    let hostile: &[&[(&str, &str)]] = &[
        &[("Origin", "https://evil.example")],
        &[
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Sec-Fetch-Site", "same-site")],
        &[("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
    ];
    for headers in hostile {
        for (route, form) in forms(&good, &ru, alice.as_str()) {
            let r = b.post_with(route, &form, headers).await;
            assert_eq!(r.status, 403, "{route} {headers:?}");
            r.assert_page_headers();
            assert_eq!(snapshot(&h, &b, &id), before);
        }
    }
    // `Origin: null` from our own page (no-referrer policy) with the token passes.
    let r = b
        .post_with(
            ROUTES[2],
            &[("csrf", &good), ("request_uri", &ru), ("decision", "deny")],
            &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303);
}
