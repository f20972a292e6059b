//! The message catalogue of the browser pages and the choice of language.
//!
//! ARCHITECTURE "UI": strings live in a catalogue so that a second language
//! is a file. Catalogues are TOML files under `templates/i18n/`, embedded in
//! the binary; tables nest (`[sign_in]` + `title` is `sign_in.title`).
//! A language missing a key falls back to English, key by key.
//!
//! Language choice (SPEC §5, RFC 9126 `ui_locales`): the request's
//! `ui_locales`, then the browser's `Accept-Language`, then English.

use std::collections::HashMap;

use serde_json::Value;

/// The embedded catalogues: language tag and TOML text. English first: it
/// is the fallback.
const CATALOGUES: &[(&str, &str)] = &[
    ("en", include_str!("../../../../templates/i18n/en.toml")),
    ("fr", include_str!("../../../../templates/i18n/fr.toml")),
];

/// The fallback language.
pub const DEFAULT_LANG: &str = "en";

/// Most language ranges read from one `Accept-Language` or `ui_locales`
/// value (bounds the work a hostile header can cause). Policy.
const MAX_RANGES: usize = 16;

/// The messages of one language, as a JSON tree for the templates and a
/// flat map for Rust code.
#[derive(Debug)]
pub struct Messages {
    /// The language tag.
    pub lang: &'static str,
    /// The tree handed to templates as `m`.
    pub tree: Value,
    flat: HashMap<String, String>,
}

impl Messages {
    /// The message under a dotted key; the key itself when it is missing
    /// (never a panic: a missing key shows up on the page, and a test
    /// checks every key the code uses).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.flat.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The message with `{name}` placeholders filled. The result is plain
    /// text: templates escape it.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.get(key), |name| {
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }
}

/// Every loaded language.
#[derive(Debug)]
pub struct Catalogue {
    languages: Vec<Messages>,
}

impl Catalogue {
    /// Load the embedded catalogues, keeping only the languages in
    /// `enabled` (all when empty) plus English. A catalogue that does not
    /// parse is skipped with an error in the log (a unit test keeps them
    /// valid).
    pub fn load(enabled: &[String]) -> Catalogue {
        let mut english: Option<Value> = None;
        let mut languages = Vec::new();
        for (lang, text) in CATALOGUES {
            let wanted = *lang == DEFAULT_LANG
                || enabled.is_empty()
                || enabled.iter().any(|e| e.eq_ignore_ascii_case(lang));
            if !wanted {
                continue;
            }
            let mut tree = match parse_catalogue(text) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(lang = %lang, error = %e, "message catalogue does not parse; language disabled");
                    continue;
                }
            };
            if let Some(en) = &english {
                merge_missing(&mut tree, en);
            } else {
                english = Some(tree.clone());
            }
            let mut flat = HashMap::new();
            flatten("", &tree, &mut flat);
            languages.push(Messages { lang, tree, flat });
        }
        if languages.is_empty() {
            languages.push(Messages {
                lang: DEFAULT_LANG,
                tree: Value::Object(Default::default()),
                flat: HashMap::new(),
            });
        }
        Catalogue { languages }
    }

    /// The messages of a language, or English.
    pub fn messages(&self, lang: &str) -> &Messages {
        self.languages
            .iter()
            .find(|m| m.lang == lang)
            .unwrap_or(&self.languages[0])
    }

    /// The tags of the loaded languages.
    pub fn languages(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.languages.iter().map(|m| m.lang)
    }

    /// Pick a language: the first of `ui_locales` (space-separated, in
    /// order of preference) that is loaded, then the best of
    /// `Accept-Language` (by `q`), then English. Tags match on their
    /// primary subtag (`fr-CA` → `fr`).
    pub fn negotiate(&self, ui_locales: Option<&str>, accept_language: Option<&str>) -> &Messages {
        let from_ui = ui_locales
            .into_iter()
            .flat_map(|s| s.split_ascii_whitespace().take(MAX_RANGES))
            .find_map(|tag| self.find_primary(tag));
        if let Some(m) = from_ui {
            return m;
        }
        let from_header = accept_language
            .map(parse_accept_language)
            .unwrap_or_default()
            .into_iter()
            .find_map(|tag| self.find_primary(&tag));
        from_header.unwrap_or_else(|| self.messages(DEFAULT_LANG))
    }

    fn find_primary(&self, tag: &str) -> Option<&Messages> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.is_empty() || primary == "*" {
            return None;
        }
        self.languages
            .iter()
            .find(|m| m.lang.eq_ignore_ascii_case(primary))
    }
}

