//! Consent, and finishing a request: `POST /oauth/authorize/consent`
//! (approve or deny), the consent skip rule, issuing the code, and the
//! error redirects of `prompt=none`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::consts::CODE_LIFETIME_SECS;
use atauth_core::identity::Did;
use atauth_core::ids::Code;
use atauth_core::store::{AuthorizedClientStore, RequestStore};
use atauth_core::ErrorCode;

use super::flow::{self, Candidate, ConsentInput, FlowInput, Step};
use super::pages::{self, PageEnv, PageError, SignInForm};
use super::redirect::{self, Outcome};
use super::request::{candidates, db, load_post, Pending};
use crate::state::AppState;

/// The flow rules' input for a request.
pub fn flow_input<'a>(state: &AppState, p: &'a Pending, now: i64) -> FlowInput<'a> {
    FlowInput {
        prompt: p.request.params.prompt.as_deref(),
        hint: p.request.params.login_hint.as_deref(),
        request_created_at: p.request.created_at,
        now,
        fresh_secs: state.ui.policy.sign_in_fresh_secs,
    }
}

/// Show a step: the sign-in page, the chooser, the consent step for a
/// settled account, or (`prompt=none`) the error redirect.
pub async fn show(
    state: &AppState,
    env: &PageEnv<'_>,
    p: &Pending,
    step: Step,
    now: i64,
) -> HttpResponse {
    match step {
        Step::SignIn => pages::sign_in(env, p, &SignInForm::for_request(p), None, StatusCode::OK),
        Step::Chooser(accounts) => pages::chooser(
            env,
            p,
            &accounts,
            &SignInForm::for_request(p),
            None,
            StatusCode::OK,
        ),
        Step::Account(c) => proceed(state, env, p, &c, now).await,
        Step::Fail(code) => fail(state, env, p, code).await,
    }
}

/// An account is settled: skip consent when the rule allows it (issue the
/// code), answer `consent_required` under `prompt=none`, or show consent.
pub async fn proceed(
    state: &AppState,
    env: &PageEnv<'_>,
    p: &Pending,
    account: &Candidate,
    now: i64,
) -> HttpResponse {
    let did = account.account.did.clone();
    let client_id = p.request.client_id.clone();
    let approved = match db(state, move |s| s.authorized_client(&did, &client_id)).await {
        Ok(a) => a,
        Err(e) => return pages::error_page(env, &e),
    };
    let prompt = p.request.params.prompt.as_deref();
    let needed = flow::consent_needed(&ConsentInput {
        prompt,
        trusted: p.client.is_trusted(),
        confidential: p.client.client.is_confidential(),
        requested: &p.request.params.scope,
        approved: approved.as_ref().map(|a| a.scope.as_str()),
    });
    if !needed {
        return approve(state, env, p, &account.account.did, false, now).await;
    }
    if prompt == Some("none") {
        return fail(state, env, p, ErrorCode::ConsentRequired).await;
    }
    pages::consent(env, p, account)
}

/// Issue the code and send it to the client. `remember` records the
/// approval (the user saw the consent page and allowed).
pub async fn approve(
    state: &AppState,
    env: &PageEnv<'_>,
    p: &Pending,
    did: &Did,
    remember: bool,
    now: i64,
) -> HttpResponse {
    let code = Code::generate();
    let (id, hash, sub) = (p.id.as_str().to_string(), code.hash(), did.clone());
    let issued = db(state, move |s| {
        s.issue_code(&id, &sub, &hash, now + CODE_LIFETIME_SECS)
    })
    .await;
    match issued {
        Ok(true) => {}
        Ok(false) => return pages::error_page(env, &PageError::BadRequest("error.request_used")),
        Err(e) => return pages::error_page(env, &e),
    }
    if remember {
        let (sub, client_id, requested) = (
            did.clone(),
            p.request.client_id.clone(),
            p.request.params.scope.clone(),
        );
        let saved = db(state, move |s| {
            let previous = s.authorized_client(&sub, &client_id)?;
            let scope = flow::merged_scope(previous.as_ref().map(|a| a.scope.as_str()), &requested);
            s.upsert_authorized_client(&sub, &client_id, &scope, now)
        })
        .await;
        if let Err(e) = saved {
            // The code is issued: send it; the approval will be asked again.
            tracing::error!(error = ?e, "could not remember an approval");
        }
    }
    tracing::info!(client_id = %p.request.client_id, sub = %did, "authorization approved; code issued");
    redirect::respond(env, &p.request, &Outcome::Code(code.as_str().to_string()))
}

/// End the request with an error sent to the client (deny, `prompt=none`).
/// The request is deleted first: it cannot be used again.
pub async fn fail(
    state: &AppState,
    env: &PageEnv<'_>,
    p: &Pending,
    code: ErrorCode,
) -> HttpResponse {
    let id = p.id.as_str().to_string();
    if let Err(e) = db(state, move |s| s.delete_request(&id)).await {
        return pages::error_page(env, &e);
    }
    let description = match code {
        ErrorCode::AccessDenied => "the user denied the request",
        ErrorCode::LoginRequired => "no account is signed in (prompt=none)",
        ErrorCode::ConsentRequired => {
            "the user has not approved this client for this scope (prompt=none)"
        }
        ErrorCode::AccountSelectionRequired => "several accounts are signed in (prompt=none)",
        _ => "the request cannot be completed",
    };
    tracing::info!(client_id = %p.request.client_id, error = %code, "authorization ended with an error");
    redirect::respond(env, &p.request, &Outcome::Error(code, description))
}

/// `POST /oauth/authorize/consent`: `decision=approve` with the `account`
/// shown on the page, or `decision=deny` (also the cancel button of the
/// other pages).
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let now = state.now();
    let (posted, msgs) = match load_post(&state, &req, payload, now).await {
        Ok(v) => v,
        Err((e, msgs)) => return pages::error_page(&PageEnv::bare(&state, msgs), &e),
    };
    let p = &posted.pending;
    let env = PageEnv::for_request(&state, msgs, p);
    match posted.form.get("decision") {
        Some("deny") => fail(&state, &env, p, ErrorCode::AccessDenied).await,
        Some("approve") => {
            let Some(did) = posted.form.get("account").map(str::to_string) else {
                return pages::error_page(&env, &PageError::BadRequest("error.bad_form"));
            };
            let device_id = p.device.id.clone();
            let cands = match db(&state, move |s| candidates(s, &device_id)).await {
                Ok(c) => c,
                Err(e) => return pages::error_page(&env, &e),
            };
            let input = flow_input(&state, p, now);
            match flow::pick(&input, &cands, &did) {
                Some(c) => approve(&state, &env, p, &c.account.did, true, now).await,
                // Signed out or gone stale meanwhile: start over.
                None => show(&state, &env, p, flow::initial_step(&input, &cands), now).await,
            }
        }
        _ => pages::error_page(&env, &PageError::BadRequest("error.bad_form")),
    }
}
