//! Request bodies and queries of the OAuth endpoints,
//! `application/x-www-form-urlencoded`, read strictly.

use std::collections::HashMap;

use crate::error::OAuthError;

/// Parsed parameters: each name at most once.
#[derive(Debug, Clone, Default)]
pub struct FormParams {
    map: HashMap<String, String>,
}

impl FormParams {
    /// Parse a form body or query string.
    ///
    /// RFC 6749 §3.1: "Request and response parameters MUST NOT be included
    /// more than once" → a repeated name is `invalid_request`. "Parameters
    /// sent without a value MUST be treated as if they were omitted" → empty
    /// values are dropped.
    pub fn parse(body: &[u8]) -> Result<FormParams, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter \"{k}\" is repeated; each parameter may appear once (RFC 6749 §3.1)"
                )));
            }
        }
        Ok(FormParams { map })
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str, rule: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("missing required parameter \"{name}\" ({rule})"))
        })
    }

    /// Whether a parameter is present.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn parses_and_drops_empty_values() {
        let p = FormParams::parse(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y!"));
    }

    #[test]
    fn rejects_repeated_parameter() {
        let e = FormParams::parse(b"scope=atproto&scope=atproto").unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert!(e
            .error_description
            .unwrap()
            .contains("\"scope\" is repeated"));
    }

    #[test]
    fn require_names_the_parameter() {
        let e = FormParams::parse(b"")
            .unwrap()
            .require("state", "atproto profile")
            .unwrap_err();
        assert!(e.error_description.unwrap().contains("\"state\""));
    }
}
