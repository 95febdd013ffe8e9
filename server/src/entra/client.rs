//! The Entra client of this app: the authorization code flow with PKCE (via the `oauth2`
//! crate), code redemption and refresh, each authenticated by the client credential
//! ([`crate::credential`]) through [`EntraClient::with_credential`].

use std::sync::Arc;

use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse as _,
    TokenUrl,
    basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType},
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    EntraErrorBody, IdpError, JwksCache, ProviderMetadata,
    error::retry_after,
    id_token::{Expectations, IdTokenError, VerifiedIdToken},
};
use crate::{
    config::Config,
    domain::{AccessToken, ClaimsRequest, RefreshToken, ScopeSet},
};

/// Entra's token response: the standard fields plus the ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntraFields {
    #[serde(default)]
    id_token: Option<String>,
}
impl oauth2::ExtraTokenFields for EntraFields {}
type EntraTokenResponse = oauth2::StandardTokenResponse<EntraFields, BasicTokenType>;

/// The concrete `oauth2` client: authorization and token endpoints set.
type OAuthClient = oauth2::Client<
    EntraErrorBody,
    EntraTokenResponse,
    BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tokens from a code redemption or a refresh.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    /// Unix seconds.
    pub expires_at: i64,
    pub id_token: Option<String>,
}

/// What a sign-in asks of the identity provider besides its basics (PKCE, `state`, `nonce`,
/// the sign-in scopes).
#[derive(Default)]
pub struct SignInRequest<'a> {
    /// A claims challenge the sign-in must satisfy (Conditional Access step-up).
    pub claims: Option<&'a ClaimsRequest>,
    /// Scopes that lacked consent (AADSTS65001), named so that the consent page lists them.
    pub consent_scopes: Option<&'a ScopeSet>,
    /// Name the downstream APIs' scopes too (consent at sign-in): off for the retry of a
    /// sign-in those scopes got refused.
    pub downstream_consent: bool,
    /// The tenant to sign in to (a multi-tenant app's user signing in to a tenant that
    /// invited them); `None`: the configured authority.
    pub tenant: Option<&'a str>,
}

