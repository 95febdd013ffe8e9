//! The token endpoint's grants, one module each, and what they share: scope resolution
//! (`scopes.rs`), the checks a user token passes (consent, Conditional Access, a token for the
//! app itself) and issuing the token response (Microsoft Learn:
//! learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).

pub mod client_credentials;
pub mod code;
pub mod obo;
pub mod password;
pub mod refresh;
mod scopes;

use scopes::response_scope;
pub use scopes::{
    Scopes, requested_or_granted, resolve, resource_not_found, scope_named, scope_uri, split,
    token_resource,
};

use serde_json::{Value, json};

use crate::{
    claims::ClaimsRequest,
    client_auth::ClientAcr,
    errors::AadError,
    keys::{now, now_ms},
    sign_in::AuthFacts,
    state::{RefreshGrant, Shared},
    tokens,
    unconfirmed::{StepUpClaims, Unconfirmed},
    well_known::GRAPH_APP_ID,
    world::{Application, Tenant, User},
};

/// The Conditional Access claims challenge for MFA policies.
pub fn mfa_challenge(policy_ids: &[String]) -> String {
    json!({"access_token": {"capolids": {"essential": true, "values": policy_ids}}}).to_string()
}

/// AADSTS65001 for `client` on `resource`.
pub fn no_consent(client: &Application) -> AadError {
    AadError::grant(
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
            client.app_id, client.display_name
        ),
    )
    .with_suberror("consent_required")
}

/// AADSTS90008 when the app asks for a token for itself (the resolved resource is the calling
/// client) and its registration does not require a "Sign in and read user profile"
/// permission (Graph `User.Read`), whatever the grant.
///
/// Naming itself by an App ID URI is fine for every grant: AADSTS90009 answers only a refresh
/// that names no scope ([`refresh`]), as the public reports show (the fix they report is to
/// send the scope, `api://<client-id>/...` included).
///
/// # Errors
/// AADSTS90008 (`invalid_grant`).
pub fn check_self_token(
    tenant: &Tenant,
    client: &Application,
    scopes: &Scopes,
) -> Result<(), AadError> {
    if scopes.is_for(client) && !client.requires_sign_in_permission(tenant.app(GRAPH_APP_ID)) {
        return Err(AadError::grant(
            90008,
            format!(
                "The user or administrator has not consented to use the application with ID '{}'. This happened because application is misconfigured: it must require access to Windows Azure Active Directory by specifying at least 'Sign in and read user profile' permission.",
                client.app_id
            ),
        ));
    }
    Ok(())
}

/// AADSTS50076: MFA required by policy for `resource`.
pub fn mfa_required(resource: &str, policies: &[String]) -> AadError {
    AadError::new(
        50076,
        "interaction_required",
        format!("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'."),
    )
    .with_suberror("basic_action")
    .with_claims(mfa_challenge(policies))
}

/// AADSTS50076 for an authentication context the sign-in has not satisfied (the request's
/// `claims` asked for it). What Entra answers exactly is not documented: its `error` and
/// `claims` follow the [`Unconfirmed`] switches.
pub fn context_required(
    resource: &str,
    policies: &[String],
    claims: &ClaimsRequest,
    unconfirmed: Unconfirmed,
) -> AadError {
    let mut e = mfa_required(resource, policies);
    e.error = unconfirmed.obo_step_up_error.error();
    e.claims = match unconfirmed.obo_step_up_claims {
        StepUpClaims::Echo => claims.raw.clone(),
        StepUpClaims::PolicyIds => Some(mfa_challenge(policies)),
        StepUpClaims::Absent => None,
    };
    e
}