/// Parse a catalogue into a JSON tree of strings.
fn parse_catalogue(text: &str) -> Result<Value, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    serde_json::to_value(table).map_err(|e| e.to_string())
}

/// Copy into `tree` every key of `fallback` that it lacks.
fn merge_missing(tree: &mut Value, fallback: &Value) {
    if let (Value::Object(t), Value::Object(f)) = (tree, fallback) {
        for (k, fv) in f {
            match t.get_mut(k) {
                Some(tv) => merge_missing(tv, fv),
                None => {
                    t.insert(k.clone(), fv.clone());
                }
            }
        }
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut HashMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// RFC 9110 §12.5.4: `Accept-Language` ranges ordered by weight (stable
/// for equal weights); ranges with `q=0` or an unreadable weight dropped.
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let mut ranges: Vec<(String, u16)> = Vec::new();
    for item in header.split(',').take(MAX_RANGES) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        if tag.is_empty() || tag.len() > 35 {
            continue;
        }
        let mut q: Option<u16> = Some(1000);
        for p in parts {
            let p = p.trim();
            if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                q = parse_qvalue(v.trim());
            }
        }
        match q {
            Some(q) if q > 0 => ranges.push((tag.to_string(), q)),
            _ => {}
        }
    }
    ranges.sort_by_key(|r| std::cmp::Reverse(r.1));
    ranges.into_iter().map(|(t, _)| t).collect()
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0u16,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

/// Fill `{name}` placeholders in one pass (a value containing `{x}` is
/// never expanded again). Unknown names stay as written.
pub fn fill(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if is_name(&after[..end]) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, c) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if c.is_object() {
                    keys(c, &key, out);
                } else {
                    out.push(key);
                }
            }
        }
    }

    #[test]
    fn every_catalogue_parses_and_has_every_english_key() {
        let en = parse_catalogue(CATALOGUES[0].1).unwrap();
        let mut en_keys = Vec::new();
        keys(&en, "", &mut en_keys);
        assert!(en_keys.len() > 30);
        for (lang, text) in CATALOGUES {
            let tree = parse_catalogue(text).unwrap_or_else(|e| panic!("{lang}: {e}"));
            let mut k = Vec::new();
            keys(&tree, "", &mut k);
            for key in &en_keys {
                assert!(k.contains(key), "{lang} lacks {key}");
            }
            for key in &k {
                assert!(en_keys.contains(key), "{lang} has {key} that English lacks");
            }
        }
    }

    #[test]
    fn negotiation_prefers_ui_locales_then_accept_language() {
        let c = Catalogue::load(&[]);
        assert_eq!(c.negotiate(Some("fr-CA en"), Some("en")).lang, "fr");
        assert_eq!(
            c.negotiate(Some("de"), Some("de, fr;q=0.5, en;q=0.1")).lang,
            "fr"
        );
        assert_eq!(c.negotiate(None, Some("en;q=0.2, fr;q=0.9")).lang, "fr");
        assert_eq!(c.negotiate(None, Some("fr;q=0, en")).lang, "en");
        assert_eq!(c.negotiate(None, Some("*")).lang, "en");
        assert_eq!(c.negotiate(None, None).lang, "en");
        assert_eq!(c.negotiate(None, Some(";;;,,q=x")).lang, "en");
    }

    #[test]
    fn disabled_language_is_not_offered() {
        let c = Catalogue::load(&["en".to_string()]);
        assert_eq!(c.negotiate(Some("fr"), Some("fr")).lang, "en");
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("2"), None);
    }

    #[test]
    fn fill_is_single_pass() {
        let out = fill("{client} wants {account} {x", |n| match n {
            "client" => Some("{account}".into()),
            "account" => Some("alice".into()),
            _ => None,
        });
        assert_eq!(out, "{account} wants alice {x");
        assert_eq!(fill("a {unknown} b", |_| None), "a {unknown} b");
    }

    #[test]
    fn missing_key_shows_the_key() {
        let c = Catalogue::load(&[]);
        assert_eq!(c.messages("en").get("no.such.key"), "no.such.key");
        assert_eq!(c.messages("fr").get("sign_in.submit"), "Se connecter");
    }
}
