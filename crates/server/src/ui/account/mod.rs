//! The account pages (SPEC §9 "A page where users list their authorized
//! apps and signed-in devices and revoke them").
//!
//! Routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /account` | the accounts signed in on this browser, and the sign-in form ([`home`]) |
//! | `POST /account/sign-in` | handle or DID + password |
//! | `POST /account/sign-out` | sign one account out of this browser |
//! | `GET /account/apps?account=DID` | connected apps: display, scopes in words, first authorized, last used, expiry ([`apps`]) |
//! | `POST /account/apps/revoke` | end every session of one client and forget its approval |
//! | `POST /account/apps/revoke-all` | the same for every client (password when the sign-in is not fresh) |
//! | `GET /account/devices?account=DID` | the browsers the account is signed in on ([`devices`]) |
//! | `POST /account/devices/sign-out` | sign the account out of another browser |
//! | `GET`, `POST /account/password?account=DID` | change the password ([`password`]) |
//! | `GET /.well-known/change-password` | 303 to `/account/password` (W3C "A Well-Known URL for Changing Passwords") |
//! | `GET /account/email?account=DID`, `POST /account/email/send`, `POST /account/email/verify` | verify the account's email address with a mailed code ([`email`]) |
//! | `GET`, `POST /account/reset`, `POST /account/reset/confirm` | "Forgot password?": a mailed code sets a new password ([`reset`]) |
//!
//! The same device cookie, CSRF protection and security headers as the
//! authorization pages: every POST is checked in this order before it acts
//! ([`Visitor::posted`]): origin → body → device cookie → CSRF token
//! (HMAC over the device id and the label [`CSRF_LABEL`], so it is
//! worthless for another browser and never valid as an authorization
//! request's token) → the account named by the form must be signed in on
//! this device. Any failure is a 403 page and nothing is written.
//!
//! **Policy.** An account can be managed here while its sign-in on this
//! browser is usable by the rules of [`super::flow`] ("remember this
//! device", or a password entered less than an hour ago). Sensitive
//! actions also need the password to have been entered within that hour,
//! whatever "remember" says: revoking every app asks for the password
//! again otherwise, and changing the password always asks for the current
//! one. Revoking one app or signing out another device needs no password:
//! they only take access away.

mod apps;
mod devices;
mod email;
mod home;
mod password;
pub mod reset;
#[cfg(test)]
mod tests;
mod view;

use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::form::FormParams;
use atauth_core::ids::DeviceSecret;
use atauth_core::store::{Device, DeviceStore};
use serde_json::Value;

use super::device::{self, Visit};
use super::flow::{self, Candidate, FlowInput};
use super::headers::{self, FormAction};
use super::i18n::Messages;
use super::pages::{error_page, PageEnv, PageError};
use super::request::{candidates, db, language};
use super::{csrf, method_not_allowed};
use crate::routes::form_body::read_form;
use crate::state::AppState;

/// `GET /account`.
pub const HOME_PATH: &str = "/account";
/// `POST /account/sign-in`.
pub const SIGN_IN_PATH: &str = "/account/sign-in";
/// `POST /account/sign-out`.
pub const SIGN_OUT_PATH: &str = "/account/sign-out";
/// `GET /account/apps`.
pub const APPS_PATH: &str = "/account/apps";
/// `POST /account/apps/revoke`.
pub const REVOKE_PATH: &str = "/account/apps/revoke";
/// `POST /account/apps/revoke-all`.
pub const REVOKE_ALL_PATH: &str = "/account/apps/revoke-all";
/// `GET /account/devices`.
pub const DEVICES_PATH: &str = "/account/devices";
/// `POST /account/devices/sign-out`.
pub const DEVICE_SIGN_OUT_PATH: &str = "/account/devices/sign-out";
/// `GET`/`POST /account/password`.
pub const PASSWORD_PATH: &str = "/account/password";
/// `GET /.well-known/change-password`.
pub const CHANGE_PASSWORD_PATH: &str = "/.well-known/change-password";
/// `GET /account/email`.
pub const EMAIL_PATH: &str = "/account/email";
/// `POST /account/email/send`.
pub const EMAIL_SEND_PATH: &str = "/account/email/send";
/// `POST /account/email/verify`.
pub const EMAIL_VERIFY_PATH: &str = "/account/email/verify";
/// `GET`/`POST /account/reset` ("Forgot password?").
pub const RESET_PATH: &str = "/account/reset";
/// `POST /account/reset/confirm`.
pub const RESET_CONFIRM_PATH: &str = "/account/reset/confirm";

