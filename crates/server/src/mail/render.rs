//! Rendering messages: tera templates under `templates/mail/` (embedded),
//! one plain-text and one HTML body per kind, strings from the pages'
//! message catalogues (`[mail]` in `templates/i18n/*.toml`) in the
//! reader's language. HTML bodies are autoescaped; plain-text ones are
//! not (nothing in them is markup).

use std::collections::HashMap;

use atauth_core::email_code::{EmailCode, EmailCodePurpose, CODE_LIFETIME_SECS};
use serde_json::Value;
use tera::{Context, Tera};

use super::MailError;
use crate::ui::i18n::{self, Catalogue};

/// The embedded mail templates.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "mail/code.txt",
        include_str!("../../../../templates/mail/code.txt"),
    ),
    (
        "mail/code.html",
        include_str!("../../../../templates/mail/code.html"),
    ),
];

/// What a message says.
pub enum MailContent {
    /// An email code for `purpose`, for the account `handle`.
    Code {
        /// What the code is for (chooses subject and wording).
        purpose: EmailCodePurpose,
        /// The code (shown grouped).
        code: EmailCode,
        /// The account's handle.
        handle: String,
    },
}

impl MailContent {
    /// Its kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            MailContent::Code { purpose, .. } => match purpose {
                EmailCodePurpose::VerifyEmail => "code.verify_email",
                EmailCodePurpose::ResetPassword => "code.reset_password",
                EmailCodePurpose::SignIn => "code.sign_in",
            },
        }
    }
}

impl std::fmt::Debug for MailContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// A rendered message.
pub(super) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Templates and catalogues.
pub(super) struct Renderer {
    tera: Tera,
    catalogue: Catalogue,
    issuer: String,
}

impl Renderer {
    /// Compile the templates; an error names the template.
    pub(super) fn new(issuer: &str, languages: &[String]) -> Result<Renderer, MailError> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.to_vec())
            .map_err(|e| MailError::Settings(format!("mail templates: {e:?}")))?;
        tera.register_filter("fill", fill_filter);
        Ok(Renderer {
            tera,
            catalogue: Catalogue::load(languages),
            issuer: issuer.to_string(),
        })
    }

    /// Render `content` in `lang` (English when the language is not
    /// loaded).
    pub(super) fn render(&self, lang: &str, content: &MailContent) -> Result<Rendered, MailError> {
        let msgs = self.catalogue.messages(lang);
        let mut ctx = Context::new();
        ctx.insert("lang", msgs.lang);
        ctx.insert("m", &msgs.tree);
        ctx.insert("issuer", &self.issuer);
        let (name, subject) = match content {
            MailContent::Code {
                purpose,
                code,
                handle,
            } => {
                ctx.insert("purpose", purpose.as_str());
                ctx.insert("code", &code.display());
                ctx.insert("handle", handle);
                ctx.insert("minutes", &(CODE_LIFETIME_SECS / 60));
                let key = format!("mail.{}.subject", purpose.as_str());
                ("code", msgs.get(&key).to_string())
            }
        };
        let render = |ext: &str| {
            let template = format!("mail/{name}.{ext}");
            self.tera.render(&template, &ctx).map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                tracing::error!(template, error = %msg, "mail rendering failed");
                MailError::Render(msg)
            })
        };
        Ok(Rendered {
            subject,
            text: render("txt")?,
            html: render("html")?,
        })
    }
}

/// `{{ m.mail.expiry | fill(minutes=minutes) }}`, as on the pages.
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
