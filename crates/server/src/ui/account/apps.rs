//! Connected apps: `GET /account/apps`, `POST /account/apps/revoke`,
//! `POST /account/apps/revoke-all`.
//!
//! An app is a client with a live OAuth session for the account, or whose
//! approval the account remembers (it may come back without the consent
//! page). Revoking deletes every session of that client for the account
//! (`SessionStore::delete_sessions_for`: the rows the token endpoint and
//! the resource verifier read, so refresh tokens and, in stateful mode,
//! access tokens stop working at once) and forgets the approval.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::client::ClientId;
use atauth_core::identity::Did;
use atauth_core::store::{
    AuthorizedClient, AuthorizedClientStore, OAuthSession, SessionStore, StoreResult,
};
use futures_util::future::join_all;
use serde_json::{json, Value};

use super::super::credentials::{self, Checked};
use super::super::flow::Candidate;
use super::super::headers::FormAction;
use super::super::pages::{client_view, PageError};
use super::super::request::db;
use super::{page_url, query, see_other, view, Visitor, APPS_PATH, HOME_PATH};
use crate::state::AppState;

/// One connected app of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    /// The client.
    pub client_id: String,
    /// Scope granted: every token of its sessions and its approval, each
    /// once, in order of appearance.
    pub scope: Vec<String>,
    /// The earliest approval or session start.
    pub first_authorized: i64,
    /// The latest token issue (session `last_used_at`); `None` without a
    /// live session.
    pub last_used: Option<i64>,
    /// When the last of its sessions ends; `None` without a live session.
    pub expires: Option<i64>,
    /// How many live sessions it has.
    pub sessions: usize,
}

/// Group an account's live sessions (`expires_at > now`) and approvals by
/// client, most recently active first (ties by client_id).
pub fn gather(sessions: &[OAuthSession], approvals: &[AuthorizedClient], now: i64) -> Vec<AppRow> {
    let mut rows: HashMap<&str, AppRow> = HashMap::new();
    let add_scope = |row: &mut AppRow, scope: &str| {
        for t in scope.split_ascii_whitespace() {
            if !row.scope.iter().any(|s| s == t) {
                row.scope.push(t.to_string());
            }
        }
    };
    let new_row = |client_id: &str, first: i64| AppRow {
        client_id: client_id.to_string(),
        scope: Vec::new(),
        first_authorized: first,
        last_used: None,
        expires: None,
        sessions: 0,
    };
    for a in approvals {
        let row = rows
            .entry(a.client_id.as_str())
            .or_insert_with(|| new_row(&a.client_id, a.created_at));
        row.first_authorized = row.first_authorized.min(a.created_at);
        add_scope(row, &a.scope);
    }
    for s in sessions.iter().filter(|s| s.expires_at > now) {
        let row = rows
            .entry(s.client_id.as_str())
            .or_insert_with(|| new_row(&s.client_id, s.created_at));
        row.first_authorized = row.first_authorized.min(s.created_at);
        row.last_used = Some(
            row.last_used
                .map_or(s.last_used_at, |l| l.max(s.last_used_at)),
        );
        row.expires = Some(row.expires.map_or(s.expires_at, |e| e.max(s.expires_at)));
        row.sessions += 1;
        add_scope(row, &s.scope);
    }
    let mut out: Vec<AppRow> = rows.into_values().collect();
    out.sort_by(|a, b| {
        let at = |r: &AppRow| r.last_used.unwrap_or(r.first_authorized);
        at(b)
            .cmp(&at(a))
            .then_with(|| a.client_id.cmp(&b.client_id))
    });
    out
}

/// How a client is shown (SPEC §3 "Display"): resolved, as on the consent
/// page; when it cannot be resolved now, by its URL (or as "an application
/// on this device" for a loopback client), never by anything it claims.
async fn display(state: &AppState, msgs: &super::Messages, client_id: &str) -> Value {
    match state.clients.resolve(client_id).await {
        Ok(c) => client_view(&c, msgs),
        Err(_) => {
            let loopback = matches!(ClientId::parse(client_id), Ok(ClientId::Loopback { .. }));
            let name = if loopback {
                msgs.get("client.loopback").to_string()
            } else {
                client_id.to_string()
            };
            json!({ "name": name, "logo": null, "unverified": !loopback, "tos": null, "policy": null })
        }
    }
}