/// What the account pages' CSRF tokens are bound to besides the device.
/// Request ids start with `req-`, so a token of these pages never passes
/// for one of an authorization request, nor the other way round.
pub const CSRF_LABEL: &str = "account-pages";

/// The pages a sign-in may continue to (`next`).
const NEXT_PAGES: &[&str] = &["apps", "devices", "password", "email"];

/// The browser behind a request: its device and the active accounts
/// signed in on it.
pub(super) struct Visitor<'s> {
    pub state: &'s AppState,
    pub msgs: &'s Messages,
    pub device: Device,
    pub accounts: Vec<Candidate>,
    pub now: i64,
}

impl<'s> Visitor<'s> {
    /// For a GET: the device of the cookie (its visit recorded), or, with
    /// `create`, a new one (returned secret: set the cookie). `Ok(None)`
    /// without a known device when `create` is false.
    async fn get(
        state: &'s AppState,
        req: &HttpRequest,
        create: bool,
    ) -> Result<Option<(Visitor<'s>, Option<DeviceSecret>)>, PageError> {
        let now = state.now();
        let secret = device::secret_from(req);
        let visit = Visit::of(req);
        let found = db(state, move |s| {
            let existing = match &secret {
                Some(sec) => device::find(s, sec)?,
                None => None,
            };
            let (device, new_secret) = match existing {
                Some(d) => {
                    s.touch_device(&d.id, now, visit.user_agent.as_deref(), visit.ip.as_deref())?;
                    (d, None)
                }
                None if create => {
                    let (d, sec) = device::create(s, now, &visit)?;
                    (d, Some(sec))
                }
                None => return Ok(None),
            };
            let accounts = candidates(s, &device.id)?;
            Ok(Some((device, new_secret, accounts)))
        })
        .await?;
        Ok(found.map(|(device, new_secret, accounts)| {
            let visitor = Visitor {
                state,
                msgs: language(state, req, None),
                device,
                accounts,
                now,
            };
            (visitor, new_secret)
        }))
    }

    /// For a POST, checked in order: origin, body, device cookie, CSRF
    /// token. Nothing is written before all of this passed; a failure is
    /// the 403 (or 400/413) error page.
    async fn posted(
        state: &'s AppState,
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<(Visitor<'s>, FormParams), HttpResponse> {
        let msgs = language(state, req, None);
        let fail = |e: PageError| error_page(&account_env(state, msgs), &e);
        if !csrf::same_origin(req, state.settings.issuer.as_str()) {
            return Err(fail(PageError::Forbidden("error.csrf")));
        }
        let form = read_form(req, payload).await.map_err(|e| {
            fail(if e.status == 413 {
                PageError::TooLarge
            } else {
                PageError::BadRequest("error.bad_form")
            })
        })?;
        let Some(secret) = device::secret_from(req) else {
            return Err(fail(PageError::Forbidden("error.no_device")));
        };
        let found = db(state, move |s| match device::find(s, &secret)? {
            Some(d) => {
                let accounts = candidates(s, &d.id)?;
                Ok(Some((d, accounts)))
            }
            None => Ok(None),
        })
        .await
        .map_err(fail)?;
        let Some((device, accounts)) = found else {
            return Err(fail(PageError::Forbidden("error.no_device")));
        };
        if !state
            .ui
            .csrf
            .verify(&device.id, CSRF_LABEL, form.get("csrf"))
        {
            return Err(fail(PageError::Forbidden("error.csrf")));
        }
        let visitor = Visitor {
            state,
            msgs,
            device,
            accounts,
            now: state.now(),
        };
        Ok((visitor, form))
    }

    /// The flow rules' input with no request: plain freshness.
    fn flow_input(&self) -> FlowInput<'static> {
        FlowInput {
            prompt: None,
            hint: None,
            request_created_at: 0,
            now: self.now,
            fresh_secs: self.state.ui.policy.sign_in_fresh_secs,
        }
    }

    /// Whether an account signed in here may be managed (see the module
    /// policy).
    fn manageable(&self, c: &Candidate) -> bool {
        flow::usable(&self.flow_input(), c)
    }

    /// Whether its password was entered recently enough for a sensitive
    /// action without asking again.
    fn recently_authenticated(&self, c: &Candidate) -> bool {
        self.now - c.link.authenticated_at < self.state.ui.policy.sign_in_fresh_secs
    }

