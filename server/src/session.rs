//! The typed contents of a session: pending sign-ins and the signed-in user's tokens.
//!
//! Everything here lives only in the session store (SQLite or memory); the cookie
//! holds nothing but the opaque session id. Keys are namespaced constants.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use std::collections::BTreeMap;

use crate::domain::{AccessToken, ClaimsRequest, Nonce, RefreshToken, ReturnTo, ScopeSet};

const TRANSACTIONS_KEY: &str = "auth.transactions";
const USER_KEY: &str = "auth.user";
const CLAIMS_CHALLENGE_KEY: &str = "auth.claims_challenge";
const CONSENT_SCOPES_KEY: &str = "auth.consent_scopes";
const API_CLAIMS_KEY: &str = "auth.api_claims";
const CONSENT_REFUSED_KEY: &str = "auth.consent_refused";
const LAST_USE_KEY: &str = "auth.last_use";
const GRAPH_GROUPS_KEY: &str = "auth.graph_groups";
/// Sign-ins started in other tabs stay valid; more than this many pending is abuse.
const MAX_PENDING_SIGN_INS: usize = 5;
/// A sign-in must come back from the identity provider within this time; a session that
/// holds nothing but pending sign-ins lives no longer either.
const SIGN_IN_TIMEOUT_SECS: i64 = 15 * 60;

/// A sign-in in progress: what the callback needs to finish it.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuthTransaction {
    pub state: String,
    pub pkce_verifier: oauth2::PkceCodeVerifier,
    pub nonce: Nonce,
    pub return_to: ReturnTo,
    pub started_at: i64,
    /// The `claims` sent to `/authorize` (a step-up challenge, the client capabilities).
    #[serde(default)]
    pub claims: Option<ClaimsRequest>,
    /// The tenant the sign-in was sent to (`/auth/login?tenant=`), when one was named.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Whether `/authorize` named downstream scopes for consent only: a sign-in refused for
    /// them is tried again without them.
    #[serde(default)]
    pub named_consent_scopes: bool,
}

/// The signed-in user and their tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedInUser {
    pub tenant_id: String,
    pub object_id: String,
    pub name: String,
    pub username: String,
    pub login_hint: Option<String>,
    /// The ID token, decoded (its signature was checked at sign-in; the raw token is not
    /// kept).
    pub id_token_header: serde_json::Value,
    pub id_token_claims: serde_json::Value,
    pub refresh_token: Option<RefreshToken>,
    /// The token for this app's own API (`API_SCOPE`): the On-Behalf-Of assertion.
    pub api_token: AccessToken,
    pub api_token_expires_at: i64,
    /// Seconds the sign-in token was issued for, to renew it at a tenth of its life.
    pub api_token_lifetime: i64,
    pub signed_in_at: i64,
    /// The `claims` this sign-in's `/authorize` carried: an API asking again for claims the
    /// sign-in already asked for is a loop, not a reason for another sign-in.
    #[serde(default)]
    pub sign_in_claims: Option<ClaimsRequest>,
}

/// The groups Microsoft Graph listed for the user (their token had too many to list).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphGroups {
    pub ids: Vec<String>,
    pub read_at: i64,
}

/// A problem reading or writing the session store.
#[derive(Debug, thiserror::Error)]
#[error("the session store failed: {0}")]
pub struct SessionError(#[from] tower_sessions::session::Error);

/// Typed access to one request's session: the only way to its contents (the keys above are
/// private to this module). An axum extractor, like the `Session` it wraps.
#[derive(Clone)]
pub struct UserSession(Session);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UserSession {
    type Rejection = <Session as axum::extract::FromRequestParts<S>>::Rejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Session::from_request_parts(parts, state).await.map(Self)
    }
}

impl UserSession {
    /// The session of a request that passed the session layer.
    pub fn of(parts: &http::request::Parts) -> Option<Self> {
        parts.extensions.get::<Session>().cloned().map(Self)
    }

