//! What the account pages show: dates, accounts, scopes in words, the
//! confirmation after an action.

use atauth_core::scope;
use serde_json::{json, Value};

use super::super::flow::Candidate;
use super::super::i18n::Messages;

/// The confirmations a page shows after an action (`done=…`), each a
/// catalogue key `done.<name>`. Anything else shows nothing.
const DONE: &[&str] = &[
    "signed_in",
    "signed_out",
    "revoked",
    "revoked_all",
    "device_signed_out",
    "password_changed",
    "password_changed_revoked",
    "email_code_sent",
    "email_verified",
];

/// The confirmation for a `done` parameter, if it is one of [`DONE`].
pub fn done_message(msgs: &Messages, done: Option<&str>) -> Option<String> {
    let name = DONE.iter().find(|d| Some(**d) == done)?;
    Some(msgs.get(&format!("done.{name}")).to_string())
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian; the
/// days-from-civil inverse of Howard Hinnant's `civil_from_days`).
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// `account=DID`, encoded for a link.
pub fn account_query(did: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("account", did)
        .finish()
}

/// An account signed in on this browser.
pub fn account(c: &Candidate, manageable: bool) -> Value {
    let handle = c.account.handle.as_str();
    json!({
        "did": c.account.did.as_str(),
        "handle": handle,
        "label": format!("@{handle}"),
        "query": account_query(c.account.did.as_str()),
        "remember": c.link.remember,
        "signed_in_at": utc(c.link.authenticated_at),
        "manageable": manageable,
    })
}

/// Each scope token in plain words (catalogue), or verbatim when the
/// catalogue has none.
pub fn scopes(msgs: &Messages, tokens: &[String]) -> Vec<Value> {
    tokens
        .iter()
        .map(|token| {
            let text = scope::describe(token).map(|key| msgs.get(key));
            json!({ "token": token, "text": text })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_462_146), "2026-11-23 19:29 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn only_known_confirmations_are_shown() {
        let c = super::super::super::i18n::Catalogue::load(&[]);
        let m = c.messages("en");
        assert!(done_message(m, Some("revoked")).is_some());
        assert_eq!(done_message(m, Some("error.csrf")), None);
        assert_eq!(done_message(m, Some("<script>")), None);
        assert_eq!(done_message(m, None), None);
    }

    #[test]
    fn every_confirmation_exists_in_every_language() {
        let c = super::super::super::i18n::Catalogue::load(&[]);
        for lang in ["en", "fr"] {
            let m = c.messages(lang);
            for d in DONE {
                let key = format!("done.{d}");
                assert_ne!(m.get(&key), key, "{lang} lacks {key}");
            }
        }
    }
}