    /// The manageable accounts, most recent sign-in first.
    fn manageable_accounts(&self) -> Vec<&Candidate> {
        self.accounts
            .iter()
            .filter(|c| self.manageable(c))
            .collect()
    }

    /// The manageable account with this DID.
    fn account(&self, did: Option<&str>) -> Option<&Candidate> {
        let did = did?;
        self.accounts
            .iter()
            .find(|c| c.account.did.as_str() == did && self.manageable(c))
    }

    /// The account a page is about: the `account` parameter, or the only
    /// manageable account when there is exactly one.
    fn selected(&self, did: Option<&str>) -> Option<&Candidate> {
        match did {
            Some(_) => self.account(did),
            None => match self.manageable_accounts().as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }

    /// The page environment: messages, CSRF token, the way back.
    fn env(&self) -> PageEnv<'s> {
        let mut env = account_env(self.state, self.msgs);
        env.common.insert(
            "csrf".into(),
            Value::String(self.state.ui.csrf.token(&self.device.id, CSRF_LABEL)),
        );
        env
    }

    /// The error page of these pages.
    fn error(&self, e: &PageError) -> HttpResponse {
        error_page(&self.env(), e)
    }
}

/// A page environment whose error pages lead back to `/account`.
fn account_env<'s>(state: &'s AppState, msgs: &'s Messages) -> PageEnv<'s> {
    let mut env = PageEnv::bare(state, msgs);
    env.common
        .insert("back_link".into(), Value::String(HOME_PATH.into()));
    env
}

/// The query of a GET request.
fn query(req: &HttpRequest) -> FormParams {
    FormParams::parse(req.query_string().as_bytes()).unwrap_or_default()
}

/// `path?account=DID[&done=…]`, encoded.
fn page_url(path: &str, did: &str, done: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("account", did);
    if let Some(d) = done {
        q.append_pair("done", d);
    }
    format!("{path}?{}", q.finish())
}

/// A 303 with the page headers.
fn see_other(location: &str) -> HttpResponse {
    headers::see_other(location, &FormAction::self_only())
}

/// Set the device cookie on a response, when a new secret was made.
fn with_cookie(
    state: &AppState,
    mut resp: HttpResponse,
    secret: Option<DeviceSecret>,
) -> HttpResponse {
    if let Some(secret) = secret {
        if let Err(e) = resp.add_cookie(&device::cookie(&secret, state.ui.policy.secure_cookies)) {
            tracing::error!(error = %e, "could not set the device cookie");
        }
    }
    resp
}

/// `GET /.well-known/change-password`.
async fn change_password() -> HttpResponse {
    see_other(PASSWORD_PATH)
}

/// Register the account routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    macro_rules! route {
        ($path:expr, get => $h:expr) => {
            cfg.service(
                web::resource($path)
                    .route(web::get().to($h))
                    .default_service(method_not_allowed("GET")),
            )
        };
        ($path:expr, post => $h:expr) => {
            cfg.service(
                web::resource($path)
                    .route(web::post().to($h))
                    .default_service(method_not_allowed("POST")),
            )
        };
    }
    route!(HOME_PATH, get => home::get);
    route!(SIGN_IN_PATH, post => home::sign_in);
    route!(SIGN_OUT_PATH, post => home::sign_out);
    route!(APPS_PATH, get => apps::get);
    route!(REVOKE_PATH, post => apps::revoke);
    route!(REVOKE_ALL_PATH, post => apps::revoke_all);
    route!(DEVICES_PATH, get => devices::get);
    route!(DEVICE_SIGN_OUT_PATH, post => devices::sign_out);
    route!(CHANGE_PASSWORD_PATH, get => change_password);
    route!(EMAIL_PATH, get => email::get);
    route!(EMAIL_SEND_PATH, post => email::send);
    route!(EMAIL_VERIFY_PATH, post => email::verify);
    route!(RESET_CONFIRM_PATH, post => reset::confirm);
    cfg.service(
        web::resource(RESET_PATH)
            .route(web::get().to(reset::get))
            .route(web::post().to(reset::post))
            .default_service(method_not_allowed("GET, POST")),
    );
    cfg.service(
        web::resource(PASSWORD_PATH)
            .route(web::get().to(password::get))
            .route(web::post().to(password::post))
            .default_service(method_not_allowed("GET, POST")),
    );
}
