//! Contract cases of `EmailCodeStore`, and the rules of
//! `atauth_core::email_code` run on each backend (the hostile cases:
//! expired code, another account's code, replay, too many attempts, each
//! refused with nothing changed). Each case quotes the sentence of the
//! trait's contract it checks.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

use atauth_core::email_code::{
    self, issue, redeem, CodeRefusal, EmailCodePurpose, CODE_LIFETIME_SECS, MAX_ATTEMPTS,
};
use atauth_core::store::{AccountStore, EmailCodeStore, StoredEmailCode};

use super::cases::{account, expect_backend_error, plc};
use super::TestDb;

const T: i64 = 1_790_000_000;
const RESET: EmailCodePurpose = EmailCodePurpose::ResetPassword;

/// Two accounts: 'a' (alice.test) and 'b' (bob.test).
fn two_accounts(db: &TestDb) {
    db.store
        .create_account(&account(plc('a'), "alice.test"))
        .expect("create a");
    db.store
        .create_account(&account(plc('b'), "bob.test"))
        .expect("create b");
}

fn code_for(c: char, purpose: EmailCodePurpose, now: i64) -> (String, StoredEmailCode) {
    let issued = issue(&plc(c), purpose, "someone@mail.test", now);
    (issued.code.as_str().to_string(), issued.record)
}

/// A code that differs from `code` in its first digit.
fn wrong(code: &str) -> String {
    let first = if code.starts_with('9') { '0' } else { '9' };
    format!("{first}{}", &code[1..])
}

/// "`put_email_code` stores a code and removes every earlier code of the
/// same account and purpose; codes of other purposes or accounts are
/// untouched." / "`email_code` returns the account's code of that purpose,
/// expired or not, with its attempts so far."
pub fn put_email_code_keeps_one_code_per_account_and_purpose(db: &TestDb) {
    two_accounts(db);
    let (_, first) = code_for('a', RESET, T);
    let (_, other_purpose) = code_for('a', EmailCodePurpose::SignIn, T);
    let (_, other_account) = code_for('b', RESET, T);
    for c in [&first, &other_purpose, &other_account] {
        db.store.put_email_code(c).expect("put");
    }
    assert_eq!(db.store.email_code(&plc('a'), RESET), Ok(Some(first)));
    let (_, second) = code_for('a', RESET, T + 5);
    db.store.put_email_code(&second).expect("put again");
    assert_eq!(
        db.store.email_code(&plc('a'), RESET),
        Ok(Some(second.clone()))
    );
    assert_eq!(
        db.store.email_code(&plc('a'), EmailCodePurpose::SignIn),
        Ok(Some(other_purpose))
    );
    assert_eq!(
        db.store.email_code(&plc('b'), RESET),
        Ok(Some(other_account))
    );
    assert_eq!(
        db.store
            .email_code(&plc('b'), EmailCodePurpose::VerifyEmail),
        Ok(None)
    );
    assert_eq!(db.raw_count("SELECT COUNT(*) AS n FROM email_codes"), Ok(3));
    // Expired codes are still returned (the rules decide).
    assert_eq!(
        db.store
            .email_code(&plc('a'), RESET)
            .expect("read")
            .map(|c| c.expires_at),
        Some(second.expires_at)
    );
}

/// "With a SQL backend the account must exist."
pub fn put_email_code_needs_the_account(db: &TestDb) {
    let (_, c) = code_for('z', RESET, T);
    expect_backend_error(db.store.put_email_code(&c), "no such account");
    assert_eq!(db.store.email_code(&plc('z'), RESET), Ok(None));
}

