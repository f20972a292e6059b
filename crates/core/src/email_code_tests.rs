use super::*;
use crate::identity::Handle;
use crate::store::memory::MemoryStore;
use crate::store::{Account, AccountStore};

const NOW: i64 = 1_700_000_000;

fn did(n: &str) -> Did {
    Did::parse(&format!("did:web:{n}.example.com")).unwrap()
}

fn store_with(email: &str) -> MemoryStore {
    let s = MemoryStore::new();
    for (n, h) in [("alice", "alice.test"), ("bob", "bob.test")] {
        s.create_account(&Account {
            did: did(n),
            handle: Handle::parse(h).unwrap(),
            email: Some(email.to_string()),
            password_hash: "x".into(),
            created_at: NOW,
            disabled_at: None,
        })
        .unwrap();
    }
    s
}

fn wrong(code: &EmailCode) -> String {
    let mut digits: Vec<u8> = code.as_str().bytes().collect();
    digits[0] = if digits[0] == b'9' {
        b'0'
    } else {
        digits[0] + 1
    };
    String::from_utf8(digits).unwrap()
}

#[test]
fn codes_are_digits_and_differ() {
    let a = EmailCode::generate();
    let b = EmailCode::generate();
    assert_eq!(a.as_str().len(), CODE_DIGITS);
    assert!(a.as_str().bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(a, b, "two 8-digit codes collided (1 in 10^8)");
    assert_eq!(a.display().replace(' ', ""), a.as_str());
    assert!(!format!("{a:?}").contains(a.as_str()));
}

#[test]
fn issued_record_holds_a_salted_hash_not_the_code() {
    let issued = issue(
        &did("alice"),
        EmailCodePurpose::ResetPassword,
        "a@x.test",
        NOW,
    );
    let r = &issued.record;
    assert_eq!(r.expires_at, NOW + CODE_LIFETIME_SECS);
    assert_eq!(r.attempts, 0);
    assert!(!r.code_hash.contains(issued.code.as_str()));
    assert_eq!(r.code_hash, code_hash(&r.id, issued.code.as_str()));
    assert_ne!(r.code_hash, code_hash("ec-other", issued.code.as_str()));
    assert!(!format!("{r:?}").contains(&r.code_hash));
}

#[test]
fn input_normalisation() {
    assert_eq!(normalize_input(" 1234 5678 ").as_deref(), Some("12345678"));
    assert_eq!(normalize_input("1234-5678").as_deref(), Some("12345678"));
    for bad in ["", "1234567", "123456789", "1234567a", "１２３４５６７８"] {
        assert_eq!(normalize_input(bad), None, "{bad:?}");
    }
}

#[test]
fn purposes_round_trip() {
    for p in EmailCodePurpose::ALL {
        assert_eq!(EmailCodePurpose::parse(p.as_str()), Some(p));
    }
    assert_eq!(EmailCodePurpose::parse("other"), None);
}

#[test]
fn right_code_is_accepted_once() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::ResetPassword;
    let code = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    let r = redeem(&s, &did("alice"), p, &code.display(), NOW + 1).unwrap();
    assert_eq!(r.unwrap().email, "a@x.test");
    assert_eq!(
        redeem(&s, &did("alice"), p, code.as_str(), NOW + 2).unwrap(),
        Err(CodeRefusal::NoCode),
        "replay"
    );
}

#[test]
fn rejects_expired_code_without_spending_it() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::SignIn;
    let code = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    let at = NOW + CODE_LIFETIME_SECS;
    assert_eq!(
        redeem(&s, &did("alice"), p, code.as_str(), at).unwrap(),
        Err(CodeRefusal::Expired)
    );
    assert_eq!(s.email_code(&did("alice"), p).unwrap().unwrap().attempts, 0);
}

#[test]
fn rejects_code_of_another_account_or_purpose() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::ResetPassword;
    let alice = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    assert_eq!(
        redeem(&s, &did("bob"), p, alice.as_str(), NOW).unwrap(),
        Err(CodeRefusal::NoCode)
    );
    let _bob = issue_and_store(&s, &did("bob"), p, "a@x.test", NOW).unwrap();
    assert_eq!(
        redeem(&s, &did("bob"), p, alice.as_str(), NOW).unwrap(),
        Err(CodeRefusal::Wrong)
    );
    assert_eq!(
        redeem(
            &s,
            &did("alice"),
            EmailCodePurpose::SignIn,
            alice.as_str(),
            NOW
        )
        .unwrap(),
        Err(CodeRefusal::NoCode)
    );
    // Alice's code is still good.
    assert!(redeem(&s, &did("alice"), p, alice.as_str(), NOW)
        .unwrap()
        .is_ok());
}