/// What the login route needs: where to send the browser, and what to remember until the
/// callback (the verifier is single use and not `Clone`, as in `oauth2`).
pub struct AuthorizationStart {
    pub url: Url,
    pub state: CsrfToken,
    pub pkce_verifier: PkceCodeVerifier,
    pub nonce: String,
    /// The `claims` sent (the challenge merged with the client capabilities).
    pub claims: Option<ClaimsRequest>,
    /// Whether scopes were named for consent only.
    pub named_consent_scopes: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CodeRedemptionError {
    #[error(transparent)]
    Idp(#[from] IdpError),
    #[error("the identity provider returned no ID token (was the `openid` scope removed?)")]
    NoIdToken,
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    #[error("the user belongs to tenant {tid}, which is not in AZURE_AD_ALLOWED_TENANTS")]
    TenantNotAllowed { tid: String },
    #[error("the sign-in was sent to tenant {asked} but its ID token is tenant {got}'s")]
    TenantMismatch { asked: String, got: String },
}

pub struct EntraClient {
    config: Arc<Config>,
    http: reqwest::Client,
    oauth: OAuthClient,
    metadata: ProviderMetadata,
    jwks: Arc<JwksCache>,
    /// Multi-tenant authorities: each user tenant's own signing keys, bounded by the
    /// allow-list (keys are only fetched for allowed tenants).
    tenant_jwks: moka::sync::Cache<String, Arc<JwksCache>>,
    /// Tenant ids by verified domain (`fabrikam.onmicrosoft.com`), from each domain's
    /// discovery document (a sign-in may name its tenant by domain); `None` for a name the
    /// identity provider does not know, so that made-up names cost one lookup each per hour.
    tenant_ids: moka::future::Cache<String, Option<String>>,
    /// This app's client capabilities as a claims request (`xms_cc`), sent on every request.
    capabilities: Option<ClaimsRequest>,
}

impl EntraClient {
    /// Discovers the provider's endpoints and builds the client.
    pub async fn discover(
        config: Arc<Config>,
        http: reqwest::Client,
        authority_host: &Url,
    ) -> Result<Self, IdpError> {
        let metadata = ProviderMetadata::discover(&http, authority_host, &config.tenant).await?;
        Ok(Self::new(config, http, metadata))
    }

    /// Builds the client on an already fetched discovery document.
    pub fn new(config: Arc<Config>, http: reqwest::Client, metadata: ProviderMetadata) -> Self {
        // The credential's fields go in the body (client_secret_post for a secret, as MSAL
        // does); `oauth2` itself sends only the client id.
        let oauth = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
            .set_redirect_uri(RedirectUrl::from_url(config.redirect_uri()))
            .set_auth_type(oauth2::AuthType::RequestBody);
        let jwks = Arc::new(JwksCache::new(http.clone(), metadata.jwks_uri.clone()));
        Self {
            http,
            oauth,
            metadata,
            jwks,
            tenant_jwks: moka::sync::Cache::new(1_000),
            tenant_ids: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
            capabilities: ClaimsRequest::capabilities(&config.client_capabilities),
            config,
        }
    }

    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The signing keys for tokens of tenant `tid`: the configured tenant's, or with a
    /// multi-tenant authority that tenant's own key set (`{host}/{tid}/discovery/...`).
    fn jwks_for(&self, tid: &str) -> Arc<JwksCache> {
        if !self.config.is_multi_tenant() {
            return self.jwks.clone();
        }
        self.tenant_jwks.get_with(tid.to_ascii_lowercase(), || {
            Arc::new(JwksCache::new(
                self.http.clone(),
                for_tenant(&self.metadata.jwks_uri, tid),
            ))
        })
    }

    /// The token endpoint for a user of tenant `tid`. With a multi-tenant authority this
    /// is the user's own tenant, never `/common`: Microsoft's On-Behalf-Of guidance names the
    /// tenant-specific endpoint, since `/common` resolves a guest to their home tenant (the
    /// wrong directory) and refuses personal-account guests (AADSTS500202).
    pub fn token_endpoint_for(&self, tid: &str) -> Url {
        if self.config.is_multi_tenant() {
            for_tenant(&self.metadata.token_endpoint, tid)
        } else {
            self.metadata.token_endpoint.clone()
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(super) fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The directory (tenant) id a verified domain or tenant id names, from its discovery
    /// document's issuer (cached for an hour).
    pub async fn tenant_id_of(&self, name: &str) -> Result<String, IdpError> {
        let key = name.to_ascii_lowercase();
        let unknown = || IdpError::InvalidResponse {
            endpoint: "discovery",
            detail: format!("no tenant is known by {name}"),
        };
        if let Some(known) = self.tenant_ids.get(&key).await {
            return known.ok_or_else(unknown);
        }
        let endpoint = &self.metadata.authorization_endpoint;
        let host = Url::parse(&endpoint.origin().ascii_serialization()).map_err(|err| {
            IdpError::InvalidResponse {
                endpoint: "discovery",
                detail: err.to_string(),
            }
        })?;
        let metadata = match ProviderMetadata::discover(&self.http, &host, &key).await {
            Ok(metadata) => metadata,
            Err(err) if err.is_transient() => return Err(err),
            Err(_) => {
                self.tenant_ids.insert(key, None).await;
                return Err(unknown());
            }
        };
        let tid = metadata
            .issuer
            .split('/')
            .find(|seg| uuid::Uuid::parse_str(seg).is_ok())
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| IdpError::InvalidResponse {
                endpoint: "discovery",
                detail: format!("the issuer {} names no tenant id", metadata.issuer),
            })?;
        self.tenant_ids.insert(key, Some(tid.clone())).await;
        Ok(tid)
    }

    /// `claims` with this app's client capabilities (`xms_cc`), as MSAL sends them on every
    /// request: the capabilities replace any `xms_cc` the claims had.
    pub fn with_capabilities(&self, claims: Option<&ClaimsRequest>) -> Option<ClaimsRequest> {
        ClaimsRequest::merge_all(claims.into_iter().chain(self.capabilities.as_ref()))
    }

    /// Starts a sign-in: PKCE S256, `state`, `nonce`, the sign-in scopes, the client
    /// capabilities and a claims challenge in `claims`, the scopes named for consent, at the
    /// configured authority or the tenant `request` names.
    pub fn start_authorization(&self, request: &SignInRequest<'_>) -> AuthorizationStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().into_secret();
        let oauth = match request.tenant {
            Some(tid) => self
                .oauth
                .clone()
                .set_auth_uri(AuthUrl::from_url(for_tenant(
                    &self.metadata.authorization_endpoint,
                    tid,
                ))),
            None => self.oauth.clone(),
        };
        let mut builder = oauth
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone())
            .add_extra_param("response_mode", "query");
        for scope in sign_in_scopes(&self.config.api_scope) {
            builder = builder.add_scope(oauth2::Scope::new(scope));
        }
        let claims = self.with_capabilities(request.claims);
        if let Some(claims) = &claims {
            builder = builder.add_extra_param("claims", claims.as_str().to_owned());
        }
        // Consent up front (MSAL's extraScopesToConsent): name the downstream APIs' scopes
        // so the consent page lists them with this app's own; the token still comes for
        // the sign-in scope, which alone is named at redemption. Without this, a tenant
        // without admin consent meets AADSTS65001 at the first On-Behalf-Of call.
        let mut consent: Vec<&ScopeSet> = request.consent_scopes.into_iter().collect();
        if request.downstream_consent && self.config.consent_at_sign_in {
            consent.push(&self.config.graph_scope);
            consent.extend(self.config.downstream_apis.iter().map(|api| &api.scopes));
        }
        let mut named: Vec<String> = Vec::new();
        for scope in consent.into_iter().flat_map(ScopeSet::iter) {
            let scope = scope.to_string();
            // `.default` cannot stand next to other resources' scopes at sign-in
            // (AADSTS70011); such an API's consent comes from an administrator.
            if !named.contains(&scope) && !scope.ends_with("/.default") {
                builder = builder.add_scope(oauth2::Scope::new(scope.clone()));
                named.push(scope);
            }
        }
        let (url, state) = builder.url();
        AuthorizationStart {
            url,
            state,
            pkce_verifier: verifier,
            nonce,
            claims,
            named_consent_scopes: !named.is_empty(),
        }
    }

    /// Redeems the authorization code of a sign-in (sent to `tenant`, when it named one) and
    /// verifies the ID token against it.
    pub async fn redeem_code(
        &self,
        code: String,
        verifier: PkceCodeVerifier,
        nonce: &str,
        tenant: Option<&str>,
        claims: Option<&ClaimsRequest>,
    ) -> Result<(VerifiedIdToken, TokenGrant), CodeRedemptionError> {
        let endpoint = match tenant {
            Some(tid) => for_tenant(&self.metadata.token_endpoint, tid),
            None => self.metadata.token_endpoint.clone(),
        };
        let oauth = self
            .oauth
            .clone()
            .set_token_uri(TokenUrl::from_url(endpoint.clone()));
        // Microsoft's extension: name the resource again at redemption, as MSAL does.
        let scope = sign_in_scopes(&self.config.api_scope)
            .collect::<Vec<_>>()
            .join(" ");
        let (oauth, code, verifier, scope) = (&oauth, &code, &verifier, &scope);
        let response = self
            .with_credential(&endpoint, |fields| async move {
                let mut request = oauth
                    .exchange_code(AuthorizationCode::new(code.clone()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.secret().clone()));
                for (name, value) in fields {
                    request = request.add_extra_param(name, value);
                }
                // MSAL sends the sign-in's claims again at redemption.
                if let Some(claims) = claims {
                    request = request.add_extra_param("claims", claims.as_str().to_owned());
                }
                request
                    .add_extra_param("scope", scope.clone())
                    .request_async(&self.http_fn())
                    .await
                    .map_err(|err| map_token_error(err, "token (authorization_code)"))
            })
            .await?;
        let grant = into_grant(response);
        let raw_id_token = grant
            .id_token
            .as_deref()
            .ok_or(CodeRedemptionError::NoIdToken)?;
        let tenant_id = self
            .metadata
            .issuer
            .split('/')
            .find(|seg| seg.len() == 36 && seg.contains('-'));
        // Multi-tenant: the token names its tenant; only an allowed tenant's keys are
        // fetched, and the issuer is checked against that tenant below.
        let keys = if self.config.is_multi_tenant() {
            let tid = super::decode_unverified(raw_id_token)
                .and_then(|(_, claims)| claims.get("tid")?.as_str().map(str::to_owned))
                .ok_or(CodeRedemptionError::IdToken(IdTokenError::Malformed))?;
            if !self.config.allows_tenant(&tid) {
                return Err(CodeRedemptionError::TenantNotAllowed { tid });
            }
            if let Some(asked) = tenant
                && !asked.eq_ignore_ascii_case(&tid)
            {
                return Err(CodeRedemptionError::TenantMismatch {
                    asked: asked.to_owned(),
                    got: tid,
                });
            }
            self.jwks_for(&tid)
        } else {
            self.jwks.clone()
        };
        let expectations = Expectations {
            issuer: &self.metadata.issuer,
            client_id: &self.config.client_id,
            nonce,
            tenant_id: if self.config.is_multi_tenant() {
                None
            } else {
                tenant_id
            },
        };
        let verified = VerifiedIdToken::verify(raw_id_token, &expectations, &keys).await?;
        Ok((verified, grant))
    }

    /// Redeems a refresh token of a user of tenant `tid` for a new sign-in token (the
    /// refresh token rotates).
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        tid: &str,
    ) -> Result<TokenGrant, IdpError> {
        let token = oauth2::RefreshToken::new(refresh_token.expose().to_owned());
        let endpoint = self.token_endpoint_for(tid);
        let oauth = self
            .oauth
            .clone()
            .set_token_uri(TokenUrl::from_url(endpoint.clone()));
        let (oauth, token) = (&oauth, &token);
        let response = self
            .with_credential(&endpoint, |fields| async move {
                let mut request = oauth.exchange_refresh_token(token);
                for (name, value) in fields {
                    request = request.add_extra_param(name, value);
                }
                for scope in sign_in_scopes(&self.config.api_scope) {
                    request = request.add_scope(oauth2::Scope::new(scope));
                }
                if let Some(claims) = self.with_capabilities(None) {
                    request = request.add_extra_param("claims", claims.as_str().to_owned());
                }
                request
                    .request_async(&self.http_fn())
                    .await
                    .map_err(|err| map_token_error(err, "token (refresh_token)"))
            })
            .await?;
        Ok(into_grant(response))
    }

    /// The end-session URL that signs the user out at the identity provider too.
    pub fn logout_url(&self, login_hint: Option<&str>) -> Option<Url> {
        let mut url = self.metadata.end_session_endpoint.clone()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("post_logout_redirect_uri", self.config.public_url.as_str());
            if let Some(hint) = login_hint {
                query.append_pair("logout_hint", hint);
            }
        }
        Some(url)
    }