    /// Remembers a sign-in in progress, keeping the few most recent ones (one per tab).
    pub async fn push_transaction(&self, tx: AuthTransaction) -> Result<(), SessionError> {
        let mut pending: Vec<AuthTransaction> =
            self.0.get(TRANSACTIONS_KEY).await?.unwrap_or_default();
        let now = now();
        pending.retain(|t| now - t.started_at < SIGN_IN_TIMEOUT_SECS);
        pending.push(tx);
        // An anonymous visitor's session holds only this: it need not outlive the sign-in
        // (8 hours of stored rows per anonymous `GET /auth/login` otherwise).
        if self.user().await?.is_none() {
            self.0.set_expiry(Some(pending_expiry()));
        }
        if pending.len() > MAX_PENDING_SIGN_INS {
            pending.remove(0);
        }
        self.0.insert(TRANSACTIONS_KEY, pending).await?;
        Ok(())
    }

    /// Takes (and so consumes) the sign-in whose `state` came back; `None` when unknown,
    /// already used or too old.
    pub async fn take_transaction(
        &self,
        state: &str,
    ) -> Result<Option<AuthTransaction>, SessionError> {
        let mut pending: Vec<AuthTransaction> =
            self.0.get(TRANSACTIONS_KEY).await?.unwrap_or_default();
        let position = pending.iter().position(|t| {
            use subtle::ConstantTimeEq as _;
            t.state.len() == state.len() && bool::from(t.state.as_bytes().ct_eq(state.as_bytes()))
        });
        // No matching sign-in: nothing is written (a forged callback must not create or
        // touch a session).
        let Some(found) = position.map(|i| pending.remove(i)) else {
            return Ok(None);
        };
        // Spent now and durably: whatever the redemption answers (tower-sessions does not
        // save on 5xx), this state, verifier and nonce never serve a second time. An
        // anonymous session with nothing left pending is deleted rather than saved (a save
        // would give it the signed-in idle life); with other tabs' sign-ins pending it keeps
        // their short life.
        if self.user().await?.is_none() {
            // A refused consent is remembered across the sign-in started again without it.
            if pending.is_empty() && self.consent_refused().await?.is_none() {
                self.0.flush().await?;
                return Ok(Some(found).filter(|t| now() - t.started_at < SIGN_IN_TIMEOUT_SECS));
            }
            self.0.set_expiry(Some(pending_expiry()));
        }
        self.0.insert(TRANSACTIONS_KEY, pending).await?;
        self.0.save().await?;
        Ok(Some(found).filter(|t| now() - t.started_at < SIGN_IN_TIMEOUT_SECS))
    }

    pub async fn user(&self) -> Result<Option<SignedInUser>, SessionError> {
        Ok(self.0.get(USER_KEY).await?)
    }

    /// Stores the user after sign-in, under a new session id (session fixation defence),
    /// in a browser-session cookie (the idle timeout is kept by the store, see
    /// [`crate::store::idle`]). Saved at once, so that the new id is known: the id.
    pub async fn sign_in(&self, user: &SignedInUser) -> Result<String, SessionError> {
        // What an API asked of its tokens belongs to the user and tenant it asked it of
        // (authentication-context ids differ per tenant): another user starts without it.
        let same_user = self.user().await?.is_some_and(|before| {
            before.tenant_id.eq_ignore_ascii_case(&user.tenant_id)
                && before.object_id.eq_ignore_ascii_case(&user.object_id)
        });
        if !same_user {
            self.0.remove_value(API_CLAIMS_KEY).await?;
        }
        self.0.cycle_id().await?;
        // The old id's place: the new id is stored elsewhere.
        self.0
            .remove_value(crate::store::sealed::STORED_ID_FIELD)
            .await?;
        self.0
            .set_expiry(Some(tower_sessions::Expiry::OnSessionEnd));
        self.0.insert(LAST_USE_KEY, now()).await?;
        self.0.remove_value(TRANSACTIONS_KEY).await?;
        self.0.remove_value(CLAIMS_CHALLENGE_KEY).await?;
        self.0.remove_value(CONSENT_SCOPES_KEY).await?;
        self.0.remove_value(GRAPH_GROUPS_KEY).await?;
        self.0.insert(USER_KEY, user).await?;
        self.0.save().await?;
        Ok(self.id().unwrap_or_default())
    }

