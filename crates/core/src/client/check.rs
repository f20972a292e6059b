//! `atauth client check`: every rule, run to the end, as a report.
//!
//! Validation ([`ClientId::parse`], [`validate_metadata`](super::validate_metadata))
//! stops at the first broken rule; a developer fixing a document wants all
//! of them at once. Both walk the same rule tables, so the report and the
//! server can never disagree.

use serde::Serialize;

use super::client_id::{parse_url, ClientId, CLIENT_ID_RULES, CLIENT_ID_URL_RULE, LOOPBACK_RULES};
use super::metadata::{ClientMetadata, DOCUMENT_RULE, METADATA_RULES};
use super::{ClientError, Rule, RuleResult, Severity, Violation};

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// The rule's stable identifier (e.g. `scope.atproto`).
    pub rule_id: &'static str,
    /// The field the rule is about.
    pub field: &'static str,
    /// The spec section the rule comes from.
    pub section: &'static str,
    /// `error` (refuses the client) or `warning` (advice only).
    pub severity: Severity,
    /// Whether the rule held.
    pub passed: bool,
    /// The rule when it held; what was wrong when it did not.
    pub message: String,
    /// How to fix it, when it failed and a fix is known.
    pub fix: Option<String>,
}

/// The whole report for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The `client_id` checked, as given.
    pub client_id: String,
    /// Whether this server would accept the client: no `error` rule failed.
    pub accepted: bool,
    /// Every rule evaluated, in order.
    pub outcomes: Vec<RuleOutcome>,
}

impl CheckReport {
    /// The rules that failed (errors and warnings).
    pub fn failures(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.outcomes.iter().filter(|o| !o.passed)
    }
}

fn outcome<F>(rule: &Rule<F>, result: RuleResult) -> RuleOutcome {
    let (passed, message, fix) = match result {
        Ok(()) => (true, rule.rule.to_string(), None),
        Err(v) => (false, v.message, v.fix),
    };
    RuleOutcome {
        rule_id: rule.id,
        field: rule.field,
        section: rule.section,
        severity: rule.severity,
        passed,
        message,
        fix,
    }
}

fn from_error(e: ClientError) -> RuleOutcome {
    RuleOutcome {
        rule_id: e.rule_id,
        field: e.field,
        section: e.section,
        severity: Severity::Error,
        passed: false,
        message: e.message,
        fix: e.fix,
    }
}

fn accepted(outcomes: &[RuleOutcome]) -> bool {
    outcomes
        .iter()
        .all(|o| o.passed || o.severity == Severity::Warning)
}

/// Every `client_id` rule, and the parsed identifier when no MUST failed.
/// The loopback form is parsed in one pass, so its report lists the rules
/// up to the first one broken.
pub fn check_client_id(raw: &str) -> (Vec<RuleOutcome>, Option<ClientId>) {
    let url = match parse_url(raw) {
        Ok(u) => u,
        Err(v) => return (vec![outcome(&CLIENT_ID_URL_RULE, Err(v))], None),
    };
    let mut outcomes = vec![outcome(&CLIENT_ID_URL_RULE, Ok(()))];
    if super::client_id::is_loopback_form(&url) {
        return match ClientId::parse(raw) {
            Ok(id) => {
                outcomes.extend(LOOPBACK_RULES.iter().map(|r| outcome(r, Ok(()))));
                (outcomes, Some(id))
            }
            Err(e) => {
                outcomes.extend(
                    LOOPBACK_RULES
                        .iter()
                        .take_while(|r| r.id != e.rule_id)
                        .map(|r| outcome(r, Ok(()))),
                );
                outcomes.push(from_error(e));
                (outcomes, None)
            }
        };
    }
    outcomes.extend(
        CLIENT_ID_RULES
            .iter()
            .map(|r| outcome(r, (r.check)(raw, &url))),
    );
    let id = accepted(&outcomes).then_some(ClientId::Discoverable(url));
    (outcomes, id)
}

/// Every metadata rule on a document.
pub fn check_metadata(client_id: &ClientId, doc: &ClientMetadata) -> Vec<RuleOutcome> {
    METADATA_RULES
        .iter()
        .map(|r| outcome(r, (r.check)(client_id, doc)))
        .collect()
}

