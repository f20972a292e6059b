//! Driving the authorization pages without a browser: plain HTTP GETs and
//! form posts that send what a browser sends (the device cookie, `Origin`
//! and `Sec-Fetch-Site` of a same-origin form post, every field of the
//! form, hidden ones included). Redirects are never followed on their own:
//! [`FormBrowser::until_redirect_to`] follows the issuer's own redirects and
//! stops at the first one that leaves for the client.

#![allow(dead_code)]

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};

use super::http;

/// One response, read fully.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The form whose `action` is `action`, with its fields.
    pub fn form(&self, action: &str) -> Option<Form> {
        find_form(&self.body, action)
    }

    /// Like [`Page::form`], panicking with the page when there is none.
    pub fn expect_form(&self, action: &str) -> Form {
        self.form(action).unwrap_or_else(|| {
            panic!(
                "no form posting to {action} on {} ({}):\n{}",
                self.url, self.status, self.body
            )
        })
    }
}

/// A form of a page: its action and the fields a browser would submit
/// without the user touching anything (inputs with a value; no buttons,
/// no unchecked boxes).
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
    /// Every `<input>` by name, with its attributes (to check what the page
    /// shows: `readonly`, prefilled values).
    pub inputs: BTreeMap<String, BTreeMap<String, String>>,
    /// `(name, value)` of the submit buttons.
    pub buttons: Vec<(String, String)>,
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Set (replace or add) a field.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Form {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.to_string(), value.to_string()));
        self
    }

    /// Whether the input `name` carries the boolean attribute `attr`.
    pub fn input_has(&self, name: &str, attr: &str) -> bool {
        self.inputs
            .get(name)
            .is_some_and(|a| a.contains_key(&attr.to_ascii_lowercase()))
    }
}

/// A cookie-keeping, redirect-refusing page client for one issuer.
pub struct FormBrowser {
    client: reqwest::Client,
    /// `http://localhost:PORT`: sent as `Origin` on form posts.
    pub origin: String,
    cookies: BTreeMap<String, String>,
}

impl FormBrowser {
    pub fn new(issuer: &str) -> FormBrowser {
        let origin = url::Url::parse(issuer)
            .expect("issuer URL")
            .origin()
            .ascii_serialization();
        FormBrowser {
            client: http(),
            origin,
            cookies: BTreeMap::new(),
        }
    }

    /// A cookie this browser holds.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn cookie_header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        Some(
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("max-age=-")
            });
            if expired || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.origin)
        } else {
            url.to_string()
        }
    }

    async fn read(&mut self, url: String, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        self.keep_cookies(&headers);
        let body = r.text().await.unwrap_or_default();
        Page {
            url,
            status,
            headers,
            body,
        }
    }

    /// A top-level navigation (`Sec-Fetch-Site: none`).
    pub async fn get(&mut self, url: &str) -> Page {
        let url = self.absolute(url);
        let mut req = self
            .client
            .get(&url)
            .header("accept", "text/html")
            .header("sec-fetch-site", "none")
            .header("sec-fetch-mode", "navigate");
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        self.read(url, r).await
    }

    /// Submit `form` as a same-origin browser form post.
    pub async fn submit(&mut self, form: &Form) -> Page {
        let url = self.absolute(&form.action);
        let mut req = self
            .client
            .post(&url)
            .header("accept", "text/html")
            .header("origin", &self.origin)
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", "navigate")
            .form(&form.fields);
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        self.read(url, r).await
    }

    /// Follow the issuer's own redirects (GET, as a browser does after a
    /// 302/303) until a page, or a redirect whose target starts with
    /// `client_prefix` (returned without being followed).
    pub async fn until_redirect_to(&mut self, mut page: Page, client_prefix: &str) -> Page {
        for _ in 0..10 {
            if !(300..400).contains(&page.status) {
                return page;
            }
            let loc = page
                .location()
                .unwrap_or_else(|| panic!("{} without Location from {}", page.status, page.url))
                .to_string();
            if loc.starts_with(client_prefix) {
                return page;
            }
            page = self.get(&loc).await;
        }
        panic!("too many redirects, last at {}", page.url)
    }
}

/// Decode the few entities an HTML template engine writes in attributes.
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Attributes of one start tag (`<input a="b" c>` → {a: b, c: ""}).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let inner = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    // Skip the tag name.
    let mut rest = inner
        .trim_start()
        .split_once(char::is_whitespace)
        .map(|(_, r)| r)
        .unwrap_or("");
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            let (value, after) = match r.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &r[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = r.find(char::is_whitespace).unwrap_or(r.len());
                    (&r[..end], &r[end..])
                }
            };
            out.insert(name, html_unescape(value));
            rest = after;
        } else {
            out.insert(name, String::new());
        }
    }
    out
}

/// Start tags named `name` (`<input …>`) in `html`.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = html[at..].find(&open) {
        let start = at + i;
        let after = &html[start + open.len()..];
        let boundary = after
            .chars()
            .next()
            .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/');
        let Some(end) = html[start..].find('>') else {
            break;
        };
        if boundary {
            found.push(&html[start..=start + end]);
        }
        at = start + end + 1;
    }
    found
}

fn find_form(html: &str, action: &str) -> Option<Form> {
    let mut at = 0;
    while let Some(i) = html[at..].find("<form") {
        let start = at + i;
        let tag_end = start + html[start..].find('>')?;
        let attrs = attributes(&html[start..=tag_end]);
        let body_end = html[tag_end..]
            .find("</form>")
            .map(|e| tag_end + e)
            .unwrap_or(html.len());
        at = tag_end + 1;
        if attrs.get("action").map(String::as_str) != Some(action) {
            continue;
        }
        let body = &html[tag_end + 1..body_end];
        let mut fields = Vec::new();
        let mut inputs = BTreeMap::new();
        for tag in tags(body, "input") {
            let a = attributes(tag);
            let Some(name) = a.get("name").cloned() else {
                continue;
            };
            let kind = a.get("type").map(|t| t.to_ascii_lowercase());
            let checkable = matches!(kind.as_deref(), Some("checkbox" | "radio"));
            if !checkable || a.contains_key("checked") {
                let default = if checkable { "on" } else { "" };
                let value = a.get("value").cloned().unwrap_or_else(|| default.into());
                fields.push((name.clone(), value));
            }
            inputs.insert(name, a);
        }
        let buttons = tags(body, "button")
            .into_iter()
            .map(attributes)
            .filter_map(|a| Some((a.get("name")?.clone(), a.get("value")?.clone())))
            .collect();
        return Some(Form {
            action: action.to_string(),
            fields,
            inputs,
            buttons,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_fields_are_read_like_a_browser() {
        let html = r#"<form class="x" method="post" action="/a">
<input type="hidden" name="csrf" value="t&#x2F;k">
<input id="i" name="identifier" type="text" value="alice.test" readonly>
<input name="remember" type="checkbox" value="1">
<button type="submit" name="decision" value="approve">Go</button>
</form><form method="post" action="/b"><input name="z" value="1"></form>"#;
        let f = find_form(html, "/a").unwrap();
        assert_eq!(
            f.fields,
            vec![
                ("csrf".to_string(), "t/k".to_string()),
                ("identifier".to_string(), "alice.test".to_string())
            ]
        );
        assert!(f.input_has("identifier", "readonly"));
        assert_eq!(f.buttons, vec![("decision".into(), "approve".into())]);
        assert_eq!(find_form(html, "/b").unwrap().field("z"), Some("1"));
        assert!(find_form(html, "/c").is_none());
    }
}
