//! Rendering the pages: the shared context (language, messages, client,
//! CSRF token), the error page, and the sign-in, chooser and consent
//! pages' data.

use actix_web::http::header::RETRY_AFTER;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use atauth_core::scope;
use serde_json::{json, Map, Value};
use tera::Context;

use super::flow::Candidate;
use super::headers::{self, FormAction};
use super::i18n::Messages;
use super::request::Pending;
use crate::clients::ResolvedClient;
use crate::state::AppState;

/// Why a page cannot go on. Each is shown as the error page, never as a
/// redirect.
#[derive(Debug, Clone)]
pub enum PageError {
    /// 400 with a catalogue message (`error.*` key).
    BadRequest(&'static str),
    /// 400: the client could not be resolved; the description (which rule
    /// failed) is shown, escaped.
    Client(String),
    /// 403: a cross-site request, a missing or wrong CSRF token
    /// (`error.csrf`), or no device cookie (`error.no_device`).
    Forbidden(&'static str),
    /// 413: the form body is too large.
    TooLarge,
    /// 429 with `Retry-After` seconds.
    RateLimited(u64),
    /// 500; the text goes to the log only.
    Server(String),
}

impl PageError {
    /// A store failure (logged, never shown).
    pub fn store(e: impl std::fmt::Display) -> PageError {
        PageError::Server(format!("store: {e}"))
    }
}

/// What every page of one response shares.
pub struct PageEnv<'a> {
    /// The application state.
    pub state: &'a AppState,
    /// The chosen language's messages.
    pub msgs: &'a Messages,
    /// `client`, `csrf` and `request_uri` once a request is verified.
    pub common: Map<String, Value>,
}

impl<'a> PageEnv<'a> {
    /// A page environment without a verified request (error pages).
    pub fn bare(state: &'a AppState, msgs: &'a Messages) -> PageEnv<'a> {
        PageEnv {
            state,
            msgs,
            common: Map::new(),
        }
    }

    /// A page environment for a verified request on this device.
    pub fn for_request(state: &'a AppState, msgs: &'a Messages, p: &Pending) -> PageEnv<'a> {
        let mut common = Map::new();
        common.insert("client".into(), client_view(&p.client, msgs));
        common.insert(
            "csrf".into(),
            Value::String(state.ui.csrf.token(&p.device.id, p.id.as_str())),
        );
        common.insert("request_uri".into(), Value::String(p.id.request_uri()));
        PageEnv {
            state,
            msgs,
            common,
        }
    }

    /// Render a template with the shared context plus `data`.
    pub fn render(
        &self,
        template: &str,
        data: Value,
        status: StatusCode,
        fa: &FormAction,
    ) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("lang", self.msgs.lang);
        ctx.insert("m", &self.msgs.tree);
        for (k, v) in &self.common {
            ctx.insert(k.as_str(), v);
        }
        if let Value::Object(map) = data {
            for (k, v) in map {
                ctx.insert(k.as_str(), &v);
            }
        }
        match self.state.ui.templates.render(template, &ctx) {
            Ok(body) => headers::html(status, body, fa),
            Err(e) => {
                tracing::error!(template, error = %e, "page rendering failed");
                headers::html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!DOCTYPE html><title>Error</title><p>Internal error.</p>".into(),
                    &FormAction::self_only(),
                )
            }
        }
    }
}

/// The error page for `e`.
pub fn error_page(env: &PageEnv<'_>, e: &PageError) -> HttpResponse {
    let m = env.msgs;
    let (status, title, message, detail, back) = match e {
        PageError::BadRequest(key) => (
            StatusCode::BAD_REQUEST,
            m.get("error.title").to_string(),
            m.get(key).to_string(),
            None,
            true,
        ),
        PageError::Client(description) => (
            StatusCode::BAD_REQUEST,
            m.get("error.title").to_string(),
            m.get("error.client_unresolvable").to_string(),
            Some(description.clone()),
            true,
        ),
        PageError::Forbidden(key) => (
            StatusCode::FORBIDDEN,
            m.get("error.title").to_string(),
            m.get(key).to_string(),
            None,
            true,
        ),
        PageError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            m.get("error.title").to_string(),
            m.get("error.bad_form").to_string(),
            None,
            true,
        ),
        PageError::RateLimited(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            m.get("error.rate_limited_title").to_string(),
            m.fill("error.rate_limited", &[("seconds", &secs.to_string())]),
            None,
            false,
        ),
        PageError::Server(detail) => {
            tracing::error!(detail = %detail, "browser page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                m.get("error.title").to_string(),
                m.get("error.server").to_string(),
                None,
                false,
            )
        }
    };
    if !matches!(e, PageError::Server(_)) {
        tracing::info!(status = status.as_u16(), reason = ?e, "browser page refused");
    }
    let data = json!({ "title": title, "message": message, "detail": detail, "back": back });
    let mut resp = env.render("error.html", data, status, &FormAction::self_only());
    if let PageError::RateLimited(secs) = e {
        headers::insert(&mut resp, RETRY_AFTER, &secs.to_string());
    }
    resp
}