/// "`take_email_code_attempt(id, max)` adds one to the code's attempts and
/// returns true when it had fewer than `max`; otherwise (or when the code
/// is gone) it changes nothing and returns false."
pub fn take_email_code_attempt_counts_up_to_max(db: &TestDb) {
    two_accounts(db);
    let (_, c) = code_for('a', RESET, T);
    db.store.put_email_code(&c).expect("put");
    assert_eq!(db.store.take_email_code_attempt(&c.id, 2), Ok(true));
    assert_eq!(db.store.take_email_code_attempt(&c.id, 2), Ok(true));
    assert_eq!(db.store.take_email_code_attempt(&c.id, 2), Ok(false));
    let stored = db.store.email_code(&plc('a'), RESET).expect("read");
    assert_eq!(stored.map(|s| s.attempts), Some(2));
    assert_eq!(db.store.take_email_code_attempt("ec-gone", 9), Ok(false));
}

/// "It is atomic: of `n` concurrent calls on a code with `k` attempts, at
/// most `max - k` return true."
pub fn concurrent_attempts_never_exceed_max(db: &TestDb) {
    two_accounts(db);
    let (_, c) = code_for('a', RESET, T);
    db.store.put_email_code(&c).expect("put");
    let won = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = db.another_instance();
            let won = won.clone();
            let id = c.id.clone();
            thread::spawn(move || {
                if store.take_email_code_attempt(&id, 3).expect("attempt") {
                    won.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(won.load(Ordering::SeqCst), 3);
}

/// "`consume_email_code(id)` deletes the code and returns whether it was
/// there: of two concurrent calls exactly one returns true."
pub fn consume_email_code_has_one_winner(db: &TestDb) {
    two_accounts(db);
    let (_, c) = code_for('a', RESET, T);
    db.store.put_email_code(&c).expect("put");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = db.another_instance();
            let id = c.id.clone();
            thread::spawn(move || store.consume_email_code(&id).expect("consume"))
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(db.store.email_code(&plc('a'), RESET), Ok(None));
}

/// "`delete_email_codes(did)` deletes every code of the account and
/// returns how many went." / "`purge_email_codes(now)` deletes every code
/// with `expires_at <= now` and returns how many went."
pub fn delete_and_purge_email_codes(db: &TestDb) {
    two_accounts(db);
    for (c, p, at) in [
        ('a', RESET, T),
        ('a', EmailCodePurpose::SignIn, T + 100),
        ('b', RESET, T + 200),
    ] {
        db.store.put_email_code(&code_for(c, p, at).1).expect("put");
    }
    assert_eq!(
        db.store.purge_email_codes(T + 100 + CODE_LIFETIME_SECS),
        Ok(2)
    );
    assert_eq!(
        db.store.email_code(&plc('b'), RESET).map(|c| c.is_some()),
        Ok(true)
    );
    db.store
        .put_email_code(&code_for('b', EmailCodePurpose::SignIn, T).1)
        .expect("put");
    assert_eq!(db.store.delete_email_codes(&plc('b')), Ok(2));
    assert_eq!(db.store.delete_email_codes(&plc('b')), Ok(0));
    assert_eq!(db.raw_count("SELECT COUNT(*) AS n FROM email_codes"), Ok(0));
}

/// "`set_verified_email` records (or replaces) the account's verified
/// address; `verified_email` reads it." / "Deleting the account deletes
/// its codes and its verified address."
pub fn verified_email_round_trips_and_goes_with_the_account(db: &TestDb) {
    two_accounts(db);
    assert_eq!(db.store.verified_email(&plc('a')), Ok(None));
    db.store
        .set_verified_email(&plc('a'), "old@mail.test", T)
        .expect("set");
    db.store
        .set_verified_email(&plc('a'), "alice.test@mail.test", T + 1)
        .expect("replace");
    let v = db
        .store
        .verified_email(&plc('a'))
        .expect("read")
        .expect("some");
    assert_eq!(
        (v.did, v.email.as_str(), v.verified_at),
        (plc('a'), "alice.test@mail.test", T + 1)
    );
    db.store
        .put_email_code(&code_for('a', RESET, T).1)
        .expect("put");
    assert_eq!(db.store.delete_account(&plc('a')), Ok(true));
    assert_eq!(db.store.verified_email(&plc('a')), Ok(None));
    assert_eq!(db.raw_count("SELECT COUNT(*) AS n FROM email_codes"), Ok(0));
    expect_backend_error(
        db.store.set_verified_email(&plc('z'), "z@mail.test", T),
        "no such account",
    );
}

/// "`accounts_with_email` lists the accounts whose email equals the given
/// one, ignoring the case of ASCII letters, ordered by handle."
pub fn accounts_with_email_ignores_ascii_case(db: &TestDb) {
    for (c, h, e) in [
        ('c', "carol.test", Some("Shared@Mail.TEST")),
        ('a', "alice.test", Some("shared@mail.test")),
        ('b', "bob.test", Some("bob@mail.test")),
        ('d', "dave.test", None),
    ] {
        let mut acct = account(plc(c), h);
        acct.email = e.map(str::to_string);
        db.store.create_account(&acct).expect("create");
    }
    let found = db
        .store
        .accounts_with_email("SHARED@mail.test")
        .expect("find");
    let handles: Vec<&str> = found.iter().map(|a| a.handle.as_str()).collect();
    assert_eq!(handles, vec!["alice.test", "carol.test"]);
    assert_eq!(db.store.accounts_with_email("nobody@mail.test"), Ok(vec![]));
    assert_eq!(db.store.accounts_with_email(""), Ok(vec![]));
}

// ------------------------------------------- the rules, on this backend

/// A code redeemed once works; the replay is refused and changes nothing.
pub fn email_code_is_single_use(db: &TestDb) {
    two_accounts(db);
    let code =
        email_code::issue_and_store(&db.store, &plc('a'), RESET, "a@mail.test", T).expect("issue");
    let r = redeem(&db.store, &plc('a'), RESET, code.as_str(), T + 1).expect("redeem");
    assert_eq!(r.map(|c| c.email), Ok("a@mail.test".to_string()));
    assert_eq!(
        redeem(&db.store, &plc('a'), RESET, code.as_str(), T + 2).expect("replay"),
        Err(CodeRefusal::NoCode)
    );
}

/// An expired code is refused without spending an attempt.
pub fn rejects_expired_email_code(db: &TestDb) {
    two_accounts(db);
    let code =
        email_code::issue_and_store(&db.store, &plc('a'), RESET, "a@mail.test", T).expect("issue");
    let before = db.store.email_code(&plc('a'), RESET).expect("read");
    assert_eq!(
        redeem(
            &db.store,
            &plc('a'),
            RESET,
            code.as_str(),
            T + CODE_LIFETIME_SECS
        )
        .expect("redeem"),
        Err(CodeRefusal::Expired)
    );
    assert_eq!(db.store.email_code(&plc('a'), RESET), Ok(before));
}

/// Another account's code is refused; the owner's code still works.
pub fn rejects_email_code_of_another_account(db: &TestDb) {
    two_accounts(db);
    let alice =
        email_code::issue_and_store(&db.store, &plc('a'), RESET, "a@mail.test", T).expect("issue");
    assert_eq!(
        redeem(&db.store, &plc('b'), RESET, alice.as_str(), T).expect("redeem"),
        Err(CodeRefusal::NoCode)
    );
    assert!(redeem(&db.store, &plc('a'), RESET, alice.as_str(), T)
        .expect("redeem")
        .is_ok());
}

/// Past `MAX_ATTEMPTS` wrong tries the right code is refused too.
pub fn rejects_email_code_after_too_many_attempts(db: &TestDb) {
    two_accounts(db);
    let code =
        email_code::issue_and_store(&db.store, &plc('a'), RESET, "a@mail.test", T).expect("issue");
    for _ in 0..MAX_ATTEMPTS {
        assert_eq!(
            redeem(&db.store, &plc('a'), RESET, &wrong(code.as_str()), T).expect("redeem"),
            Err(CodeRefusal::Wrong)
        );
    }
    assert_eq!(
        redeem(&db.store, &plc('a'), RESET, code.as_str(), T).expect("redeem"),
        Err(CodeRefusal::Exhausted)
    );
    let stored = db.store.email_code(&plc('a'), RESET).expect("read");
    assert_eq!(stored.map(|c| c.attempts), Some(MAX_ATTEMPTS));
}