/// The full report for `atauth client check`: the `client_id`, then the
/// document. `document` is the fetched body of a discoverable client's
/// metadata (the caller fetches it the way the server does); a loopback
/// client's metadata is built here and `document` is ignored.
pub fn check_client(raw_client_id: &str, document: Option<&[u8]>) -> CheckReport {
    let (mut outcomes, id) = check_client_id(raw_client_id);
    if let Some(id) = id {
        let doc = match id.loopback_metadata() {
            Some(doc) => Ok(doc),
            None => match document {
                Some(body) => ClientMetadata::from_json(body),
                None => Err(DOCUMENT_RULE.error(Violation::new("no metadata document was fetched").fix("serve the document at the client_id URL with status 200 and Content-Type application/json"))),
            },
        };
        match doc {
            Ok(doc) => outcomes.extend(check_metadata(&id, &doc)),
            Err(e) => outcomes.push(from_error(e)),
        }
    }
    CheckReport {
        client_id: raw_client_id.to_string(),
        accepted: accepted(&outcomes),
        outcomes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good_doc() -> serde_json::Value {
        json!({
            "client_id": "https://app.example.com/client-metadata.json",
            "application_type": "web",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": ["https://app.example.com/callback"],
            "scope": "atproto transition:generic",
            "token_endpoint_auth_method": "none",
            "dpop_bound_access_tokens": true,
        })
    }

    #[test]
    fn good_client_passes_every_rule() {
        let body = serde_json::to_vec(&good_doc()).unwrap();
        let r = check_client("https://app.example.com/client-metadata.json", Some(&body));
        assert!(r.accepted, "{:?}", r.failures().collect::<Vec<_>>());
        assert_eq!(r.failures().count(), 0);
        assert_eq!(
            r.outcomes.len(),
            1 + CLIENT_ID_RULES.len() + METADATA_RULES.len()
        );
    }

    #[test]
    fn reports_every_broken_rule_not_just_the_first() {
        let mut doc = good_doc();
        doc["scope"] = json!("transition:generic transition:generic");
        doc["dpop_bound_access_tokens"] = json!(false);
        doc["logo_uri"] = json!("javascript:alert(1)");
        let body = serde_json::to_vec(&doc).unwrap();
        let r = check_client("https://app.example.com/client-metadata.json", Some(&body));
        assert!(!r.accepted);
        let failed: Vec<&str> = r.failures().map(|o| o.rule_id).collect();
        assert_eq!(
            failed,
            [
                "scope.atproto",
                "scope.unique",
                "dpop_bound_access_tokens.true",
                "logo_uri.https"
            ]
        );
        assert!(r.failures().all(|o| o.fix.is_some()));
    }

    #[test]
    fn query_in_client_id_is_a_warning_only() {
        let id = "https://app.example.com/client-metadata.json?v=1";
        let mut doc = good_doc();
        doc["client_id"] = json!(id);
        let r = check_client(id, Some(&serde_json::to_vec(&doc).unwrap()));
        assert!(r.accepted);
        let failed: Vec<(&str, Severity)> = r.failures().map(|o| (o.rule_id, o.severity)).collect();
        assert_eq!(failed, [("client_id.no_query", Severity::Warning)]);
    }

    #[test]
    fn bad_client_id_stops_before_the_document() {
        let r = check_client("http://app.example.com:8080/m.json", None);
        assert!(!r.accepted);
        let failed: Vec<&str> = r.failures().map(|o| o.rule_id).collect();
        assert_eq!(failed, ["client_id.https", "client_id.no_port"]);
        assert!(r.outcomes.iter().all(|o| o.field == "client_id"));
    }

    #[test]
    fn unparsable_or_missing_document_is_reported() {
        let r = check_client("https://app.example.com/m.json", Some(b"[1,2]"));
        assert_eq!(
            r.failures().map(|o| o.rule_id).collect::<Vec<_>>(),
            ["document.json"]
        );
        let r = check_client("https://app.example.com/m.json", Some(br#"{"scope": 3}"#));
        let f: Vec<(&str, &str)> = r.failures().map(|o| (o.rule_id, o.field)).collect();
        assert_eq!(f, [("document.json", "scope")]);
        let r = check_client("https://app.example.com/m.json", None);
        assert!(!r.accepted);
    }

    #[test]
    fn loopback_client_is_checked_with_built_metadata() {
        let r = check_client("http://localhost?scope=atproto+transition:generic", None);
        assert!(r.accepted, "{:?}", r.failures().collect::<Vec<_>>());
        let r = check_client("http://localhost?scope=transition:generic", None);
        assert_eq!(
            r.failures().map(|o| o.rule_id).collect::<Vec<_>>(),
            ["scope.atproto"]
        );
        let r = check_client("http://localhost:8080", None);
        assert_eq!(
            r.failures().map(|o| o.rule_id).collect::<Vec<_>>(),
            ["client_id.loopback_origin"]
        );
        let r = check_client("http://localhost/?redirect_uri=http://localhost/cb", None);
        let failed: Vec<&str> = r.failures().map(|o| o.rule_id).collect();
        assert_eq!(failed, ["client_id.loopback_redirect_uri"]);
        assert_eq!(r.outcomes.len(), 1 + LOOPBACK_RULES.len());
    }

    #[test]
    fn report_serialises_for_the_cli() {
        let r = check_client("http://localhost", None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["accepted"], true);
        assert_eq!(v["outcomes"][0]["rule_id"], "client_id.url");
        assert_eq!(v["outcomes"][0]["severity"], "error");
    }
}