/// Revoke one client's access for an account, or every client's: delete
/// the sessions, forget the approvals. Returns (sessions, approvals).
pub fn revoke_access(
    store: &(impl SessionStore + AuthorizedClientStore),
    did: &Did,
    client_id: Option<&str>,
) -> StoreResult<(u64, u64)> {
    let sessions = store.delete_sessions_for(did, client_id)?;
    let mut approvals = 0;
    match client_id {
        Some(c) => approvals += u64::from(store.forget_authorized_client(did, c)?),
        None => {
            for a in store.authorized_clients(did)? {
                approvals += u64::from(store.forget_authorized_client(did, &a.client_id)?);
            }
        }
    }
    Ok((sessions, approvals))
}

/// The apps page of an account.
async fn page(
    v: &Visitor<'_>,
    c: &Candidate,
    error: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (did, now) = (c.account.did.clone(), v.now);
    let loaded = db(v.state, move |s| {
        Ok((
            s.list_sessions(Some(&did), None)?,
            s.authorized_clients(&did)?,
        ))
    })
    .await;
    let (sessions, approvals) = match loaded {
        Ok(l) => l,
        Err(e) => return v.error(&e),
    };
    let rows = gather(&sessions, &approvals, now);
    let displays = join_all(rows.iter().map(|r| display(v.state, v.msgs, &r.client_id))).await;
    let apps: Vec<Value> = rows
        .iter()
        .zip(displays)
        .map(|(r, client)| {
            json!({
                "client_id": r.client_id,
                "client": client,
                "scopes": view::scopes(v.msgs, &r.scope),
                "first_authorized": view::utc(r.first_authorized),
                "last_used": r.last_used.map(view::utc),
                "expires": r.expires.map(view::utc),
                "sessions": r.sessions,
            })
        })
        .collect();
    let data = json!({
        "account": view::account(c, true),
        "section": "apps",
        "apps": apps,
        "password_needed": !v.recently_authenticated(c),
        "error": error,
        "done": done,
    });
    v.env()
        .render("account/apps.html", data, status, &FormAction::self_only())
}

/// `GET /account/apps?account=DID`.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match Visitor::get(&state, &req, false).await {
        Ok(Some((v, _))) => v,
        Ok(None) => return see_other(HOME_PATH),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = query(&req);
    let Some(c) = v.selected(q.get("account")).cloned() else {
        return see_other(&format!("{HOME_PATH}?next=apps"));
    };
    let done = view::done_message(v.msgs, q.get("done"));
    page(&v, &c, None, done, StatusCode::OK).await
}

/// `POST /account/apps/revoke`: `account`, `client_id`.
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(c) = v.account(form.get("account")).cloned() else {
        return v.error(&PageError::Forbidden("error.account_not_signed_in"));
    };
    let Some(client_id) = form.get("client_id").map(str::to_string) else {
        return v.error(&PageError::BadRequest("error.bad_form"));
    };
    let (did, cid) = (c.account.did.clone(), client_id.clone());
    match db(&state, move |s| revoke_access(s, &did, Some(&cid))).await {
        Ok((sessions, approvals)) => {
            tracing::info!(sub = %c.account.did, client_id = %client_id, sessions, approvals, "account pages: app revoked");
            see_other(&page_url(
                APPS_PATH,
                c.account.did.as_str(),
                Some("revoked"),
            ))
        }
        Err(e) => v.error(&e),
    }
}

