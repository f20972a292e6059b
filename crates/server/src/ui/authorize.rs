//! `GET /oauth/authorize` (RFC 6749 §4.1.1 with RFC 9126 §4): the entry
//! point of the browser flow.
//!
//! Only `client_id` and `request_uri` are read (RFC 9126 §4: the pushed
//! request holds everything else). In order:
//!
//! 1. both present, neither repeated; `request_uri` well formed;
//! 2. the stored request exists, has no code, is unexpired, and belongs to
//!    this `client_id`;
//! 3. the client resolves (for display and the consent rules);
//! 4. the browser's device is found, or created with a new cookie;
//! 5. the request is bound to the device (first device wins; another one
//!    gets the error page);
//! 6. the next step: sign-in, chooser, consent, or straight back to the
//!    client (`prompt=none`, or consent already given).
//!
//! Failures before 6 are error pages, never redirects: until step 2 the
//! client and its redirect URI are unverified.

use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::form::FormParams;
use atauth_core::ids::RequestId;
use atauth_core::store::{DeviceStore, RequestStore};

use super::consent::{flow_input, show};
use super::device::{self, Visit};
use super::flow;
use super::pages::{error_page, PageEnv, PageError};
use super::request::{candidates, check_request, db, language, resolve_client, Pending};
use crate::state::AppState;

/// `GET /oauth/authorize`.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let now = state.now();
    let fallback = language(&state, &req, None);
    let bare = |e: PageError| error_page(&PageEnv::bare(&state, fallback), &e);

    // 1.
    let query = match FormParams::parse(req.query_string().as_bytes()) {
        Ok(q) => q,
        Err(_) => return bare(PageError::BadRequest("error.bad_form")),
    };
    let (Some(client_id), Some(request_uri)) = (query.get("client_id"), query.get("request_uri"))
    else {
        return bare(PageError::BadRequest("error.missing_params"));
    };
    let Some(id) = RequestId::from_request_uri(request_uri) else {
        return bare(PageError::BadRequest("error.request_unknown"));
    };

    // 2.
    let rid = id.as_str().to_string();
    let request = match db(&state, move |s| s.get_request(&rid)).await {
        Ok(r) => r,
        Err(e) => return bare(e),
    };
    let request = match check_request(request, now) {
        Ok(r) => r,
        Err(e) => return bare(e),
    };
    if request.client_id != client_id {
        return bare(PageError::BadRequest("error.request_wrong_client"));
    }
    let msgs = language(&state, &req, request.params.ui_locales.as_deref());
    let page_error = |e: PageError| error_page(&PageEnv::bare(&state, msgs), &e);

    // 3.
    let client = match resolve_client(&state, &request.client_id).await {
        Ok(c) => c,
        Err(e) => return page_error(e),
    };

    // 4. and 5.
    let secret = device::secret_from(&req);
    let visit = Visit::of(&req);
    let rid = id.as_str().to_string();
    let found = db(&state, move |s| {
        let existing = match &secret {
            Some(sec) => device::find(s, sec)?,
            None => None,
        };
        let (device, new_secret) = match existing {
            Some(d) => {
                s.touch_device(&d.id, now, visit.user_agent.as_deref(), visit.ip.as_deref())?;
                (d, None)
            }
            None => {
                let (d, sec) = device::create(s, now, &visit)?;
                (d, Some(sec))
            }
        };
        let bound = s.bind_device(&rid, &device.id)?;
        let cands = if bound {
            candidates(s, &device.id)?
        } else {
            Vec::new()
        };
        Ok((device, new_secret, bound, cands))
    })
    .await;
    let (device, new_secret, bound, cands) = match found {
        Ok(v) => v,
        Err(e) => return page_error(e),
    };
    let mut resp = if !bound {
        page_error(PageError::BadRequest("error.request_other_device"))
    } else {
        // 6.
        let pending = Pending {
            id,
            request,
            client,
            device,
        };
        let env = PageEnv::for_request(&state, msgs, &pending);
        let input = flow_input(&state, &pending, now);
        let step = flow::initial_step(&input, &cands);
        show(&state, &env, &pending, step, now).await
    };
    if let Some(secret) = new_secret {
        if let Err(e) = resp.add_cookie(&device::cookie(&secret, state.ui.policy.secure_cookies)) {
            tracing::error!(error = %e, "could not set the device cookie");
        }
    }
    resp
}
