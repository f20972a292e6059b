//! The tera templates of the browser pages, embedded in the binary so it
//! runs from any directory.
//!
//! Autoescape is on for every template (their names end in `.html`, which
//! tera escapes by default): client metadata, handles and messages are
//! escaped wherever they appear. No template marks a value `safe`.

use std::collections::HashMap;

use serde_json::Value;
use tera::{Context, Tera};

use super::i18n;

/// The embedded templates: name and text.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../../templates/base.html")),
    (
        "partials/client.html",
        include_str!("../../../../templates/partials/client.html"),
    ),
    (
        "partials/sign_in_form.html",
        include_str!("../../../../templates/partials/sign_in_form.html"),
    ),
    (
        "partials/cancel.html",
        include_str!("../../../../templates/partials/cancel.html"),
    ),
    (
        "authorize/sign_in.html",
        include_str!("../../../../templates/authorize/sign_in.html"),
    ),
    (
        "authorize/chooser.html",
        include_str!("../../../../templates/authorize/chooser.html"),
    ),
    (
        "authorize/consent.html",
        include_str!("../../../../templates/authorize/consent.html"),
    ),
    (
        "authorize/form_post.html",
        include_str!("../../../../templates/authorize/form_post.html"),
    ),
    (
        "error.html",
        include_str!("../../../../templates/error.html"),
    ),
    (
        "partials/account_nav.html",
        include_str!("../../../../templates/partials/account_nav.html"),
    ),
    (
        "partials/account_sign_in.html",
        include_str!("../../../../templates/partials/account_sign_in.html"),
    ),
    (
        "account/home.html",
        include_str!("../../../../templates/account/home.html"),
    ),
    (
        "account/apps.html",
        include_str!("../../../../templates/account/apps.html"),
    ),
    (
        "account/devices.html",
        include_str!("../../../../templates/account/devices.html"),
    ),
    (
        "account/password.html",
        include_str!("../../../../templates/account/password.html"),
    ),
    (
        "account/email.html",
        include_str!("../../../../templates/account/email.html"),
    ),
    (
        "account/reset.html",
        include_str!("../../../../templates/account/reset.html"),
    ),
];

/// The compiled templates, or why they failed to compile (reported at start
/// and on every render: never a panic).
#[derive(Debug)]
pub struct Templates {
    tera: Result<Tera, String>,
}

impl Templates {
    /// Compile the embedded templates.
    pub fn new() -> Templates {
        let tera = compile();
        if let Err(e) = &tera {
            tracing::error!(error = %e, "page templates do not compile; browser pages will fail");
        }
        Templates { tera }
    }

    /// Whether the templates compiled (for start-up checks).
    pub fn check(&self) -> Result<(), String> {
        self.tera.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Render a template.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, String> {
        let tera = self.tera.as_ref().map_err(Clone::clone)?;
        tera.render(name, ctx).map_err(|e| {
            // tera nests the cause; keep the whole chain for the log.
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            msg
        })
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

fn compile() -> Result<Tera, String> {
    let mut tera = Tera::default();
    tera.add_raw_templates(TEMPLATES.to_vec())
        .map_err(|e| format!("{e:?}"))?;
    tera.register_filter("fill", fill_filter);
    Ok(tera)
}

/// `{{ m.sign_in.intro | fill(client=client.name) }}`: fill a catalogue
/// message's `{name}` placeholders. The output is plain text, escaped by
/// autoescape like any other value.
fn fill_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let template = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("fill: the message is not a string"))?;
    Ok(Value::String(i18n::fill(template, |name| {
        args.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile() {
        Templates::new().check().unwrap();
    }

    /// Dotted identifiers after `m.` in templates, and quoted `"section.key"`
    /// strings in the UI's Rust code.
    fn used_keys() -> Vec<String> {
        let mut keys = Vec::new();
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == '.')
                .collect::<String>()
                .trim_end_matches('.')
                .to_string()
        };
        for (_, text) in TEMPLATES {
            for (i, _) in text.match_indices("m.") {
                let before = text[..i].chars().last().unwrap_or(' ');
                if !(before.is_ascii_alphanumeric() || before == '_' || before == '.') {
                    keys.push(ident(&text[i + 2..]));
                }
            }
        }
        let sources = [
            include_str!("pages.rs"),
            include_str!("request.rs"),
            include_str!("sign_in.rs"),
            include_str!("consent.rs"),
            include_str!("authorize.rs"),
            include_str!("select.rs"),
            include_str!("credentials.rs"),
            include_str!("account/mod.rs"),
            include_str!("account/home.rs"),
            include_str!("account/apps.rs"),
            include_str!("account/devices.rs"),
            include_str!("account/password.rs"),
            include_str!("account/email.rs"),
            include_str!("account/reset.rs"),
        ];
        let sections = [
            "error.",
            "sign_in.",
            "client.",
            "scope.",
            "consent.",
            "chooser.",
            "account.",
            "apps.",
            "devices.",
            "password.",
            "done.",
            "email.",
            "reset.",
        ];
        for src in sources {
            for part in src.split('"').skip(1).step_by(2) {
                let template_name = part.ends_with(".html");
                if sections.iter().any(|s| part.starts_with(s))
                    && ident(part) == part
                    && !template_name
                {
                    keys.push(part.to_string());
                }
            }
        }
        for token in [
            "atproto",
            "transition:generic",
            "transition:chat.bsky",
            "transition:email",
        ] {
            keys.push(atauth_core::scope::describe(token).unwrap().to_string());
        }
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn every_message_key_used_exists_in_every_language() {
        let catalogue = i18n::Catalogue::load(&[]);
        let keys = used_keys();
        assert!(keys.len() > 30, "{keys:?}");
        for lang in ["en", "fr"] {
            let m = catalogue.messages(lang);
            for key in &keys {
                assert_ne!(m.get(key), key.as_str(), "{lang} lacks {key}");
            }
        }
    }

    #[test]
    fn values_are_escaped_and_fill_output_too() {
        let t = Templates::new();
        let mut ctx = Context::new();
        ctx.insert("lang", "en");
        ctx.insert("title", "<b>x</b>");
        ctx.insert("message", "\"'<script>");
        ctx.insert("detail", &Option::<String>::None);
        ctx.insert("m", &i18n::Catalogue::load(&[]).messages("en").tree);
        let html = t.render("error.html", &ctx).unwrap();
        assert!(!html.contains("<b>x</b>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
