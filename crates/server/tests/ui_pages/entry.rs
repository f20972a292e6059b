//! `GET /oauth/authorize`: what is refused before any page, and the device
//! binding. Every refusal is an HTML error page, never a redirect.

use atauth_core::ids::RequestId;
use atauth_core::store::{DeviceStore, RequestStore};

use crate::support::*;

fn assert_error_page(r: &Resp, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.header("location").is_none(), "must not redirect");
    r.assert_page_headers();
    assert!(r.body.contains(text), "page lacks {text:?}: {}", r.body);
}

#[actix_web::test]
async fn refuses_unknown_expired_foreign_and_malformed_requests() {
    let h = Harness::start().await;
    let mut b = h.browser();

    // Unknown (well-formed) request_uri.
    let unknown = RequestId::generate();
    assert_error_page(
        &b.authorize(PUBLIC, &unknown).await,
        400,
        "This sign-in request is unknown.",
    );

    // Malformed request_uri.
    let r = b
        .get("/oauth/authorize?client_id=x&request_uri=urn%3Anope")
        .await;
    assert_error_page(&r, 400, "This sign-in request is unknown.");

    // Missing parameters.
    let r = b.get("/oauth/authorize?client_id=x").await;
    assert_error_page(&r, 400, "needs client_id and request_uri");

    // Repeated parameter.
    let id = h.request(Req::public());
    let path = format!("{}&client_id={}", h.authorize_path(PUBLIC, &id), "x");
    assert_error_page(&b.get(&path).await, 400, "The form could not be read.");

    // Another client's request: not even the device is created.
    let r = b.authorize(TRUSTED, &id).await;
    assert_error_page(&r, 400, "belongs to another application");
    assert!(r.device_cookie().is_none());
    assert_eq!(h.get_request(&id).unwrap().device_id, None);

    // Expired.
    let expired = h.request(Req {
        expires_in: -1,
        ..Req::public()
    });
    assert_error_page(&b.authorize(PUBLIC, &expired).await, 400, "has expired");

    // Already given a code.
    let used = h.request(Req::public());
    let did = h.alice();
    assert!(h
        .store
        .issue_code(used.as_str(), &did, "hash", now() + 60)
        .unwrap());
    assert_error_page(
        &b.authorize(PUBLIC, &used).await,
        400,
        "already been completed",
    );
}

#[actix_web::test]
async fn unresolvable_client_is_an_error_page() {
    let h = Harness::start().await;
    let id = h.request(Req {
        client_id: "https://gone.example.com/client-metadata.json",
        redirect_uri: "https://gone.example.com/cb",
        ..Req::public()
    });
    let r = h
        .browser()
        .authorize("https://gone.example.com/client-metadata.json", &id)
        .await;
    assert_error_page(&r, 400, "The application could not be verified.");
}

#[actix_web::test]
async fn first_visit_creates_a_device_and_binds_the_request() {
    let h = Harness::start().await;
    let id = h.request(Req::public());
    let mut b = h.browser();
    let r = b.authorize(PUBLIC, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.assert_page_headers();
    let set = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "http issuer (dev): not Secure");
    let secret = b.cookie.clone().unwrap();
    let device = h
        .store
        .device_by_secret(&atauth_core::ids::secret_hash(&secret))
        .unwrap()
        .unwrap();
    assert_ne!(device.secret_hash, secret, "only the hash is stored");
    assert_eq!(
        h.get_request(&id).unwrap().device_id.as_deref(),
        Some(device.id.as_str())
    );
    assert_eq!(device.ip.as_deref(), Some("127.0.0.1"));

    // The same browser again: same device, no new cookie.
    let again = b.authorize(PUBLIC, &id).await;
    assert_eq!(again.status, 200);
    assert!(again.device_cookie().is_none());

    // Another browser: refused.
    let mut other = h.browser();
    let r = other.authorize(PUBLIC, &id).await;
    assert_error_page(&r, 400, "opened in another browser");
    assert_eq!(
        h.get_request(&id).unwrap().device_id.as_deref(),
        Some(device.id.as_str())
    );
}

#[actix_web::test]
async fn only_get_is_allowed() {
    let h = Harness::start().await;
    let r = h
        .http
        .delete(format!("{}/oauth/authorize", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET");
    let r = h
        .http
        .get(format!("{}/oauth/authorize/consent", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "POST");
}

#[actix_web::test]
async fn oversized_and_non_form_bodies_are_refused() {
    let h = Harness::start().await;
    let id = h.request(Req::public());
    let mut b = h.browser();
    let page = b.authorize(PUBLIC, &id).await;
    let csrf = page.field("csrf").unwrap();
    let ru = id.request_uri();
    let big = "x".repeat(70 * 1024);
    let r = b
        .post(
            "/oauth/authorize/consent",
            &[
                ("csrf", &csrf),
                ("request_uri", &ru),
                ("decision", "deny"),
                ("pad", &big),
            ],
        )
        .await;
    assert_eq!(r.status, 413);
    r.assert_page_headers();
    let r = h
        .http
        .post(format!("{}/oauth/authorize/consent", h.base))
        .header("content-type", "application/json")
        .header(
            "cookie",
            format!("atauth-device={}", b.cookie.as_ref().unwrap()),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(h.get_request(&id).is_some(), "nothing changed");
}