/// Checks consent, Conditional Access on the resource and the authentication contexts the
/// request's `claims` ask for, for a delegated token for `user`.
///
/// # Errors
/// AADSTS65001 or AADSTS50076.
pub fn check_user_access(
    tenant: &Tenant,
    client: &Application,
    user: &User,
    scopes: &Scopes,
    amr: &[String],
    claims: &ClaimsRequest,
    unconfirmed: Unconfirmed,
) -> Result<(), AadError> {
    let Some(resource) = &scopes.resource else {
        return Ok(());
    };
    if !tenant
        .missing_consent(Some(user), &client.app_id, resource, &scopes.values)
        .is_empty()
    {
        return Err(no_consent(client));
    }
    let has_mfa = amr.iter().any(|a| a == "mfa");
    let policies: Vec<String> = tenant
        .mfa_policies(user, resource)
        .iter()
        .map(|p| p.id.clone())
        .collect();
    if !has_mfa && (!policies.is_empty() || user.require_mfa) {
        return Err(mfa_required(resource, &policies));
    }
    let unmet: Vec<String> = claims
        .acrs
        .iter()
        .filter(|c| !tenant.satisfies_context(user, c, has_mfa))
        .flat_map(|c| tenant.context_policies(user, c))
        .map(|p| p.id.clone())
        .collect();
    if !unmet.is_empty() {
        return Err(context_required(resource, &unmet, claims, unconfirmed));
    }
    Ok(())
}