    /// Makes a token request at `token_endpoint` with the fields that authenticate this app
    /// (`call` adds them to its form). When Entra refuses the credential in use as expired or
    /// invalid and another is configured, the request is made again with the next one; if
    /// every one is refused, the first refusal is the answer.
    pub(crate) async fn with_credential<T, F, Fut>(
        &self,
        token_endpoint: &Url,
        call: F,
    ) -> Result<T, IdpError>
    where
        F: Fn(Vec<(&'static str, String)>) -> Fut,
        Fut: Future<Output = Result<T, IdpError>>,
    {
        let credential = &self.config.credential;
        let mut first_refusal: Option<(usize, IdpError)> = None;
        for index in credential.attempt_order() {
            let fields = match credential
                .form_fields(index, &self.config.client_id, token_endpoint)
                .await
            {
                Ok(fields) => fields,
                // Logged here, whole; the problem page shows visitors only its kind. A source
                // that cannot be read after a refusal: the refusal is the answer.
                Err(err) => {
                    tracing::error!(error = %err, source = index + 1, "client credential unavailable");
                    match first_refusal {
                        Some((_, refusal)) => return Err(refusal),
                        None => return Err(err.into()),
                    }
                }
            };
            match call(fields).await {
                Ok(answer) => {
                    if let Some((refused, _)) = &first_refusal {
                        credential.fell_back(*refused, index);
                    }
                    return Ok(answer);
                }
                Err(err)
                    if credential.rotates_on(err.entra_body().and_then(EntraErrorBody::code)) =>
                {
                    first_refusal.get_or_insert((index, err));
                }
                Err(err) => return Err(err),
            }
        }
        Err(first_refusal
            .map(|(_, err)| err)
            .expect("a credential has at least one source, so one attempt was made"))
    }

    /// `oauth2`'s HTTP hook: reqwest without redirects (see `http_client`), and 429/5xx
    /// turned into `IdpError` here, where the status and `Retry-After` are still known.
    pub(super) fn http_fn(
        &self,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, IdpError>> + Send>,
    > + use<> {
        let http = self.http.clone();
        move |request: oauth2::HttpRequest| {
            let http = http.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request).map_err(|err| {
                    IdpError::InvalidResponse {
                        endpoint: "token",
                        detail: err.to_string(),
                    }
                })?;
                let answer = super::traced::send(&http, request, "token", "token").await?;
                if answer.status == 429 || answer.status >= 500 {
                    let wait = retry_after(&answer.headers);
                    return Err(IdpError::from_status(
                        "token",
                        answer.status,
                        wait,
                        &answer.body,
                    ));
                }
                let mut builder = http::Response::builder().status(answer.status);
                for (name, value) in &answer.headers {
                    builder = builder.header(name, value);
                }
                builder
                    .body(answer.body.to_vec())
                    .map_err(|err| IdpError::InvalidResponse {
                        endpoint: "token",
                        detail: err.to_string(),
                    })
            })
        }
    }
}

