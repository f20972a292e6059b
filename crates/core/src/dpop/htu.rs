//! The `htu` comparison of RFC 9449 §4.3 (9).
//!
//! "The htu claim matches the HTTP URI value for the HTTP request in which
//! the JWT was received, ignoring any query and fragment parts", and
//! "servers SHOULD employ syntax-based normalization (Section 6.2.2 of
//! RFC 3986) and scheme-based normalization (Section 6.2.3 of RFC 3986)
//! before comparing". Both sides go through [`normalize`]:
//!
//! - scheme and host lowercased, IDNA hosts in their ASCII form, a default
//!   port dropped, an empty path made `/` (the `url` crate's parser does
//!   all of these for the special schemes http and https);
//! - dot segments removed (the parser again, `%2e` included);
//! - percent-encoding normalised: hex digits uppercased, and escapes of
//!   unreserved characters (RFC 3986 §2.3) decoded;
//! - query and fragment dropped (SPEC §7: some clients put the query
//!   string in `htu`).

use url::Url;

/// Why a URI could not be used as an `htu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtuError {
    /// Not an absolute URI.
    NotAUrl,
    /// Not http or https.
    NotHttp,
    /// Carries `user:password@`.
    Credentials,
}

impl HtuError {
    /// The rule, in words, for an error description.
    pub fn describe(self) -> &'static str {
        match self {
            HtuError::NotAUrl => "is not an absolute URL",
            HtuError::NotHttp => "must be an http or https URL",
            HtuError::Credentials => "must not carry credentials",
        }
    }
}

/// The normalised form of an `htu` or request URI: `scheme://host[:port]/path`,
/// without query or fragment.
pub fn normalize(uri: &str) -> Result<String, HtuError> {
    let url = Url::parse(uri).map_err(|_| HtuError::NotAUrl)?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(HtuError::NotHttp);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HtuError::Credentials);
    }
    let host = url.host_str().ok_or(HtuError::NotAUrl)?;
    let mut out = String::with_capacity(uri.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    // `port()` is None for the scheme's default port (RFC 3986 §6.2.3).
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    normalize_percent_encoding(url.path(), &mut out);
    Ok(out)
}

/// RFC 3986 §6.2.2.1 and §6.2.2.2: uppercase the hex digits of every
/// percent-escape, and decode escapes of unreserved characters.
fn normalize_percent_encoding(path: &str, out: &mut String) {
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let rest = chars.as_str();
        let decoded = rest
            .get(..2)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(byte) => {
                if is_unreserved(byte) {
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push_str(&format!("{byte:02X}"));
                }
                // Skip the two hex digits (ASCII, so two chars).
                chars.next();
                chars.next();
            }
            // A lone `%` stays as it is (the parser already encodes most).
            None => out.push('%'),
        }
    }
}

/// RFC 3986 §2.3: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).unwrap()
    }

    #[test]
    fn drops_query_and_fragment() {
        assert_eq!(
            n("https://pds.example/oauth/token?a=1#f"),
            "https://pds.example/oauth/token"
        );
    }

    #[test]
    fn lowercases_scheme_and_host_and_drops_default_port() {
        assert_eq!(
            n("HTTPS://PDS.Example:443/oauth/token"),
            "https://pds.example/oauth/token"
        );
        assert_eq!(n("http://pds.example:80/x"), "http://pds.example/x");
    }

    #[test]
    fn keeps_non_default_port() {
        assert_eq!(
            n("https://pds.example:8443/x"),
            "https://pds.example:8443/x"
        );
        assert_ne!(n("https://pds.example:8443/x"), n("https://pds.example/x"));
    }

    #[test]
    fn empty_path_is_slash() {
        assert_eq!(n("https://pds.example"), "https://pds.example/");
    }

    #[test]
    fn normalises_percent_encoding() {
        assert_eq!(n("https://pds.example/a%2fb"), "https://pds.example/a%2Fb");
        assert_eq!(
            n("https://pds.example/%7Euser/%41"),
            "https://pds.example/~user/A"
        );
        assert_eq!(n("https://pds.example/a%zz"), "https://pds.example/a%zz");
        assert_eq!(n("https://pds.example/a%"), "https://pds.example/a%");
    }

    #[test]
    fn removes_dot_segments() {
        assert_eq!(
            n("https://pds.example/a/../oauth/./token"),
            "https://pds.example/oauth/token"
        );
        assert_eq!(
            n("https://pds.example/a/%2e%2E/token"),
            "https://pds.example/token"
        );
    }

    #[test]
    fn path_case_is_significant() {
        assert_ne!(
            n("https://pds.example/OAuth/token"),
            n("https://pds.example/oauth/token")
        );
    }

    #[test]
    fn rejects_non_http_relative_and_credentials() {
        assert_eq!(normalize("/oauth/token").unwrap_err(), HtuError::NotAUrl);
        assert_eq!(
            normalize("ftp://pds.example/x").unwrap_err(),
            HtuError::NotHttp
        );
        assert_eq!(normalize("urn:x:y").unwrap_err(), HtuError::NotHttp);
        assert_eq!(
            normalize("https://u:p@pds.example/x").unwrap_err(),
            HtuError::Credentials
        );
        assert_eq!(
            normalize("https://u@pds.example/x").unwrap_err(),
            HtuError::Credentials
        );
    }
}
