use std::time::Duration;

use atauth_core::email_code::{EmailCode, EmailCodePurpose};

use super::*;

const ISSUER: &str = "https://auth.example.com";

fn langs() -> Vec<String> {
    vec!["en".into(), "fr".into()]
}

fn code_mail(purpose: EmailCodePurpose, code: &EmailCode) -> MailContent {
    MailContent::Code {
        purpose,
        code: code.clone(),
        handle: "alice.example.com".into(),
    }
}

fn file_settings(dir: &std::path::Path) -> MailSettings {
    MailSettings {
        transport: MailTransport::File {
            dir: dir.to_path_buf(),
        },
        from: "atauth <no-reply@auth.example.com>".into(),
        ..MailSettings::default()
    }
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn renders_each_purpose_in_each_language() {
    let r = render::Renderer::new(ISSUER, &langs()).unwrap();
    let code = EmailCode::generate();
    for lang in ["en", "fr"] {
        for purpose in EmailCodePurpose::ALL {
            let out = r.render(lang, &code_mail(purpose, &code)).unwrap();
            assert!(!out.subject.is_empty() && !out.subject.starts_with("mail."));
            assert!(!out.subject.contains(code.as_str()), "no code in subjects");
            assert!(out.text.contains(&code.display()), "{}", out.text);
            assert!(out.html.contains(&code.display()), "{}", out.html);
            assert!(out.text.contains("alice.example.com"), "{}", out.text);
            assert!(!out.text.contains('{'), "unfilled: {}", out.text);
            assert!(out.html.contains(&format!("lang=\"{lang}\"")));
        }
    }
    let en = r.render("en", &code_mail(EmailCodePurpose::ResetPassword, &code));
    let fr = r.render("fr", &code_mail(EmailCodePurpose::ResetPassword, &code));
    assert_ne!(en.unwrap().subject, fr.unwrap().subject);
}

#[test]
fn unknown_language_falls_back_to_english() {
    let r = render::Renderer::new(ISSUER, &langs()).unwrap();
    let code = EmailCode::generate();
    let de = r
        .render("de", &code_mail(EmailCodePurpose::SignIn, &code))
        .unwrap();
    let en = r
        .render("en", &code_mail(EmailCodePurpose::SignIn, &code))
        .unwrap();
    assert_eq!(de.subject, en.subject);
}

#[test]
fn disabled_mailer_sends_nothing() {
    let m = Mailer::start(&MailSettings::default(), ISSUER, &langs()).unwrap();
    assert!(!m.is_enabled());
    let code = EmailCode::generate();
    let r = m.send(
        "a@example.com",
        "en",
        &code_mail(EmailCodePurpose::SignIn, &code),
    );
    assert_eq!(r.err(), Some(MailError::Disabled));
}

#[test]
fn rejects_unusable_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = file_settings(dir.path());
    s.from = "not a mailbox".into();
    assert!(matches!(
        Mailer::start(&s, ISSUER, &langs()),
        Err(MailError::Settings(_))
    ));
    let s = MailSettings {
        transport: MailTransport::Smtp {
            url: "ftp://user:secret@mail.example.com".into(),
        },
        ..file_settings(dir.path())
    };
    match Mailer::start(&s, ISSUER, &langs()) {
        Err(MailError::Settings(msg)) => assert!(!msg.contains("secret"), "{msg}"),
        other => panic!("expected a settings error, got {other:?}"),
    }
}

#[tokio::test]
async fn file_mailer_writes_one_message_per_send() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mailer::start(&file_settings(dir.path()), ISSUER, &langs()).unwrap();
    let code = EmailCode::generate();
    let receipt = m
        .send(
            "Alice <alice@example.org>",
            "fr",
            &code_mail(EmailCodePurpose::VerifyEmail, &code),
        )
        .unwrap();
    assert_eq!(
        receipt.first_attempt(Duration::from_secs(10)).await,
        Delivery::Sent
    );
    let written = files(dir.path());
    assert_eq!(written.len(), 1);
    let eml = &written[0];
    assert!(eml.contains("To: Alice <alice@example.org>"), "{eml}");
    assert!(
        eml.contains("From: atauth <no-reply@auth.example.com>"),
        "{eml}"
    );
    assert!(eml.contains("@auth.example.com>"), "Message-ID: {eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
}

#[test]
fn rejects_a_bad_recipient_without_queueing() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mailer::start(&file_settings(dir.path()), ISSUER, &langs()).unwrap();
    let code = EmailCode::generate();
    let r = m.send(
        "not an address",
        "en",
        &code_mail(EmailCodePurpose::SignIn, &code),
    );
    assert_eq!(r.err(), Some(MailError::BadAddress));
}

#[tokio::test]
async fn unreachable_smtp_server_is_reported_as_failed_not_a_panic() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = MailSettings {
        transport: MailTransport::Smtp {
            url: format!("smtp://127.0.0.1:{port}"),
        },
        from: "atauth <no-reply@auth.example.com>".into(),
        timeout: Duration::from_secs(5),
        max_attempts: 1,
        retry_pause: Duration::from_millis(10),
    };
    let m = Mailer::start(&s, ISSUER, &langs()).unwrap();
    let code = EmailCode::generate();
    let receipt = m
        .send(
            "a@example.com",
            "en",
            &code_mail(EmailCodePurpose::SignIn, &code),
        )
        .unwrap();
    assert_eq!(
        receipt.first_attempt(Duration::from_secs(20)).await,
        Delivery::Failed
    );
}

#[test]
fn transport_debug_hides_the_url() {
    let t = MailTransport::Smtp {
        url: "smtps://user:secret@mail.example.com".into(),
    };
    assert!(!format!("{t:?}").contains("secret"));
}