/// `url` with its first path segment (the tenant, e.g. `common`) replaced by `tid`.
fn for_tenant(url: &Url, tid: &str) -> Url {
    let mut out = url.clone();
    let rest: Vec<String> = url
        .path_segments()
        .map(|segments| segments.skip(1).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Ok(mut segments) = out.path_segments_mut() {
        segments.clear().push(tid).extend(rest);
    }
    out
}

/// The scopes of a sign-in: OpenID Connect (`openid` for the ID token, `offline_access` for
/// the refresh token, `profile` for names) plus this app's own API scope, whose token is
/// the On-Behalf-Of assertion.
fn sign_in_scopes(api_scope: &ScopeSet) -> impl Iterator<Item = String> + '_ {
    ["openid", "profile", "offline_access"]
        .into_iter()
        .map(str::to_owned)
        .chain(api_scope.iter().map(|s| s.to_string()))
}

fn into_grant(response: EntraTokenResponse) -> TokenGrant {
    let lifetime = response.expires_in().map_or(3600, |d| d.as_secs() as i64);
    TokenGrant {
        access_token: AccessToken::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|rt| RefreshToken::new(rt.secret().clone())),
        expires_at: jsonwebtoken::get_current_timestamp() as i64 + lifetime,
        id_token: response.extra_fields().id_token.clone(),
    }
}