#[test]
fn rejects_after_too_many_attempts_even_the_right_code() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::ResetPassword;
    let code = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    for _ in 0..MAX_ATTEMPTS {
        assert_eq!(
            redeem(&s, &did("alice"), p, &wrong(&code), NOW).unwrap(),
            Err(CodeRefusal::Wrong)
        );
    }
    assert_eq!(
        redeem(&s, &did("alice"), p, code.as_str(), NOW).unwrap(),
        Err(CodeRefusal::Exhausted)
    );
    // A new code replaces the spent one and works.
    let fresh = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    assert!(redeem(&s, &did("alice"), p, fresh.as_str(), NOW)
        .unwrap()
        .is_ok());
}

#[test]
fn malformed_input_spends_an_attempt() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::VerifyEmail;
    issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    assert_eq!(
        redeem(&s, &did("alice"), p, "not a code", NOW).unwrap(),
        Err(CodeRefusal::Wrong)
    );
    assert_eq!(s.email_code(&did("alice"), p).unwrap().unwrap().attempts, 1);
}

#[test]
fn a_new_code_replaces_the_old_one() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::ResetPassword;
    let old = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    let new = issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    if old != new {
        assert_eq!(
            redeem(&s, &did("alice"), p, old.as_str(), NOW).unwrap(),
            Err(CodeRefusal::Wrong)
        );
    }
    assert!(redeem(&s, &did("alice"), p, new.as_str(), NOW)
        .unwrap()
        .is_ok());
}

#[test]
fn verify_email_marks_the_current_address() {
    let s = store_with("Alice@X.test");
    let d = did("alice");
    assert!(!is_email_verified(Some("Alice@X.test"), None));
    let code = issue_and_store(&s, &d, EmailCodePurpose::VerifyEmail, "Alice@X.test", NOW).unwrap();
    assert_eq!(
        verify_email(&s, &d, &wrong(&code), NOW).unwrap(),
        Err(CodeRefusal::Wrong)
    );
    assert!(s.verified_email(&d).unwrap().is_none(), "nothing changed");
    assert_eq!(
        verify_email(&s, &d, code.as_str(), NOW).unwrap().as_deref(),
        Ok("Alice@X.test")
    );
    let v = s.verified_email(&d).unwrap();
    assert!(is_email_verified(Some("alice@x.test"), v.as_ref()));
    assert!(!is_email_verified(Some("other@x.test"), v.as_ref()));
    assert!(!is_email_verified(None, v.as_ref()));
}

#[test]
fn rejects_verification_code_sent_to_a_former_address() {
    let s = store_with("a@x.test");
    let d = did("alice");
    let code = issue_and_store(&s, &d, EmailCodePurpose::VerifyEmail, "old@x.test", NOW).unwrap();
    assert_eq!(
        verify_email(&s, &d, code.as_str(), NOW).unwrap(),
        Err(CodeRefusal::NoCode)
    );
    assert!(s.verified_email(&d).unwrap().is_none());
}

#[test]
fn accounts_with_email_ignore_ascii_case() {
    let s = store_with("Shared@X.test");
    let found = s.accounts_with_email("shared@x.TEST").unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].handle.as_str(), "alice.test");
    assert!(s.accounts_with_email("nobody@x.test").unwrap().is_empty());
}

#[test]
fn a_new_code_waits_a_minute_unless_the_last_is_spent() {
    let s = store_with("a@x.test");
    let p = EmailCodePurpose::SignIn;
    assert!(may_issue(None, NOW));
    issue_and_store(&s, &did("alice"), p, "a@x.test", NOW).unwrap();
    let current = s.email_code(&did("alice"), p).unwrap();
    assert!(!may_issue(current.as_ref(), NOW + RESEND_INTERVAL_SECS - 1));
    assert!(may_issue(current.as_ref(), NOW + RESEND_INTERVAL_SECS));
    let mut spent = current.unwrap();
    spent.attempts = MAX_ATTEMPTS;
    assert!(may_issue(Some(&spent), NOW + 1));
}