/// `POST /account/apps/revoke-all`: `account`, and `password` when the
/// account's password was not entered on this browser within the last
/// hour (module policy).
pub async fn revoke_all(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(c) = v.account(form.get("account")).cloned() else {
        return v.error(&PageError::Forbidden("error.account_not_signed_in"));
    };
    if !v.recently_authenticated(&c) {
        let Some(password) = form.get("password") else {
            let message = v.msgs.get("apps.password_missing").to_string();
            return page(&v, &c, Some(message), None, StatusCode::BAD_REQUEST).await;
        };
        match credentials::check(&state, &req, c.account.did.as_str(), password.to_string()).await {
            Ok(Checked::Valid(_)) => {}
            Ok(Checked::Invalid) => {
                tracing::info!(sub = %c.account.did, "account pages: wrong password to revoke every app");
                let message = v.msgs.get("password.wrong").to_string();
                return page(&v, &c, Some(message), None, StatusCode::BAD_REQUEST).await;
            }
            Err(e) => return v.error(&e),
        }
    }
    let did = c.account.did.clone();
    let mut link = c.link.clone();
    let reauthenticated = !v.recently_authenticated(&c);
    link.authenticated_at = v.now;
    let revoked = db(&state, move |s| {
        if reauthenticated {
            atauth_core::store::DeviceStore::upsert_device_account(s, &link)?;
        }
        revoke_access(s, &did, None)
    })
    .await;
    match revoked {
        Ok((sessions, approvals)) => {
            tracing::info!(sub = %c.account.did, sessions, approvals, "account pages: every app revoked");
            see_other(&page_url(
                APPS_PATH,
                c.account.did.as_str(),
                Some("revoked_all"),
            ))
        }
        Err(e) => v.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::client::auth::ClientAuth;

    fn did() -> Did {
        Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap()
    }

    fn session(
        id: &str,
        client: &str,
        scope: &str,
        created: i64,
        used: i64,
        exp: i64,
    ) -> OAuthSession {
        OAuthSession {
            id: id.into(),
            did: did(),
            client_id: client.into(),
            client_auth: ClientAuth::None,
            scope: scope.into(),
            dpop_jkt: "j".into(),
            request_id: "r".into(),
            created_at: created,
            expires_at: exp,
            refresh_hash: None,
            refresh_expires_at: None,
            previous_refresh_hash: None,
            rotated_at: None,
            last_used_at: used,
        }
    }

    #[test]
    fn gather_groups_by_client_and_skips_ended_sessions() {
        let approvals = vec![AuthorizedClient {
            did: did(),
            client_id: "https://a.example/c.json".into(),
            scope: "atproto transition:email".into(),
            created_at: 50,
            updated_at: 60,
        }];
        let sessions = vec![
            session(
                "s1",
                "https://a.example/c.json",
                "atproto transition:generic",
                100,
                150,
                1000,
            ),
            session("s2", "https://a.example/c.json", "atproto", 120, 300, 2000),
            session("s3", "https://b.example/c.json", "atproto", 10, 20, 1000),
            session("s4", "https://gone.example/c.json", "atproto", 10, 400, 499),
        ];
        let rows = gather(&sessions, &approvals, 500);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let a = &rows[0];
        assert_eq!(a.client_id, "https://a.example/c.json");
        assert_eq!(
            a.scope,
            ["atproto", "transition:email", "transition:generic"]
        );
        assert_eq!(
            (a.first_authorized, a.last_used, a.expires),
            (50, Some(300), Some(2000))
        );
        assert_eq!(a.sessions, 2);
        let b = &rows[1];
        assert_eq!(
            (b.first_authorized, b.last_used, b.sessions),
            (10, Some(20), 1)
        );
    }

    #[test]
    fn revoke_access_takes_one_client_or_all() {
        use atauth_core::store::memory::MemoryStore;
        let store = MemoryStore::new();
        for (id, client) in [
            ("s1", "https://a.example/c.json"),
            ("s2", "https://b.example/c.json"),
        ] {
            store
                .create_session(&session(id, client, "atproto", 1, 1, 10_000))
                .unwrap();
            store
                .upsert_authorized_client(&did(), client, "atproto", 1)
                .unwrap();
        }
        assert_eq!(
            revoke_access(&store, &did(), Some("https://a.example/c.json")),
            Ok((1, 1))
        );
        assert!(store.session_by_id("s1").unwrap().is_none());
        assert!(store.session_by_id("s2").unwrap().is_some());
        assert_eq!(revoke_access(&store, &did(), None), Ok((1, 1)));
        assert_eq!(store.session_count(), Ok(0));
        assert_eq!(store.authorized_clients(&did()), Ok(vec![]));
    }
}
