//! Which page comes next: the pure rules of the authorization UI (SPEC §5),
//! free of HTTP and storage so they can be read and tested as a table.
//!
//! - An account signed in on the device is *usable* for a request when
//!   it matches the `login_hint` (if any), its sign-in is fresh (remembered,
//!   or less than `fresh_secs` old — policy: 1 h), and, under
//!   `prompt=login`, its password was entered after the request was
//!   created.
//! - `prompt=none`: no page at all; no usable account → `login_required`,
//!   several → `account_selection_required`, one that needs consent →
//!   `consent_required`.
//! - `prompt=select_account`: the chooser whenever an account is usable.
//! - Otherwise: no usable account → sign-in; one → consent step; several →
//!   chooser.
//! - Consent is skipped only when `prompt` is not `consent`, the client is
//!   trusted by the operator or confidential, and the account already
//!   approved every requested scope for this client. Never for an
//!   untrusted public client.

use atauth_core::store::{Account, DeviceAccount};
use atauth_core::ErrorCode;

/// An active account signed in on the device.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The account.
    pub account: Account,
    /// Its sign-in on this device.
    pub link: DeviceAccount,
}

/// What the rules look at.
#[derive(Debug, Clone)]
pub struct FlowInput<'a> {
    /// The request's `prompt`.
    pub prompt: Option<&'a str>,
    /// The request's `login_hint` (a DID or a lowercase handle, as PAR
    /// normalised it).
    pub hint: Option<&'a str>,
    /// When PAR created the request.
    pub request_created_at: i64,
    /// Now.
    pub now: i64,
    /// How long a sign-in without "remember this device" lasts.
    pub fresh_secs: i64,
}

/// What to show, or what to answer without a page.
#[derive(Debug, Clone)]
pub enum Step {
    /// The sign-in form.
    SignIn,
    /// The account chooser with these accounts.
    Chooser(Vec<Candidate>),
    /// An account is settled: go on to consent.
    Account(Box<Candidate>),
    /// `prompt=none` cannot be satisfied: redirect with this error.
    Fail(ErrorCode),
}

/// Whether an account is the one `login_hint` names.
pub fn matches_hint(account: &Account, hint: Option<&str>) -> bool {
    match hint {
        None => true,
        Some(h) => account.did.as_str() == h || account.handle.as_str() == h,
    }
}

/// Whether a signed-in account may be used for this request without
/// entering its password again.
pub fn usable(input: &FlowInput<'_>, c: &Candidate) -> bool {
    let at = c.link.authenticated_at;
    let fresh = c.link.remember || input.now - at < input.fresh_secs;
    let login_ok = input.prompt != Some("login") || at >= input.request_created_at;
    c.account.is_active() && matches_hint(&c.account, input.hint) && fresh && login_ok
}

/// The usable accounts among the device's, in the device's order.
pub fn usable_accounts(input: &FlowInput<'_>, candidates: &[Candidate]) -> Vec<Candidate> {
    candidates
        .iter()
        .filter(|c| usable(input, c))
        .cloned()
        .collect()
}

/// The first step at `GET /oauth/authorize`.
pub fn initial_step(input: &FlowInput<'_>, candidates: &[Candidate]) -> Step {
    let mut usable = usable_accounts(input, candidates);
    match input.prompt {
        Some("none") => match usable.len() {
            0 => Step::Fail(ErrorCode::LoginRequired),
            1 => Step::Account(Box::new(usable.remove(0))),
            _ => Step::Fail(ErrorCode::AccountSelectionRequired),
        },
        Some("select_account") if !usable.is_empty() => Step::Chooser(usable),
        _ => match usable.len() {
            0 => Step::SignIn,
            1 => Step::Account(Box::new(usable.remove(0))),
            _ => Step::Chooser(usable),
        },
    }
}

/// Find a usable account by DID (the chooser's and consent form's
/// `account` field): `None` when it is not signed in here, not fresh, or
/// not the hinted one.
pub fn pick(input: &FlowInput<'_>, candidates: &[Candidate], did: &str) -> Option<Candidate> {
    candidates
        .iter()
        .find(|c| c.account.did.as_str() == did && usable(input, c))
        .cloned()
}

/// What the consent rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct ConsentInput<'a> {
    /// The request's `prompt`.
    pub prompt: Option<&'a str>,
    /// The operator trusts the client.
    pub trusted: bool,
    /// The client authenticates (`private_key_jwt`).
    pub confidential: bool,
    /// The requested scope, space-separated.
    pub requested: &'a str,
    /// What this account approved for this client before, space-separated.
    pub approved: Option<&'a str>,
}

/// Whether the consent page must be shown.
pub fn consent_needed(c: &ConsentInput<'_>) -> bool {
    if c.prompt == Some("consent") || !(c.trusted || c.confidential) {
        return true;
    }
    let Some(approved) = c.approved else {
        return true;
    };
    let approved: Vec<&str> = approved.split_ascii_whitespace().collect();
    !c.requested
        .split_ascii_whitespace()
        .all(|t| approved.contains(&t))
}