    /// Replaces the stored tokens and saves at once, so that concurrent requests of this
    /// session see them without waiting for this response.
    pub async fn update_user(&self, user: &SignedInUser) -> Result<(), SessionError> {
        self.0.insert(USER_KEY, user).await?;
        self.0.save().await?;
        Ok(())
    }

    /// A claims challenge (Conditional Access) to send with the next sign-in.
    ///
    /// Saved at once: it is set while answering with an error status, and tower-sessions
    /// does not save sessions on 5xx responses.
    pub async fn set_claims_challenge(&self, claims: &ClaimsRequest) -> Result<(), SessionError> {
        self.0.insert(CLAIMS_CHALLENGE_KEY, claims).await?;
        self.0.save().await?;
        Ok(())
    }

    /// Adds `claims` to the challenge the next sign-in carries (two APIs asking before the
    /// user signs in again need one sign-in, not two).
    pub async fn add_claims_challenge(&self, claims: &ClaimsRequest) -> Result<(), SessionError> {
        let merged = match self.claims_challenge().await? {
            Some(pending) => pending.merge(claims),
            None => claims.clone(),
        };
        self.set_claims_challenge(&merged).await
    }

    pub async fn claims_challenge(&self) -> Result<Option<ClaimsRequest>, SessionError> {
        // A value this version cannot read (not a JSON object) is no challenge.
        Ok(self
            .0
            .get::<serde_json::Value>(CLAIMS_CHALLENGE_KEY)
            .await?
            .and_then(|v| serde_json::from_value(v).ok()))
    }

    /// What the API whose token has `scopes` asked its tokens to carry (its claims
    /// challenges, merged): every On-Behalf-Of request for those scopes carries it, so that
    /// the token the API gets answers its challenge, until the session ends.
    pub async fn api_claims(
        &self,
        scopes: &ScopeSet,
    ) -> Result<Option<ClaimsRequest>, SessionError> {
        let all: BTreeMap<String, ClaimsRequest> =
            self.0.get(API_CLAIMS_KEY).await?.unwrap_or_default();
        Ok(all.get(&scopes.to_wire()).cloned())
    }

    /// Records what the API whose token has `scopes` asks of its tokens. Saved at once, like
    /// the claims challenge. The map holds one entry per configured API at most.
    pub async fn set_api_claims(
        &self,
        scopes: &ScopeSet,
        claims: &ClaimsRequest,
    ) -> Result<(), SessionError> {
        let mut all: BTreeMap<String, ClaimsRequest> =
            self.0.get(API_CLAIMS_KEY).await?.unwrap_or_default();
        all.insert(scopes.to_wire(), claims.clone());
        self.0.insert(API_CLAIMS_KEY, all).await?;
        self.0.save().await?;
        Ok(())
    }

    /// Downstream scopes that lack consent (AADSTS65001): the next sign-in names them so
    /// that the identity provider asks for consent (incremental consent).
    pub async fn set_consent_scopes(&self, scopes: &ScopeSet) -> Result<(), SessionError> {
        self.0.insert(CONSENT_SCOPES_KEY, scopes).await?;
        // Saved at once, like the claims challenge.
        self.0.save().await?;
        Ok(())
    }

    pub async fn consent_scopes(&self) -> Result<Option<ScopeSet>, SessionError> {
        Ok(self.0.get(CONSENT_SCOPES_KEY).await?)
    }

