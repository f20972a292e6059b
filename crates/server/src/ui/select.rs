//! `POST /oauth/authorize/select`: pick one of the accounts signed in on
//! this device (the chooser), or `switch=1` to see the chooser again from
//! the consent page. The account must be usable for this request
//! (signed in here, fresh, the hinted one); otherwise the chooser or the
//! sign-in form is shown again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::consent::{flow_input, proceed};
use super::flow;
use super::pages::{self, PageEnv, SignInForm};
use super::request::{candidates, db, load_post};
use crate::state::AppState;

/// `POST /oauth/authorize/select`.
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
    let device_id = p.device.id.clone();
    let cands = match db(&state, move |s| candidates(s, &device_id)).await {
        Ok(c) => c,
        Err(e) => return pages::error_page(&env, &e),
    };
    let input = flow_input(&state, p, now);
    let picked = match posted.form.get("account") {
        Some(did) if posted.form.get("switch").is_none() => flow::pick(&input, &cands, did),
        _ => None,
    };
    match picked {
        Some(c) => proceed(&state, &env, p, &c, now).await,
        None => {
            let usable = flow::usable_accounts(&input, &cands);
            let form = SignInForm::for_request(p);
            if usable.is_empty() {
                pages::sign_in(&env, p, &form, None, StatusCode::OK)
            } else {
                pages::chooser(&env, p, &usable, &form, None, StatusCode::OK)
            }
        }
    }
}
