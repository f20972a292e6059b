//! The way back to the client: `iss` on every response (RFC 9207), in
//! `query`, `fragment` and `form_post`, for success and for errors; the
//! CSP allows the redirect's origin as a form target.

use crate::support::*;

/// The parameters of a final response, whatever its mode.
fn outcome(r: &Resp, mode: &str, redirect: &str) -> std::collections::HashMap<String, String> {
    match mode {
        "form_post" => {
            assert_eq!(r.status, 200, "{}", r.body);
            r.assert_page_headers();
            r.assert_no_inline_code();
            assert!(
                r.body
                    .contains("<script src=\"&#x2F;static&#x2F;form-post.js\" defer></script>")
                    || r.body
                        .contains("<script src=\"/static/form-post.js\" defer></script>"),
                "{}",
                r.body
            );
            assert!(
                r.body.contains("type=\"submit\""),
                "a visible button without JS"
            );
            let action = format!("action=\"{}\"", redirect.replace('/', "&#x2F;"));
            assert!(r.body.contains(&action), "{}", r.body);
            let mut m = std::collections::HashMap::new();
            for name in ["code", "error", "error_description", "state", "iss"] {
                if let Some(v) = r.field(name) {
                    m.insert(name.to_string(), v);
                }
            }
            m
        }
        _ => {
            assert_eq!(r.status, 303, "{}", r.body);
            r.assert_security_headers();
            let loc = r.location().unwrap();
            assert!(loc.as_str().starts_with(redirect), "{loc}");
            if mode == "fragment" {
                assert!(loc.query().is_none(), "{loc}");
            }
            params(&loc, mode == "fragment")
        }
    }
}

fn form_action_allows(r: &Resp, origin: &str) {
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {origin}")),
        "{csp}"
    );
}

#[actix_web::test]
async fn iss_and_state_on_every_response_in_every_mode() {
    let h = Harness::start().await;
    h.alice();
    for mode in ["query", "fragment", "form_post"] {
        // Success.
        let req = Req::loopback().mode(mode);
        let id = h.request(req);
        let mut b = h.browser();
        let page = b.authorize(LOOPBACK, &id).await;
        form_action_allows(&page, "http://127.0.0.1:9999");
        let consent = b.sign_in(&page, "alice.test", PASSWORD, false).await;
        form_action_allows(&consent, "http://127.0.0.1:9999");
        let r = b.decide(&consent, "approve").await;
        form_action_allows(&r, "http://127.0.0.1:9999");
        let p = outcome(&r, mode, LOOPBACK_REDIRECT);
        assert!(
            p.get("code").is_some_and(|c| c.starts_with("cod-")),
            "{mode}: {p:?}"
        );
        assert_eq!(p.get("iss"), Some(&h.base), "{mode}");
        assert_eq!(p.get("state").map(String::as_str), Some(STATE), "{mode}");

        // Deny.
        let id = h.request(req);
        let page = b.authorize(LOOPBACK, &id).await;
        let r = b.decide(&page, "deny").await;
        let p = outcome(&r, mode, LOOPBACK_REDIRECT);
        assert_eq!(
            p.get("error").map(String::as_str),
            Some("access_denied"),
            "{mode}"
        );
        assert_eq!(p.get("iss"), Some(&h.base), "{mode}");
        assert_eq!(p.get("state").map(String::as_str), Some(STATE), "{mode}");

        // prompt=none, nobody signed in (a new browser).
        let id = h.request(req.prompt("none"));
        let r = h.browser().authorize(LOOPBACK, &id).await;
        let p = outcome(&r, mode, LOOPBACK_REDIRECT);
        assert_eq!(
            p.get("error").map(String::as_str),
            Some("login_required"),
            "{mode}"
        );
        assert_eq!(p.get("iss"), Some(&h.base), "{mode}");
    }
}

#[actix_web::test]
async fn form_post_script_is_served() {
    let h = Harness::start().await;
    let r = h
        .http
        .get(format!("{}/static/form-post.js", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.text().await.unwrap().contains("form-post"));
    let r = h
        .http
        .get(format!("{}/static/ui.css", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}