/// The scope to remember after an approval: what was approved before plus
/// what was approved now, each once, earlier first.
pub fn merged_scope(previous: Option<&str>, requested: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for t in previous
        .unwrap_or("")
        .split_ascii_whitespace()
        .chain(requested.split_ascii_whitespace())
    {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::identity::{Did, Handle};

    const NOW: i64 = 1_000_000;

    fn cand(handle: &str, did: &str, at: i64, remember: bool) -> Candidate {
        let did = Did::parse(did).unwrap();
        Candidate {
            account: Account {
                did: did.clone(),
                handle: Handle::parse(handle).unwrap(),
                email: None,
                password_hash: String::new(),
                created_at: 0,
                disabled_at: None,
            },
            link: DeviceAccount {
                device_id: "dev-x".into(),
                did,
                authenticated_at: at,
                remember,
            },
        }
    }

    fn alice(at: i64, remember: bool) -> Candidate {
        cand(
            "alice.test",
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            at,
            remember,
        )
    }
    fn bob(at: i64, remember: bool) -> Candidate {
        cand("bob.test", "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", at, remember)
    }

    fn input<'a>(prompt: Option<&'a str>, hint: Option<&'a str>) -> FlowInput<'a> {
        FlowInput {
            prompt,
            hint,
            request_created_at: NOW - 10,
            now: NOW,
            fresh_secs: 3600,
        }
    }

    fn kind(s: &Step) -> String {
        match s {
            Step::SignIn => "sign-in".into(),
            Step::Chooser(v) => format!("chooser:{}", v.len()),
            Step::Account(c) => format!("account:{}", c.account.handle),
            Step::Fail(e) => format!("fail:{e}"),
        }
    }

    #[test]
    fn step_table() {
        let fresh = NOW - 60;
        let stale = NOW - 7200;
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Vec<Candidate>, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (None, None, vec![], "sign-in"),
            (None, None, vec![alice(fresh, false)], "account:alice.test"),
            (None, None, vec![alice(stale, false)], "sign-in"),
            (None, None, vec![alice(stale, true)], "account:alice.test"),
            (
                None,
                None,
                vec![alice(fresh, false), bob(fresh, true)],
                "chooser:2",
            ),
            (
                None,
                Some("bob.test"),
                vec![alice(fresh, false), bob(fresh, true)],
                "account:bob.test",
            ),
            (
                None,
                Some("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"),
                vec![alice(fresh, false), bob(fresh, true)],
                "account:bob.test",
            ),
            (
                None,
                Some("carol.test"),
                vec![alice(fresh, false), bob(fresh, true)],
                "sign-in",
            ),
            (Some("none"), None, vec![], "fail:login_required"),
            (
                Some("none"),
                None,
                vec![alice(stale, false)],
                "fail:login_required",
            ),
            (
                Some("none"),
                None,
                vec![alice(fresh, false)],
                "account:alice.test",
            ),
            (
                Some("none"),
                None,
                vec![alice(fresh, false), bob(fresh, false)],
                "fail:account_selection_required",
            ),
            (
                Some("none"),
                Some("bob.test"),
                vec![alice(fresh, false), bob(fresh, false)],
                "account:bob.test",
            ),
            (Some("login"), None, vec![alice(fresh, true)], "sign-in"),
            (
                Some("login"),
                None,
                vec![alice(NOW - 5, false)],
                "account:alice.test",
            ),
            (
                Some("select_account"),
                None,
                vec![alice(fresh, true)],
                "chooser:1",
            ),
            (
                Some("select_account"),
                Some("bob.test"),
                vec![alice(fresh, true), bob(fresh, true)],
                "chooser:1",
            ),
            (Some("select_account"), None, vec![], "sign-in"),
            (
                Some("consent"),
                None,
                vec![alice(fresh, true)],
                "account:alice.test",
            ),
        ];
        for (prompt, hint, cands, want) in cases {
            let got = kind(&initial_step(&input(prompt, hint), &cands));
            assert_eq!(got, want, "prompt={prompt:?} hint={hint:?}");
        }
    }

    #[test]
    fn disabled_accounts_are_never_usable() {
        let mut a = alice(NOW, true);
        a.account.disabled_at = Some(NOW - 1);
        assert!(!usable(&input(None, None), &a));
    }

    #[test]
    fn pick_respects_hint_and_freshness() {
        let cands = vec![alice(NOW - 60, false), bob(NOW - 7200, false)];
        let i = input(None, None);
        assert!(pick(&i, &cands, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").is_some());
        assert!(
            pick(&i, &cands, "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb").is_none(),
            "stale"
        );
        assert!(
            pick(&i, &cands, "did:plc:cccccccccccccccccccccccc").is_none(),
            "not here"
        );
        let hinted = input(None, Some("bob.test"));
        assert!(
            pick(&hinted, &cands, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").is_none(),
            "not the hint"
        );
    }

    #[test]
    fn consent_table() {
        let c = |prompt, trusted, confidential, approved| {
            consent_needed(&ConsentInput {
                prompt,
                trusted,
                confidential,
                requested: "atproto transition:generic",
                approved,
            })
        };
        let all = Some("transition:generic atproto transition:email");
        assert!(!c(None, true, false, all));
        assert!(!c(None, false, true, all));
        assert!(
            c(None, false, false, all),
            "untrusted public client: always"
        );
        assert!(c(Some("consent"), true, true, all));
        assert!(c(None, true, true, None));
        assert!(c(None, true, true, Some("atproto")), "narrower approval");
        assert!(!c(Some("none"), true, false, all));
    }

    #[test]
    fn merged_scope_keeps_order_and_dedupes() {
        assert_eq!(
            merged_scope(
                Some("atproto transition:email"),
                "atproto transition:generic"
            ),
            "atproto transition:email transition:generic"
        );
        assert_eq!(merged_scope(None, "atproto"), "atproto");
    }
}