    /// Remembers that the identity provider refused a sign-in for the consent it asked
    /// (`code`: AADSTS90094, 650052, ...): asking the user to consent again would only loop;
    /// an administrator must. Kept until the session ends.
    pub async fn set_consent_refused(&self, code: u32) -> Result<(), SessionError> {
        self.0.insert(CONSENT_REFUSED_KEY, code).await?;
        self.0.save().await?;
        Ok(())
    }

    /// The AADSTS code of a sign-in refused for its consent, in this session.
    pub async fn consent_refused(&self) -> Result<Option<u32>, SessionError> {
        Ok(self.0.get(CONSENT_REFUSED_KEY).await?)
    }

    /// Marks the session as used now, so that its idle time starts again: a store write at
    /// most every `touch_interval` (the layer saves the modified session with the
    /// response), not on every request.
    pub async fn touch(&self, idle_timeout: std::time::Duration) -> Result<(), SessionError> {
        let last: Option<i64> = self.0.get(LAST_USE_KEY).await?;
        let now = now();
        if last.is_none_or(|at| now - at >= touch_interval(idle_timeout)) {
            self.0.insert(LAST_USE_KEY, now).await?;
        }
        Ok(())
    }

    /// Reads the session again from the store: another request (or instance) may have saved
    /// new tokens since this request read it.
    pub async fn reload(&self) -> Result<(), SessionError> {
        self.0.load().await?;
        Ok(())
    }

    /// Deletes the session and everything in it.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        self.0.flush().await?;
        Ok(())
    }

    /// The groups read from Graph for a token with the overage marker, and when (Unix
    /// seconds): kept with the session, never in the cookie.
    pub async fn graph_groups(&self) -> Result<Option<GraphGroups>, SessionError> {
        Ok(self.0.get(GRAPH_GROUPS_KEY).await?)
    }

    pub async fn set_graph_groups(&self, ids: Vec<String>) -> Result<(), SessionError> {
        self.0
            .insert(
                GRAPH_GROUPS_KEY,
                GraphGroups {
                    ids,
                    read_at: now(),
                },
            )
            .await?;
        Ok(())
    }

    pub fn id(&self) -> Option<String> {
        self.0.id().map(|id| id.to_string())
    }

    /// The session's key where it is not the cookie: the store's id of it
    /// ([`StoredIds::current`]), for caches, leases and the sign-in index, none of which may
    /// hold a cookie.
    ///
    /// [`StoredIds::current`]: crate::store::sealed::StoredIds::current
    pub async fn stored_id(&self, ids: &crate::store::sealed::StoredIds) -> Option<String> {
        let id = self.0.id()?;
        // Where the store found it (under an older key of the ring, whatever this instance's
        // ring order); a session created by this request is where this instance put it.
        let found: Option<String> = self
            .0
            .get(crate::store::sealed::STORED_ID_FIELD)
            .await
            .ok()
            .flatten();
        Some(found.unwrap_or_else(|| ids.current(&id).to_string()))
    }
}

/// The life of a session that holds nothing but pending sign-ins.
fn pending_expiry() -> tower_sessions::Expiry {
    tower_sessions::Expiry::OnInactivity(tower_sessions::cookie::time::Duration::seconds(
        SIGN_IN_TIMEOUT_SECS,
    ))
}

/// How stale the last-use mark may get: a minute, or a quarter of a short idle timeout.
fn touch_interval(idle_timeout: std::time::Duration) -> i64 {
    (idle_timeout.as_secs() as i64 / 4).clamp(1, 60)
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::touch_interval;

    #[test]
    fn the_last_use_is_written_at_most_once_a_minute() {
        assert_eq!(touch_interval(Duration::from_secs(8 * 3600)), 60);
        assert_eq!(touch_interval(Duration::from_secs(120)), 30);
        assert_eq!(touch_interval(Duration::from_secs(3)), 1);
    }
}
