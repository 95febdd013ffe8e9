//! One call to a named downstream API ([`super::named_apis`]) On-Behalf-Of the user: the
//! token (cached per API), the request, and the API's claims challenge answered by the step-up
//! path ([`super::step_up`]). The proxy route and the Call API page both call through here.

use std::time::Duration;

use app::{
    error::AppError,
    model::{NamedApiCall, TokenKind},
};
use axum::body::Bytes;
use http::{HeaderMap, Method, header, request::Parts};
use http_body_util::BodyExt as _;

use super::{BffService, Transient, api_problem, incident, named_apis::Api, step_up::Callee};
use crate::{
    authorization::Scope,
    entra::decode_unverified,
    inspect,
    session::{SignedInUser, UserSession},
    telemetry::http::PeerCall,
    tokens::Obtained,
};

/// The longest a call to an API (answer included) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer the Call API page shows.
const PAGE_BODY_CHARS: usize = 4 * 1024;

/// One request to an API: what the proxy forwards, or the Call API page's GET.
pub(crate) struct ApiRequest<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: HeaderMap,
    /// Read whole (at most the listener's body limit) so that it can be sent again when the
    /// API's claims challenge is answered by a new token.
    pub(crate) body: Option<Bytes>,
}

impl BffService {
    /// Sends `request` to `api` with a token obtained On-Behalf-Of the user; the answer, the
    /// token and whether it came from the cache. An API's claims challenge (401
    /// `insufficient_claims`) goes through the step-up path: On-Behalf-Of again with the
    /// claims, else the sign-in that gives them.
    pub(crate) async fn call(
        &self,
        parts: &Parts,
        signed_in: &(UserSession, SignedInUser),
        api: &Api,
        request: ApiRequest<'_>,
    ) -> Result<(reqwest::Response, Obtained), AppError> {
        // Who may call it, decided before any token is obtained.
        let (session, user) = signed_in;
        self.require(
            &api.config.access,
            Scope::Api(&api.config.name),
            session,
            user,
        )
        .await?;
        let url = api.url(request.path, request.query);
        let http = self.tokens.entra().http().clone();
        let send = |token: crate::domain::AccessToken| {
            let call = PeerCall::start(
                &format!("{} {}", request.method, api.config.name),
                request.method.as_str(),
                &api.base_url,
                Some(&api.config.name),
            );
            let headers = request.headers.clone();
            let mut outgoing = http
                .request(request.method.clone(), &url)
                .bearer_auth(token.expose())
                .timeout(CALL_TIMEOUT);
            if let Some(body) = &request.body {
                outgoing = outgoing.body(body.clone());
            }
            async move {
                call.send(outgoing, headers).await.map_err(|err| {
                    api_problem(
                        "The downstream API is unreachable",
                        None,
                        err.to_string(),
                        format!(
                            "Check the base URL of the API {:?} and that it is running.",
                            api.config.name
                        ),
                        Transient::Yes,
                    )
                })
            }
        };
        if api.config.as_app {
            // The app's own token: no user in it, so no claims challenge to answer for them.
            let obtained = match self
                .tokens
                .app_only(&user.tenant_id, &api.config.scopes)
                .await
            {
                Ok(obtained) => obtained,
                Err(err) => {
                    let scopes = &api.config.scopes;
                    return Err(self.token_problem(err, parts, session, scopes, user).await);
                }
            };
            let response = send(obtained.token.clone()).await?;
            return Ok((response, obtained));
        }
        let callee = Callee {
            name: &api.config.name,
            scopes: &api.config.scopes,
        };
        self.with_step_up(parts, signed_in, callee, send).await
    }

    /// The Call API page's GET of an API's sample path: the start of the answer as text.
    pub(crate) async fn call_named(
        &self,
        parts: &Parts,
        name: &str,
    ) -> Result<NamedApiCall, AppError> {
        let api = self.apis.get(name).ok_or_else(|| {
            api_problem(
                "No such downstream API",
                None,
                format!("No downstream API is named {name:?}."),
                "Pick one of the APIs listed on this page.".into(),
                Transient::No,
            )
        })?;
        let path = api.config.sample_path.clone();
        let (response, obtained) = self
            .call(
                parts,
                &self.signed_in(parts).await?,
                api,
                ApiRequest {
                    method: Method::GET,
                    path: &path,
                    query: None,
                    headers: HeaderMap::new(),
                    body: None,
                },
            )
            .await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no Content-Type")
            .to_owned();
        let url = api.url(&path, None);
        let (body, truncated) = start_of(response, PAGE_BODY_CHARS).await;
        let (header, claims) = decode_unverified(obtained.token.expose())
            .ok_or_else(|| incident("the OBO token is not a JWT"))?;
        let token_from_cache = obtained.source.is_cache();
        Ok(NamedApiCall {
            name: name.to_owned(),
            url,
            status,
            content_type,
            body,
            truncated,
            token: inspect::decoded(TokenKind::Downstream, &header, &claims),
            token_from_cache,
            as_app: api.config.as_app,
        })
    }
}

/// The first `chars` characters of an answer's body, and whether there was more (or the
/// rest could not be read). Reads no more than it shows.
async fn start_of(response: reqwest::Response, chars: usize) -> (String, bool) {
    let answer: http::Response<reqwest::Body> = response.into();
    let mut body = answer.into_body();
    let mut bytes = Vec::new();
    let mut more = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(|f| f.into_data()) else {
            more = true; // cut off: what was read is shown, and said to be incomplete
            break;
        };
        if let Ok(data) = data {
            bytes.extend_from_slice(&data);
        }
        // UTF-8 takes at most 4 bytes a character.
        if bytes.len() > chars * 4 {
            more = true;
            break;
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let shown: String = text.chars().take(chars).collect();
    let truncated = more || shown.len() < text.len();
    (shown, truncated)
}
