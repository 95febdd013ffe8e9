//! Microsoft Graph, the slice this app uses: `GET /v1.0/me`, and Graph's throttling
//! (`Retry-After` on 429 and 503) honoured for every user of a tenant.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Deserialize;
use url::Url;

use crate::{
    domain::{AccessToken, ClaimsRequest},
    entra::retry_after,
    telemetry::http::PeerCall,
};

/// How long to hold off when Graph throttles without saying for how long (Microsoft
/// Graph throttling guidance: back off, then retry).
const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` taken as given: a larger one is a broken answer, not a reason
/// to shut a tenant out of Graph for days.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
    pub job_title: Option<String>,
    pub office_location: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    code: String,
    message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphCallError {
    #[error("Microsoft Graph answered HTTP {status}: {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        /// Graph's `Retry-After`, on 429 and 503.
        retry_after: Option<Duration>,
        /// A 401's claims challenge: Continuous Access Evaluation's after a revocation, for a
        /// client that declared `cp1`.
        challenge: Option<ClaimsRequest>,
    },
    #[error("Microsoft Graph could not be reached: {0}")]
    Unreachable(String),
}

pub async fn me(
    http: &reqwest::Client,
    base: &Url,
    token: &AccessToken,
) -> Result<Me, GraphCallError> {
    let url = format!("{}/v1.0/me", base.as_str().trim_end_matches('/'));
    let url = Url::parse(&url).map_err(|err| GraphCallError::Unreachable(err.to_string()))?;
    let call = PeerCall::start("GET /v1.0/me", "GET", &url, None);
    let request = http.get(url).bearer_auth(token.expose());
    let response = call
        .send(request, http::HeaderMap::new())
        .await
        .map_err(|err| GraphCallError::Unreachable(err.to_string()))?;
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let challenge = (status == 401)
        .then(|| crate::claims_challenge::from_headers(response.headers()))
        .flatten();
    if status == 200 {
        return response
            .json::<Me>()
            .await
            .map_err(|err| GraphCallError::Unreachable(err.without_url().to_string()));
    }
    let body = response.bytes().await.unwrap_or_default();
    let (code, message) = error_of(&body);
    call.graph_refused(&code);
    Err(GraphCallError::Api {
        status,
        code,
        message,
        retry_after: wait,
        challenge,
    })
}

/// Graph's error code and message from an error answer's body.
fn error_of(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<GraphErrorBody>(body) {
        Ok(b) => (b.error.code, b.error.message),
        // Not Graph's error shape: say so, without passing an unknown body to the browser.
        Err(_) => (
            "unreadable".into(),
            format!("an answer that is not a Graph error ({} bytes)", body.len()),
        ),
    }
}

/// Pages of groups read at most (999 ids a page: about 50,000 groups).
const MAX_GROUP_PAGES: usize = 50;

/// The object ids of every group the token's user is in, transitively
/// (`/me/transitiveMemberOf/microsoft.graph.group`, 999 a page, following `@odata.nextLink`
/// only on Graph's own host): what a token's groups overage marker stands for.
pub async fn member_groups(
    http: &reqwest::Client,
    base: &Url,
    token: &AccessToken,
) -> Result<Vec<String>, GraphCallError> {
    #[derive(Deserialize)]
    struct Page {
        value: Vec<GroupId>,
        #[serde(rename = "@odata.nextLink")]
        next: Option<String>,
    }
    #[derive(Deserialize)]
    struct GroupId {
        id: String,
    }
    let first = format!(
        "{}/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999",
        base.as_str().trim_end_matches('/')
    );
    let mut url = Url::parse(&first).map_err(|err| GraphCallError::Unreachable(err.to_string()))?;
    let mut ids = Vec::new();
    for _ in 0..MAX_GROUP_PAGES {
        let call = PeerCall::start("GET /v1.0/me/transitiveMemberOf", "GET", &url, None);
        let request = http.get(url.clone()).bearer_auth(token.expose());
        let response = call
            .send(request, http::HeaderMap::new())
            .await
            .map_err(|err| GraphCallError::Unreachable(err.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            let wait = retry_after(response.headers());
            let body = response.bytes().await.unwrap_or_default();
            let (code, message) = error_of(&body);
            call.graph_refused(&code);
            return Err(GraphCallError::Api {
                status,
                code,
                message,
                retry_after: wait,
                challenge: None,
            });
        }
        let page: Page = response
            .json()
            .await
            .map_err(|err| GraphCallError::Unreachable(err.without_url().to_string()))?;
        ids.extend(page.value.into_iter().map(|g| g.id));
        match page.next.and_then(|next| Url::parse(&next).ok()) {
            Some(next) if next.origin() == base.origin() => url = next,
            Some(_) => {
                return Err(GraphCallError::Unreachable(
                    "the next page of groups is not on Microsoft Graph's host".into(),
                ));
            }
            None => return Ok(ids),
        }
    }
    Err(GraphCallError::Unreachable(format!(
        "more than {} pages of groups",
        MAX_GROUP_PAGES
    )))
}

impl GraphCallError {
    /// Graph refused the token itself (`InvalidAuthenticationToken`): revoked, expired
    /// early or signed with a withdrawn key. Another token may well work.
    pub fn is_token_refused(&self) -> bool {
        matches!(self, Self::Api { status: 401, .. })
    }

    /// The claims Graph's 401 asks for (Continuous Access Evaluation), if it is a claims
    /// challenge.
    pub fn claims_challenge(&self) -> Option<&ClaimsRequest> {
        match self {
            Self::Api {
                status: 401,
                challenge,
                ..
            } => challenge.as_ref(),
            _ => None,
        }
    }

    /// How long Graph asked to be left alone: 429 always (its `Retry-After`, else a
    /// default), 503 when it said so.
    pub fn throttled_for(&self) -> Option<Duration> {
        match self {
            Self::Api {
                status: 429,
                retry_after,
                ..
            } => Some(retry_after.unwrap_or(DEFAULT_THROTTLE_WAIT)),
            Self::Api {
                status: 503,
                retry_after,
                ..
            } => *retry_after,
            _ => None,
        }
    }
}

/// Graph's throttling per tenant: after a 429 or 503 with `Retry-After`, no call to Graph
/// for that tenant's users until the time has passed (calls made anyway would only extend
/// the throttling).
#[derive(Default)]
pub struct Throttle(Mutex<HashMap<String, Instant>>);

impl Throttle {
    /// The time left before Graph may be called for tenant `tid`.
    pub fn remaining(&self, tid: &str) -> Option<Duration> {
        let until = *self.0.lock().expect("throttle lock").get(tid)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Holds Graph calls for tenant `tid` off for `wait`.
    pub fn hold(&self, tid: &str, wait: Duration) {
        let now = Instant::now();
        let mut map = self.0.lock().expect("throttle lock");
        map.retain(|_, until| *until > now);
        map.insert(tid.to_owned(), now + wait.min(MAX_THROTTLE_WAIT));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_tenant_waits_and_others_do_not() {
        let throttle = Throttle::default();
        throttle.hold("a", Duration::from_secs(30));
        let left = throttle.remaining("a").unwrap();
        assert!(left > Duration::from_secs(28) && left <= Duration::from_secs(30));
        assert!(throttle.remaining("b").is_none());
        throttle.hold("b", Duration::ZERO);
        assert!(throttle.remaining("b").is_none());
        // An absurd Retry-After is capped, not an overflow.
        throttle.hold("c", Duration::from_secs(u64::MAX));
        assert!(throttle.remaining("c").unwrap() <= MAX_THROTTLE_WAIT);
    }

    #[test]
    fn a_429_without_retry_after_still_backs_off() {
        let err = GraphCallError::Api {
            status: 429,
            code: "TooManyRequests".into(),
            message: "slow down".into(),
            retry_after: None,
            challenge: None,
        };
        assert_eq!(err.throttled_for(), Some(DEFAULT_THROTTLE_WAIT));
        let err = GraphCallError::Api {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "down".into(),
            retry_after: None,
            challenge: None,
        };
        assert_eq!(err.throttled_for(), None);
    }
}