pub(super) fn map_token_error(
    err: RequestTokenError<IdpError, EntraErrorBody>,
    endpoint: &'static str,
) -> IdpError {
    match err {
        RequestTokenError::ServerResponse(body) => IdpError::Rejected {
            endpoint,
            status: if body.error == "invalid_client" {
                401
            } else {
                400
            },
            body: Box::new(body),
        },
        RequestTokenError::Request(err) => err,
        RequestTokenError::Parse(err, _body) => IdpError::InvalidResponse {
            endpoint,
            detail: err.to_string(),
        },
        RequestTokenError::Other(detail) => IdpError::InvalidResponse { endpoint, detail },
    }
}

/// The HTTP client for every call to the identity provider and Graph: rustls, timeouts on
/// every call, and no redirects (a redirect from a token endpoint is never legitimate and
/// would be an SSRF vector, as oauth2-rs warns).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("entra-bff/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS backend is compiled in")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_tenant_endpoint_is_turned_into_the_users_tenant() {
        let common =
            Url::parse("https://login.microsoftonline.com/common/oauth2/v2.0/token").unwrap();
        assert_eq!(
            for_tenant(&common, "3dac8762-d1be-44f2-861a-a7e2aafdfc78").as_str(),
            "https://login.microsoftonline.com/3dac8762-d1be-44f2-861a-a7e2aafdfc78/oauth2/v2.0/token"
        );
        let keys = Url::parse("http://127.0.0.1:3100/organizations/discovery/v2.0/keys").unwrap();
        assert_eq!(
            for_tenant(&keys, "t").as_str(),
            "http://127.0.0.1:3100/t/discovery/v2.0/keys"
        );
    }
}