/// The grants the token endpoint knows, by `grant_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// `authorization_code`: a code from `/authorize`.
    AuthorizationCode,
    /// `refresh_token`: a refresh token issued by a code, OBO or an earlier refresh.
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` with `requested_token_use=on_behalf_of`.
    OnBehalfOf,
    /// `client_credentials`: an app-only token.
    ClientCredentials,
    /// Resource owner password credentials (ROPC).
    Password,
}

impl GrantType {
    /// The grant a `grant_type` value names, if the emulator knows it.
    pub fn from_wire(grant_type: &str) -> Option<Self> {
        match grant_type {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            obo::JWT_BEARER => Some(Self::OnBehalfOf),
            "client_credentials" => Some(Self::ClientCredentials),
            "password" => Some(Self::Password),
            _ => None,
        }
    }

    /// How the grants list (`/_emulator/grants`) names what a refresh token came from.
    pub fn obtained_by(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::OnBehalfOf => "on_behalf_of",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
        }
    }

    /// Whether the answer carries a refresh token even without `offline_access`: a refresh
    /// rolls the refresh token over. On-Behalf-Of gives one only when `offline_access` is
    /// asked for ("The refresh token is only provided if the offline_access scope was
    /// requested", the On-Behalf-Of page).
    fn always_refreshes(self) -> bool {
        self == Self::RefreshToken
    }
}

/// An authenticated token request: what every grant starts from.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    /// The emulator.
    pub state: &'a Shared,
    /// The tenant the request is for.
    pub tenant: &'a Tenant,
    /// The client that authenticated.
    pub client: &'a Application,
    /// How it authenticated.
    pub acr: ClientAcr,
    /// The form.
    pub params: &'a crate::params::Params,
}

/// The user a code or a refresh token was issued to; one removed from the world since is
/// AADSTS70000, as for any grant that no longer holds.
fn granted_user<'t>(tenant: &'t Tenant, oid: &str) -> Result<&'t User, AadError> {
    tenant
        .user_by_oid(oid)
        .ok_or_else(|| AadError::grant(70000, "Provided grant is invalid or malformed."))
}

impl TokenRequest<'_> {
    /// Refuses a public client (neither secret nor assertion) on a grant only a confidential
    /// client may use.
    ///
    /// # Errors
    /// AADSTS7000218.
    pub fn require_confidential(&self) -> Result<(), AadError> {
        if self.acr == ClientAcr::Public {
            return Err(AadError::client(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        Ok(())
    }

    /// The `scope` parameter resolved against the tenant's resources; a token for the client
    /// itself without the sign-in permission is refused here, before any user is looked at.
    ///
    /// # Errors
    /// Scope errors, and AADSTS90008 (a token for itself).
    pub fn requested_scopes(&self) -> Result<Scopes, AadError> {
        let scopes = resolve(
            self.tenant,
            self.client,
            &split(self.params.require("scope")?),
        )?;
        check_self_token(self.tenant, self.client, &scopes)?;
        Ok(scopes)
    }

    /// The request's `claims`.
    ///
    /// # Errors
    /// AADSTS90019 when they are not a JSON object.
    pub fn claims(&self) -> Result<ClaimsRequest, AadError> {
        ClaimsRequest::of(self.params)
    }

    /// The tail every user grant shares: the user's access to the token's resource
    /// (consent, Conditional Access, the authentication contexts `claims` ask for), then the
    /// response.
    ///
    /// # Errors
    /// What [`check_user_access`] and [`issue_user`] refuse.
    pub fn issue_for(
        &self,
        user: &User,
        scopes: &Scopes,
        auth: AuthFacts,
        claims: &ClaimsRequest,
        nonce: Option<String>,
        grant: GrantType,
    ) -> Result<Value, AadError> {
        check_user_access(
            self.tenant,
            self.client,
            user,
            scopes,
            &auth.amr,
            claims,
            self.state.unconfirmed(),
        )?;
        issue_user(
            self.state,
            UserIssue {
                tenant: self.tenant,
                client: self.client,
                client_acr: self.acr,
                user,
                scopes,
                auth,
                claims,
                nonce,
                grant,
                client_info: self.params.get("client_info") == Some("1"),
            },
        )
    }
}

/// What a user token response needs.
pub struct UserIssue<'a> {
    /// The tenant that issues (its `tid` and issuer).
    pub tenant: &'a Tenant,
    /// The client the token is for (`appid`/`azp`).
    pub client: &'a Application,
    /// How the client authenticated (`appidacr`/`azpacr`).
    pub client_acr: ClientAcr,
    /// Whom the token speaks for (`oid`, `upn`, `name`).
    pub user: &'a User,
    /// Resolved scopes.
    pub scopes: &'a Scopes,
    /// Sign-in facts.
    pub auth: AuthFacts,
    /// What the request's `claims` asked of the access token.
    pub claims: &'a ClaimsRequest,
    /// ID token nonce.
    pub nonce: Option<String>,
    /// The grant that is answered.
    pub grant: GrantType,
    /// The request carried `client_info=1`.
    pub client_info: bool,
}

/// Mints the access token (and ID and refresh tokens when asked) and builds the response.
///
/// # Errors
/// AADSTS500011 when the token's resource is missing (see [`token_resource`]).
pub fn issue_user(state: &Shared, i: UserIssue<'_>) -> Result<Value, AadError> {
    let (resource, values) = token_resource(i.tenant, i.scopes)?;
    let lt = *state.lifetimes.read().expect("lifetimes lock");
    let now = now();
    let tid = &i.tenant.id;
    let aud_form = if i.scopes.aud_form.is_empty() {
        GRAPH_APP_ID.to_string()
    } else {
        i.scopes.aud_form.clone()
    };
    let scp = values.join(" ");
    let graph = resource.app_id.eq_ignore_ascii_case(GRAPH_APP_ID);
    let v2 = resource.wants_v2() && !graph;
    let u = i.user;
    let optional = &resource.optional_claims;
    // `xms_cc` reaches a token only when the resource asks for it and the client declared a
    // known capability (Microsoft Learn, "Claims challenges ...").
    let capabilities = if optional.access_token_has("xms_cc") {
        i.claims.known_capabilities()
    } else {
        vec![]
    };
    // A revocable token lives longer: Continuous Access Evaluation ends it early instead. Of
    // the resources here only Graph implements it (Entra gives long-lived tokens "for some
    // resource APIs", Graph, Exchange and SharePoint among them, not for an API that merely
    // lists `xms_cc`).
    let expires_in = if graph && !capabilities.is_empty() {
        lt.access_cae()
    } else {
        lt.access()
    };
    let mut at = json!({
        "aud": if v2 { resource.app_id.clone() } else { aud_form.clone() },
        "iss": if v2 { state.issuer_v2(tid) } else { format!("https://sts.windows.net/{tid}/") },
        "iat": now, "nbf": now, "exp": now + expires_in as i64,
        // The sign-in facts ride in the opaque `aio` (read back by OBO), since v2 access
        // tokens carry no `amr`; so does the issue instant (a revocation's cut-off).
        "aio": tokens::aio(&i.auth, now_ms()),
        "name": u.display_name,
        "oid": u.id,
        "rh": tokens::opaque(16),
        "scp": scp,
        "sub": tokens::pairwise_sub(&u.id, &resource.app_id),
        "tid": tid,
        "uti": tokens::opaque(16),
        "ver": if v2 { "2.0" } else { "1.0" },
    });
    if optional.idtyp_for_users() {
        at["idtyp"] = json!("user");
    }
    let acrs = token_acrs(
        i.tenant,
        u,
        &i.auth,
        i.claims,
        optional.access_token_has("acrs"),
    );
    if !acrs.is_empty() {
        at["acrs"] = json!(acrs);
    }
    if !capabilities.is_empty() {
        at["xms_cc"] = json!(capabilities);
    }
    // A guest is named by its home sign-in name (`preferred_username`, `unique_name`,
    // `email`) and has no `upn` (the access token claims reference; id-token claims: `email`
    // is present by default for guests).
    let sign_in_name = u
        .is_guest()
        .then_some(u.mail.as_deref())
        .flatten()
        .unwrap_or(&u.user_principal_name);
    if v2 {
        at["azp"] = json!(i.client.app_id);
        at["azpacr"] = json!(i.client_acr.claim());
        at["preferred_username"] = json!(sign_in_name);
    } else {
        at["appid"] = json!(i.client.app_id);
        at["appidacr"] = json!(i.client_acr.claim());
        at["acr"] = json!("1");
        // `amr` is a v1 claim only (Entra's access-token claims reference).
        at["amr"] = json!(i.auth.amr);
        at["auth_time"] = json!(i.auth.auth_time);
        if !u.is_guest() {
            at["upn"] = json!(u.user_principal_name);
        }
        at["unique_name"] = json!(sign_in_name);
        at["ipaddr"] = json!("127.0.0.1");
        if let Some(g) = &u.given_name {
            at["given_name"] = json!(g);
        }
        if let Some(f) = &u.surname {
            at["family_name"] = json!(f);
        }
        if let Some(home) = &u.home_tenant_id {
            at["idp"] = json!(format!("https://sts.windows.net/{home}/"));
            at["email"] = json!(sign_in_name);
        }
    }
    // The resource's roles and groups for this user.
    i.tenant.add_directory_claims(&mut at, u, resource);
    let (access_token, mut resp);
    {
        let keys = state.keys.read().expect("keys lock");
        access_token = tokens::sign(keys.current(), &at, tokens::Header::access(v2, graph));
        resp = json!({
            "token_type": "Bearer",
            "scope": response_scope(resource, &aud_form, &values, i.scopes),
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access_token,
        });
        if i.scopes.has_oidc("openid") {
            // v2 ID tokens carry no `amr` (the ID token claims reference lists none; the
            // access token claims reference: "only present in v1.0 tokens").
            let mut id = json!({
                "aud": i.client.app_id,
                "iss": state.issuer_v2(tid),
                "iat": now, "nbf": now, "exp": now + lt.id_token_secs as i64,
                "aio": tokens::opaque(24),
                "name": u.display_name,
                "oid": u.id,
                "preferred_username": sign_in_name,
                "rh": tokens::opaque(16),
                "sid": i.auth.sid,
                "sub": tokens::pairwise_sub(&u.id, &i.client.app_id),
                "tid": tid,
                "uti": tokens::opaque(16),
                "ver": "2.0",
                "auth_time": i.auth.auth_time,
            });
            if let Some(n) = &i.nonce {
                id["nonce"] = json!(n);
            }
            if (i.scopes.has_oidc("email") || u.is_guest())
                && let Some(m) = &u.mail
            {
                id["email"] = json!(m);
            }
            if let Some(home) = &u.home_tenant_id {
                // Guests carry the identity provider of their home tenant.
                id["idp"] = json!(format!("https://sts.windows.net/{home}/"));
            }
            if i.client.optional_claims.id_token_has("login_hint") {
                id["login_hint"] = json!(tokens::login_hint(&u.id, tid));
            }
            // The client's own roles and groups for this user.
            i.tenant.add_directory_claims(&mut id, u, i.client);
            resp["id_token"] = json!(tokens::sign(keys.current(), &id, tokens::Header::V2));
        }
    }
    if i.client_info {
        // The account's home identity, as Entra gives it (a guest's home tenant and object id).
        let (uid, utid) = match (&u.home_object_id, &u.home_tenant_id) {
            (Some(o), Some(t)) => (o.as_str(), t.as_str()),
            _ => (u.id.as_str(), tid.as_str()),
        };
        resp["client_info"] = json!(tokens::client_info(uid, utid));
    }
    if i.scopes.has_oidc("offline_access") || i.grant.always_refreshes() {
        let rt = format!("1.{}", tokens::opaque(48));
        // Scopes as the client named them: a refresh without `scope` asks for them again, in
        // the same form (an App ID URI for the app itself then answers AADSTS90009, as Entra).
        let named = if i.scopes.named.is_empty() {
            values.iter().map(|v| scope_uri(resource, v)).collect()
        } else {
            i.scopes.named.clone()
        };
        let grant = RefreshGrant {
            id: uuid::Uuid::new_v4().to_string(),
            tid: tid.clone(),
            client_id: i.client.app_id.clone(),
            oid: u.id.clone(),
            upn: u.user_principal_name.clone(),
            obtained_by: i.grant.obtained_by().to_string(),
            scopes: named
                .into_iter()
                .chain(i.scopes.oidc.iter().cloned())
                .collect(),
            issued: now,
            expires: now + lt.refresh_token_secs as i64,
            revoked: false,
            auth: i.auth.clone(),
        };
        {
            let mut store = state.store.lock().expect("store lock");
            store.maybe_housekeeping(now);
            store.refresh.insert(rt.clone(), grant);
        }
        state.grants_changed();
        resp["refresh_token"] = json!(rt);
        resp["refresh_token_expires_in"] = json!(lt.refresh_token_secs);
    }
    Ok(resp)
}

/// The authentication contexts a token carries (`acrs`): those its request asked for (all
/// satisfied by then, or it was refused), and, for a resource that opted in to the `acrs`
/// optional claim, every context the tenant's policies protect that the sign-in satisfies
/// ("Conditional Access tries to add ACRS to the token claims opportunistically", the
/// developer guide). Nothing else: a sign-in that satisfied a context does not put it in
/// tokens nobody asked it for.
fn token_acrs(
    tenant: &Tenant,
    user: &User,
    auth: &AuthFacts,
    claims: &ClaimsRequest,
    opted_in: bool,
) -> Vec<String> {
    let mut acrs = claims.acrs.clone();
    if opted_in {
        for c in tenant.satisfied_contexts(user, auth.has_mfa()) {
            if !acrs.iter().any(|a| a.eq_ignore_ascii_case(&c)) {
                acrs.push(c);
            }
        }
    }
    acrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{well_known as wk, world::World};

    #[test]
    fn scopes_resolve_to_one_resource() {
        let w = World::well_known();
        let t = w.tenant(wk::TENANT_ID).unwrap();
        let web = t.app(wk::WEB_APP_CLIENT_ID).unwrap();
        let s = resolve(t, web, &split("User.Read openid offline_access")).unwrap();
        assert_eq!(s.resource.as_deref(), Some(wk::GRAPH_APP_ID));
        assert_eq!(s.oidc, vec!["openid", "offline_access"]);
        let s = resolve(
            t,
            web,
            &split(&format!("{}/.default", wk::WEATHER_API_ID_URI)),
        )
        .unwrap();
        assert_eq!(s.values, vec!["Weather.Read"]);
        assert_eq!(s.aud_form, wk::WEATHER_API_ID_URI);
        let e = resolve(
            t,
            web,
            &split(&format!("User.Read {}", wk::WEATHER_API_SCOPE)),
        )
        .unwrap_err();
        assert_eq!(e.code, 28000);
        assert_eq!(
            resolve(t, web, &split("api://nope/x")).unwrap_err().code,
            500011
        );
        assert_eq!(
            resolve(
                t,
                web,
                &split("api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Nope")
            )
            .unwrap_err()
            .code,
            70011
        );
    }
}