/// Whether a URL may be shown as a link or image: https with a host.
pub fn is_https(uri: &str) -> bool {
    url::Url::parse(uri)
        .map(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
        .unwrap_or(false)
}

/// How the client is shown (SPEC §3 "Display"): a trusted client by its
/// name, logo and links (https only); a loopback client as "an application
/// on this device"; any other by its `client_id` URL, with a warning.
pub fn client_view(client: &ResolvedClient, msgs: &Messages) -> Value {
    let loopback = client.is_loopback();
    let trusted = client.is_trusted() && !loopback;
    let name = if loopback {
        msgs.get("client.loopback").to_string()
    } else {
        client.display_name()
    };
    let meta = &client.client.metadata;
    let link = |u: &Option<String>| {
        u.as_deref()
            .filter(|u| trusted && is_https(u))
            .map(str::to_string)
    };
    json!({
        "name": name,
        "logo": client.display_logo().filter(|u| is_https(u)),
        "unverified": !trusted && !loopback,
        "tos": link(&meta.tos_uri),
        "policy": link(&meta.policy_uri),
    })
}

/// What the sign-in form shows.
#[derive(Debug, Clone, Default)]
pub struct SignInForm {
    /// The identifier to pre-fill.
    pub identifier: String,
    /// Whether it is fixed (`login_hint`).
    pub locked: bool,
    /// Whether "remember this device" is ticked.
    pub remember: bool,
}

impl SignInForm {
    /// The form for a request: pre-filled and fixed by `login_hint`.
    pub fn for_request(p: &Pending) -> SignInForm {
        match &p.request.params.login_hint {
            Some(h) => SignInForm {
                identifier: h.clone(),
                locked: true,
                remember: false,
            },
            None => SignInForm::default(),
        }
    }

    fn to_json(&self, hint: Option<&str>) -> Value {
        json!({
            "identifier": self.identifier,
            "locked": self.locked,
            "remember": self.remember,
            "hint": hint,
            "focus_password": self.locked || !self.identifier.is_empty(),
        })
    }
}

fn hint(p: &Pending) -> Option<&str> {
    p.request.params.login_hint.as_deref()
}

fn form_action(p: &Pending) -> FormAction {
    FormAction::with_redirect(&p.request.params.redirect_uri)
}

/// The sign-in page.
pub fn sign_in(
    env: &PageEnv<'_>,
    p: &Pending,
    form: &SignInForm,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let data = json!({ "sign_in": form.to_json(hint(p)), "error": error });
    env.render("authorize/sign_in.html", data, status, &form_action(p))
}

/// The account chooser, with the sign-in form for another account.
pub fn chooser(
    env: &PageEnv<'_>,
    p: &Pending,
    accounts: &[Candidate],
    form: &SignInForm,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|c| json!({ "did": c.account.did.as_str(), "handle": c.account.handle.as_str() }))
        .collect();
    let data = json!({ "accounts": accounts, "sign_in": form.to_json(hint(p)), "error": error });
    env.render("authorize/chooser.html", data, status, &form_action(p))
}

/// The consent page: each requested scope in plain words (catalogue), or
/// verbatim when the catalogue has none.
pub fn consent(env: &PageEnv<'_>, p: &Pending, account: &Candidate) -> HttpResponse {
    let scopes: Vec<Value> = p
        .request
        .params
        .scope
        .split_ascii_whitespace()
        .map(|token| {
            let text = scope::describe(token).map(|key| env.msgs.get(key));
            json!({ "token": token, "text": text })
        })
        .collect();
    let handle = account.account.handle.as_str();
    let data = json!({
        "account": { "did": account.account.did.as_str(), "handle": handle, "label": format!("@{handle}") },
        "scopes": scopes,
    });
    env.render(
        "authorize/consent.html",
        data,
        StatusCode::OK,
        &form_action(p),
    )
}
