//! The pages themselves: hostile client metadata escaped everywhere,
//! headers on every page, no inline code, labelled controls, language.

use crate::support::*;

fn assert_hostile_escaped(r: &Resp) {
    assert!(!r.body.contains("<script>alert"), "raw script: {}", r.body);
    assert!(
        !r.body.contains("\"onmouseover"),
        "attribute breakout: {}",
        r.body
    );
    assert!(
        !r.body.contains("\"><script"),
        "attribute breakout: {}",
        r.body
    );
    r.assert_no_inline_code();
}

#[actix_web::test]
async fn hostile_client_metadata_is_escaped_on_every_page() {
    let h = Harness::start().await;
    h.alice();
    h.bob();
    let mut b = h.browser();

    // Sign-in page of the trusted client (name, logo and links shown).
    let id = h.request(Req::trusted().mode("form_post"));
    let page = b.authorize(TRUSTED, &id).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_hostile_escaped(&page);
    assert!(
        page.body.contains(
            "&lt;script&gt;alert(&quot;pwned&quot;)&lt;&#x2F;script&gt;&#x27; &quot; &amp; Evil"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"logo\" src=\"https:&#x2F;&#x2F;trusted.example.com&#x2F;logo.png?&quot;&gt;&lt;script&gt;"), "{}", page.body);
    assert!(page
        .body
        .contains("href=\"https:&#x2F;&#x2F;trusted.example.com&#x2F;privacy\""));

    // Consent page.
    let consent = b.sign_in(&page, "alice.test", PASSWORD, true).await;
    assert_eq!(consent.status, 200);
    assert_hostile_escaped(&consent);
    assert!(consent.body.contains("&lt;script&gt;"));

    // form_post page.
    let done = b.decide(&consent, "approve").await;
    assert_eq!(done.status, 200);
    assert_hostile_escaped(&done);
    assert!(done.body.contains("&lt;script&gt;"));
    assert_eq!(done.field("state").as_deref(), Some(STATE));
    assert!(
        done.body.contains("st&amp;te=&lt;1&gt;"),
        "state escaped in the form"
    );

    // Chooser.
    b.signed_in("bob.test", true).await;
    let id = h.request(Req::trusted());
    let chooser = b.authorize(TRUSTED, &id).await;
    assert_eq!(chooser.fields("account").len(), 2, "{}", chooser.body);
    assert_hostile_escaped(&chooser);

    // Failure page.
    let failed = b
        .sign_in(&chooser, "alice.test", "wrong password", false)
        .await;
    assert_hostile_escaped(&failed);

    // An untrusted client's name and logo are not shown at all.
    let id = h.request(Req::public());
    let r = h.browser().authorize(PUBLIC, &id).await;
    assert!(!r.body.contains("Plain App"));
    assert!(r
        .body
        .contains("https:&#x2F;&#x2F;app.example.com&#x2F;client-metadata.json"));
    assert!(r.body.contains("known only by its address"));
    assert!(!r.body.contains("class=\"logo\""));
}

#[actix_web::test]
async fn every_page_has_the_security_headers_and_labelled_controls() {
    let h = Harness::start().await;
    h.alice();
    h.bob();
    let mut b = h.browser();
    let mut pages = Vec::new();

    let id = h.request(Req::public());
    let sign_in = b.authorize(PUBLIC, &id).await;
    pages.push(("sign-in", sign_in.clone()));
    let consent = b.sign_in(&sign_in, "alice.test", PASSWORD, true).await;
    pages.push(("consent", consent.clone()));
    pages.push((
        "failed sign-in",
        b.sign_in(&consent, "alice.test", "nope nope", false).await,
    ));
    b.decide(&consent, "approve").await;
    b.signed_in("bob.test", true).await;
    let id = h.request(Req::public());
    pages.push(("chooser", b.authorize(PUBLIC, &id).await));
    let id = h.request(Req::public().mode("form_post"));
    let consent = b.authorize(PUBLIC, &id).await;
    let consent = b
        .post(
            "/oauth/authorize/select",
            &[
                ("csrf", &consent.field("csrf").unwrap()),
                ("request_uri", &id.request_uri()),
                ("account", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
            ],
        )
        .await;
    pages.push(("consent after select", consent.clone()));
    pages.push(("form_post", b.decide(&consent, "approve").await));
    pages.push((
        "error",
        b.get("/oauth/authorize?client_id=x&request_uri=y").await,
    ));
    pages.push((
        "forbidden",
        b.post("/oauth/authorize/consent", &[("decision", "deny")])
            .await,
    ));

    for (name, r) in &pages {
        r.assert_page_headers();
        r.assert_no_inline_code();
        assert!(r.body.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(
            r.body
                .contains("<link rel=\"stylesheet\" href=\"/static/ui.css\">"),
            "{name}"
        );
        // Every visible input has a label.
        let mut rest = r.body.as_str();
        while let Some(i) = rest.find("<input id=\"") {
            let s = &rest[i + 11..];
            let id = &s[..s.find('"').unwrap()];
            assert!(
                r.body.contains(&format!("<label for=\"{id}\">")),
                "{name}: #{id} unlabelled"
            );
            rest = s;
        }
        // Every form carries the CSRF token, except form_post (to the client).
        if *name != "form_post" {
            assert_eq!(
                r.body.matches("<form").count(),
                r.body.matches("name=\"csrf\"").count(),
                "{name}"
            );
        }
    }
}

#[actix_web::test]
async fn language_follows_ui_locales_then_accept_language() {
    let h = Harness::start().await;
    let id = h.request(Req::public().locales("fr-CA en"));
    let r = h.browser().authorize(PUBLIC, &id).await;
    assert!(r.body.contains("<html lang=\"fr\">"));
    assert!(r.body.contains("Se connecter"));

    let id = h.request(Req::public());
    let r = h
        .browser()
        .get_with(
            &h.authorize_path(PUBLIC, &id),
            &[("Accept-Language", "de, fr;q=0.8, en;q=0.5")],
        )
        .await;
    assert!(r.body.contains("Mot de passe"), "{}", r.body);

    let id = h.request(Req::public().locales("en"));
    let r = h
        .browser()
        .get_with(&h.authorize_path(PUBLIC, &id), &[("Accept-Language", "fr")])
        .await;
    assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Password"));

    // Error pages before a request is known use Accept-Language.
    let r = h
        .browser()
        .get_with("/oauth/authorize", &[("Accept-Language", "fr")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Le lien est incomplet"), "{}", r.body);
}
