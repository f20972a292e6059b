//! Mail through the real binary and a real SMTP server on loopback
//! (aiosmtpd, `support::smtp`), issue 13: "Forgot password?" end to end
//! with the code read from the delivered message, the same answer for an
//! unknown identifier with nothing sent, email verification, and the
//! hostile cases (expired code, another account's code, replay, too many
//! attempts), each refused with nothing changed. A mail server that does
//! not answer makes the page say so, never a 500.

use std::process::Command;

use atauth_core::identity::Did;
use atauth_core::store::{AccountStore, EmailCodeStore};
use serde_json::Value;

use crate::support::client::{urlencode, TestClient, REDIRECT_URI};
use crate::support::pages::{html_unescape, FormBrowser, Page};
use crate::support::smtp::{code_in, SmtpSink};
use crate::support::{Server, TestEnv};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// An account with an email address; returns its DID.
fn account_with_email(env: &TestEnv, handle: &str, email: &str) -> String {
    let out = env.run(
        &[
            "account",
            "create",
            "--handle",
            handle,
            "--email",
            email,
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "account create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = env.run(&["account", "list", "--json"], None);
    let v: Value = serde_json::from_slice(&list.stdout).expect("account list json");
    v.as_array()
        .and_then(|a| a.iter().find(|x| x["handle"] == handle))
        .and_then(|x| x["did"].as_str())
        .expect("created account listed")
        .to_string()
}

/// A server whose mail goes to `sink`.
fn serve(env: &TestEnv, sink: &SmtpSink) -> Server {
    let vars = sink.env();
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.serve(&pairs)
}

fn password_hash(env: &TestEnv, did: &str) -> String {
    env.store()
        .account_by_did(&Did::parse(did).unwrap())
        .unwrap()
        .unwrap()
        .password_hash
}

/// Sign in on `/account` with this password; the status (303 when it
/// worked, 400 when refused).
async fn sign_in(b: &mut FormBrowser, identifier: &str, password: &str) -> u16 {
    let home = b.get("/account").await;
    let mut form = home.expect_form("/account/sign-in");
    form.set("identifier", identifier).set("password", password);
    b.submit(&form).await.status
}

/// Ask for a reset code for `identifier`: the code step's page.
async fn ask_reset(b: &mut FormBrowser, identifier: &str) -> Page {
    let page = b.get("/account/reset").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut form = page.expect_form("/account/reset");
    form.set("identifier", identifier);
    b.submit(&form).await
}

/// Submit the code step with `code` and the new password.
async fn confirm_reset(b: &mut FormBrowser, code_page: &Page, code: &str, new: &str) -> Page {
    let mut form = code_page.expect_form("/account/reset/confirm");
    form.set("code", code).set("new", new).set("confirm", new);
    b.submit(&form).await
}

/// A code that is not `code` (first digit changed).
fn wrong(code: &str) -> String {
    let first = if code.starts_with('9') { '0' } else { '9' };
    format!("{first}{}", &code[1..])
}

/// Run SQL on the test's SQLite file (what the server never writes).
fn sqlite(env: &TestEnv, sql: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()")
        .arg(env.data_dir().join("atauth.sqlite"))
        .arg(sql)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn password_reset_end_to_end_with_the_code_from_the_delivered_message() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    // Another browser signed in with the old password.
    let mut other = FormBrowser::new(&server.issuer);
    assert_eq!(sign_in(&mut other, "alice.test", PASSWORD).await, 303);

    let mut b = FormBrowser::new(&server.issuer);
    let code_page = ask_reset(&mut b, "alice.test").await;
    assert_eq!(code_page.status, 200, "{}", code_page.body);
    let form = code_page.expect_form("/account/reset/confirm");
    assert_eq!(form.field("sign_out_all"), Some("1"), "ticked by default");

    let messages = sink.wait_for(1);
    let m = &messages[0];
    assert_eq!(m["rcpt"], serde_json::json!(["alice@mail.test"]));
    assert_eq!(m["to"], "alice@mail.test");
    assert_eq!(m["from"], "atauth tests <no-reply@localhost>");
    assert_eq!(m["subject"], "Reset your password");
    assert!(m["html"].as_str().unwrap().contains("alice.test"));
    let code = code_in(m);
    assert!(
        !code_page.body.contains(&code),
        "the code is only in the mail"
    );

    let done = confirm_reset(&mut b, &code_page, &code, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done
        .body
        .contains("every device and application was signed out"));

    // The new password works, the old one does not.
    let mut fresh = FormBrowser::new(&server.issuer);
    assert_eq!(sign_in(&mut fresh, "alice.test", PASSWORD).await, 400);
    assert_eq!(sign_in(&mut fresh, "alice.test", NEW_PASSWORD).await, 303);
    // The browser signed in before is signed out.
    let home = other.get("/account").await;
    assert!(home.body.contains("/account/sign-in"));
    assert!(!home.body.contains("@alice.test"), "{}", home.body);
    // Receiving the code proved the address.
    let store = env.store();
    let verified = store.verified_email(&Did::parse(&did).unwrap()).unwrap();
    assert_eq!(
        verified.map(|v| v.email).as_deref(),
        Some("alice@mail.test")
    );
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn reset_for_an_unknown_identifier_answers_as_for_a_known_one_and_sends_nothing() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let mut b = FormBrowser::new(&server.issuer);
    let hash_before = password_hash(&env, &did);

    let unknown_handle = ask_reset(&mut b, "nobody.test").await;
    let unknown_email = ask_reset(&mut b, "nobody@mail.test").await;
    let known = ask_reset(&mut b, "alice@mail.test").await;
    let same = |p: &Page, ident: &str| p.body.replace(ident, "IDENT");
    assert_eq!(unknown_handle.status, known.status);
    assert_eq!(unknown_email.status, known.status);
    assert_eq!(
        same(&unknown_handle, "nobody.test"),
        same(&known, "alice@mail.test")
    );
    assert_eq!(
        same(&unknown_email, "nobody@mail.test"),
        same(&known, "alice@mail.test")
    );

    // The known one's message arrives; the unknown ones sent nothing.
    let messages = sink.wait_for(1);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["rcpt"], serde_json::json!(["alice@mail.test"]));

    // A code for the unknown identifier is refused as a wrong code is.
    let code = code_in(&messages[0]);
    let for_unknown = confirm_reset(&mut b, &unknown_handle, &code, NEW_PASSWORD).await;
    let wrong_for_known = confirm_reset(&mut b, &known, &wrong(&code), NEW_PASSWORD).await;
    assert_eq!(for_unknown.status, 400);
    assert_eq!(wrong_for_known.status, 400);
    assert_eq!(
        same(&for_unknown, "nobody.test"),
        same(&wrong_for_known, "alice@mail.test")
    );
    assert_eq!(password_hash(&env, &did), hash_before, "nothing changed");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn email_verification_with_the_code_from_the_delivered_message() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "carol.test", "Carol@Mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let mut b = FormBrowser::new(&server.issuer);
    assert_eq!(sign_in(&mut b, "carol.test", PASSWORD).await, 303);
    let path = format!("/account/email?account={did}");
    let page = b.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Carol@Mail.test"));
    assert!(page.body.contains("not verified yet"));

    let sent = b.submit(&page.expect_form("/account/email/send")).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(sent.location().unwrap().contains("done=email_code_sent"));
    let messages = sink.wait_for(1);
    assert_eq!(messages[0]["subject"], "Confirm your email address");
    let code = code_in(&messages[0]);

    // A second request within the minute sends nothing new.
    let again = b.submit(&page.expect_form("/account/email/send")).await;
    assert_eq!(again.status, 429, "{}", again.body);

    let store = env.store();
    let d = Did::parse(&did).unwrap();
    let mut form = page.expect_form("/account/email/verify");
    form.set("code", &wrong(&code));
    let refused = b.submit(&form).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(store.verified_email(&d).unwrap(), None, "nothing changed");

    form.set("code", &format!("{} {}", &code[..4], &code[4..]));
    let ok = b.submit(&form).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(ok.location().unwrap().contains("done=email_verified"));
    let page = b.get(&path).await;
    assert!(page.body.contains("This address is verified."));
    assert_eq!(
        store
            .verified_email(&d)
            .unwrap()
            .map(|v| v.email)
            .as_deref(),
        Some("Carol@Mail.test")
    );
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn rejects_reset_code_of_another_account_with_nothing_changed() {
    let env = TestEnv::new();
    let alice = account_with_email(&env, "alice.test", "alice@mail.test");
    let bob = account_with_email(&env, "bob.test", "bob@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let (alice_before, bob_before) = (password_hash(&env, &alice), password_hash(&env, &bob));

    let mut b = FormBrowser::new(&server.issuer);
    let _alice_page = ask_reset(&mut b, "alice.test").await;
    let alice_code = code_in(&sink.wait_for(1)[0]);
    let bob_page = ask_reset(&mut b, "bob.test").await;
    sink.wait_for(2);
    let refused = confirm_reset(&mut b, &bob_page, &alice_code, NEW_PASSWORD).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("wrong or has expired"));
    assert_eq!(password_hash(&env, &alice), alice_before);
    assert_eq!(password_hash(&env, &bob), bob_before);
}

#[tokio::test]
async fn rejects_replayed_and_expired_reset_codes_with_nothing_changed() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let mut b = FormBrowser::new(&server.issuer);

    // Replay: the code works once.
    let page = ask_reset(&mut b, "alice.test").await;
    let code = code_in(&sink.wait_for(1)[0]);
    let done = confirm_reset(&mut b, &page, &code, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let after_reset = password_hash(&env, &did);
    let replay = confirm_reset(&mut b, &page, &code, "yet another passphrase").await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(password_hash(&env, &did), after_reset);

    // Expired: a fresh code whose ten minutes are over.
    let page = ask_reset(&mut b, "alice.test").await;
    let code = code_in(&sink.wait_for(2)[1]);
    sqlite(
        &env,
        "UPDATE email_codes SET created_at = created_at - 700, expires_at = expires_at - 700",
    );
    let expired = confirm_reset(&mut b, &page, &code, "yet another passphrase").await;
    assert_eq!(expired.status, 400, "{}", expired.body);
    assert_eq!(password_hash(&env, &did), after_reset);
}

#[tokio::test]
async fn wrong_codes_hit_the_rate_limit_and_exhaust_the_code_with_nothing_changed() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let before = password_hash(&env, &did);
    let mut b = FormBrowser::new(&server.issuer);
    let page = ask_reset(&mut b, "alice.test").await;
    let code = code_in(&sink.wait_for(1)[0]);
    for _ in 0..5 {
        let r = confirm_reset(&mut b, &page, &wrong(&code), NEW_PASSWORD).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    // Five failures lock the account out: not even the right code is read.
    let limited = confirm_reset(&mut b, &page, &code, NEW_PASSWORD).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let wait: u64 = limited
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    // Once the lock is over, the code's five attempts are spent.
    let exhausted = confirm_reset(&mut b, &page, &code, NEW_PASSWORD).await;
    assert_eq!(exhausted.status, 400, "{}", exhausted.body);
    assert_eq!(password_hash(&env, &did), before);
}

#[tokio::test]
async fn an_unreachable_mail_server_is_reported_on_the_page_not_as_a_500() {
    let env = TestEnv::new();
    let did = account_with_email(&env, "dave.test", "dave@mail.test");
    let closed = crate::support::flow::free_port();
    let url = format!("smtp://127.0.0.1:{closed}");
    let server = env.serve(&[
        ("ATAUTH_MAIL__SMTP_URL", url.as_str()),
        ("ATAUTH_MAIL__FROM", "atauth <no-reply@localhost>"),
        ("ATAUTH_MAIL__MAX_ATTEMPTS", "1"),
    ]);
    let mut b = FormBrowser::new(&server.issuer);
    assert_eq!(sign_in(&mut b, "dave.test", PASSWORD).await, 303);
    let page = b.get(&format!("/account/email?account={did}")).await;
    let r = b.submit(&page.expect_form("/account/email/send")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("could not be sent"), "{}", r.body);
}

#[tokio::test]
async fn in_dev_without_smtp_messages_are_written_to_files() {
    let env = TestEnv::new();
    account_with_email(&env, "erin.test", "erin@mail.test");
    let server = env.serve(&[]);
    let mut b = FormBrowser::new(&server.issuer);
    let page = ask_reset(&mut b, "erin.test").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let dir = env.data_dir().join("mail");
    let mut written = Vec::new();
    for _ in 0..600 {
        written = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if !written.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(written.len(), 1, "one .eml under {}", dir.display());
    let eml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(eml.contains("To: erin@mail.test"), "{eml}");
}

#[tokio::test]
async fn an_address_shared_by_two_accounts_sends_nothing_but_the_handle_does() {
    let env = TestEnv::new();
    account_with_email(&env, "first.test", "family@mail.test");
    account_with_email(&env, "second.test", "family@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let mut b = FormBrowser::new(&server.issuer);
    let by_address = ask_reset(&mut b, "FAMILY@mail.test").await;
    assert_eq!(by_address.status, 200, "{}", by_address.body);
    let by_handle = ask_reset(&mut b, "second.test").await;
    assert_eq!(by_handle.status, 200, "{}", by_handle.body);
    let messages = sink.wait_for(1);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0]["text"]
        .as_str()
        .unwrap()
        .contains("second.test"));
}

#[tokio::test]
async fn rejects_a_reset_request_without_the_csrf_token_and_sends_nothing() {
    let env = TestEnv::new();
    account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let mut b = FormBrowser::new(&server.issuer);
    let page = b.get("/account/reset").await;
    let mut form = page.expect_form("/account/reset");
    form.set("identifier", "alice.test").set("csrf", "forged");
    let r = b.submit(&form).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A proper request afterwards is the only message.
    ask_reset(&mut b, "bob.test").await;
    ask_reset(&mut b, "alice.test").await;
    let messages = sink.wait_for(1);
    assert_eq!(messages.len(), 1, "{messages:?}");
}

/// The `href` of the first link whose target starts with `prefix`
/// (attributes unescaped: tera writes `/` as `&#x2F;`).
fn link(page: &Page, prefix: &str) -> String {
    let body = html_unescape(&page.body);
    let start = body
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix} in {}", page.body))
        + "href=\"".len();
    let end = start + body[start..].find('"').expect("end of href");
    body[start..end].to_string()
}

#[tokio::test]
async fn forgot_password_on_the_authorization_sign_in_leads_back_to_the_request() {
    let env = TestEnv::new();
    account_with_email(&env, "alice.test", "alice@mail.test");
    let sink = SmtpSink::start();
    let server = serve(&env, &sink);
    let client = TestClient::loopback(&server, "atproto transition:generic");
    let (r, _verifier) = client.par(&[]).await;
    assert_eq!(r.status, 201, "{:?}", r.json);
    let request_uri = r.json["request_uri"].as_str().unwrap().to_string();
    let authorize = format!(
        "/oauth/authorize?client_id={}&request_uri={}",
        urlencode(&client.client_id),
        urlencode(&request_uri)
    );
    let mut b = FormBrowser::new(&server.issuer);
    let page = b.get(&authorize).await;
    let page = b.until_redirect_to(page, REDIRECT_URI).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.expect_form("/oauth/authorize/sign-in");

    let forgot = b.get(&link(&page, "/account/reset?")).await;
    assert_eq!(forgot.status, 200, "{}", forgot.body);
    let mut form = forgot.expect_form("/account/reset");
    assert_eq!(form.field("request_uri"), Some(request_uri.as_str()));
    form.set("identifier", "alice.test");
    let code_page = b.submit(&form).await;
    let code = code_in(&sink.wait_for(1)[0]);
    let done = confirm_reset(&mut b, &code_page, &code, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);

    // Back to the same request: sign in with the new password, consent.
    let back = link(&done, "/oauth/authorize?");
    assert!(back.contains(&urlencode(&request_uri)), "{back}");
    let page = b.get(&back).await;
    let page = b.until_redirect_to(page, REDIRECT_URI).await;
    let mut sign_in = page.expect_form("/oauth/authorize/sign-in");
    sign_in
        .set("identifier", "alice.test")
        .set("password", NEW_PASSWORD);
    let page = b.submit(&sign_in).await;
    let page = b.until_redirect_to(page, REDIRECT_URI).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.expect_form("/oauth/authorize/consent");
}
