//! The token endpoint: the web app's grants (by client secret, or with the client
//! authentication a test gives) and the [`Reply`] they get.

use emulator::{LifetimesUpdate, RunningEmulator, well_known as wk};
use serde_json::Value;

use super::{access_token, client, description};

/// What the web app asks for when it signs a user in: its own API and the OIDC scopes.
pub fn sign_in_scope() -> String {
    format!("{} openid profile offline_access", wk::WEB_APP_SCOPE)
}

/// The grant type of On-Behalf-Of (and of other JWT bearer grants).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The `client_assertion_type` of a client authenticated by a signed JWT (private_key_jwt).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The token endpoint of tenant segment `seg` (GUID, domain or alias).
pub fn token_url_at(emu: &RunningEmulator, seg: &str) -> String {
    format!("{}/oauth2/v2.0/token", emu.authority(seg))
}

/// The token endpoint of the built-in tenant, by GUID.
pub fn token_url(emu: &RunningEmulator) -> String {
    token_url_at(emu, wk::TENANT_ID)
}

/// A token endpoint's answer: its HTTP status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// Asserts a 200 and gives the body.
    #[track_caller]
    pub fn success(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        self.body
    }

    /// Asserts an Entra-shaped error with this HTTP status, `error` and AADSTS code (description
    /// prefix, trace and correlation ids, timestamp); gives the body.
    #[track_caller]
    pub fn aadsts(self, http: u16, error: &str, code: u64) -> Value {
        let body = self.body;
        assert_eq!(self.status, http, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"][0].as_u64(), Some(code), "{body}");
        let d = description(&body);
        assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
        for part in ["\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "] {
            assert!(d.contains(part), "{part:?} missing in {d}");
        }
        for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(body[k].is_string(), "{k} missing in {body}");
        }
        body
    }
}

/// Tests, one a line, that a token request is refused with an Entra error: each names the
/// behaviour, the request (`emu` is the emulator with the built-in world that the test starts),
/// and the answer expected: HTTP status, `error` and AADSTS code (see [`Reply::aadsts`]).
macro_rules! refused {
    ($(
        $(#[$doc:meta])*
        $name:ident: |$emu:ident| $request:expr => $http:literal $error:literal $code:literal;
    )+) => {$(
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let $emu = &$crate::common::start().await;
            $request.await.aadsts($http, $error, $code);
        }
    )+};
}
pub(crate) use refused;

/// POSTs `form` to the token endpoint of tenant segment `seg`.
pub async fn token_at(emu: &RunningEmulator, seg: &str, form: &[(&str, &str)]) -> Reply {
    let r = client()
        .post(token_url_at(emu, seg))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    Reply {
        status,
        body: r.json().await.unwrap(),
    }
}

/// POSTs `form` to the built-in tenant's token endpoint.
pub async fn token(emu: &RunningEmulator, form: &[(&str, &str)]) -> Reply {
    token_at(emu, wk::TENANT_ID, form).await
}

/// Asks for `grant_type` on tenant segment `seg` with the client's authentication `client`
/// (its `client_id` and credential) and `params`.
pub async fn grant_at(
    emu: &RunningEmulator,
    seg: &str,
    grant_type: &str,
    client: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Reply {
    let mut form = vec![("grant_type", grant_type)];
    form.extend_from_slice(client);
    form.extend_from_slice(params);
    token_at(emu, seg, &form).await
}

/// The web app authenticated by its client secret.
pub const BY_SECRET: [(&str, &str); 2] = [
    ("client_id", wk::WEB_APP_CLIENT_ID),
    ("client_secret", wk::WEB_APP_SECRET),
];

/// The web app authenticated by the client assertion `assertion` (private_key_jwt).
pub fn by_assertion(assertion: &str) -> [(&str, &str); 3] {
    [
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]
}

/// Asks for `grant_type` on tenant segment `seg` as the web app, authenticated by its client
/// secret, with `params` added.
pub async fn web_app_grant_at(
    emu: &RunningEmulator,
    seg: &str,
    grant_type: &str,
    params: &[(&str, &str)],
) -> Reply {
    grant_at(emu, seg, grant_type, &BY_SECRET, params).await
}

/// [`web_app_grant_at`] on the built-in tenant.
pub async fn web_app_grant(
    emu: &RunningEmulator,
    grant_type: &str,
    params: &[(&str, &str)],
) -> Reply {
    web_app_grant_at(emu, wk::TENANT_ID, grant_type, params).await
}

/// A password grant (ROPC) by the web app for `upn`, asking for `scope`, on tenant segment `seg`.
pub async fn password_at(emu: &RunningEmulator, seg: &str, upn: &str, scope: &str) -> Reply {
    let params = [
        ("username", upn),
        ("password", wk::USER_PASSWORD),
        ("scope", scope),
        ("client_info", "1"),
    ];
    web_app_grant_at(emu, seg, "password", &params).await
}

/// [`password_at`] on the built-in tenant.
pub async fn password(emu: &RunningEmulator, upn: &str, scope: &str) -> Reply {
    password_at(emu, wk::TENANT_ID, upn, scope).await
}

/// A user token for the web app's own API, asked for by GUID (the right OBO assertion).
pub async fn user_token(emu: &RunningEmulator, upn: &str) -> String {
    let body = password(emu, upn, &sign_in_scope()).await.success();
    access_token(&body).to_owned()
}

/// On-Behalf-Of by the web app with `assertion`, asking for `scope`, on tenant segment `seg`.
pub async fn obo_at(emu: &RunningEmulator, seg: &str, assertion: &str, scope: &str) -> Reply {
    let params = [
        ("assertion", assertion),
        ("requested_token_use", "on_behalf_of"),
        ("scope", scope),
        ("client_info", "1"),
    ];
    web_app_grant_at(emu, seg, JWT_BEARER, &params).await
}

/// [`obo_at`] on the built-in tenant.
pub async fn obo(emu: &RunningEmulator, assertion: &str, scope: &str) -> Reply {
    obo_at(emu, wk::TENANT_ID, assertion, scope).await
}

/// On-Behalf-Of on the built-in tenant with `extra` parameters (e.g. `claims`).
pub async fn obo_with(
    emu: &RunningEmulator,
    assertion: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut params = vec![
        ("assertion", assertion),
        ("requested_token_use", "on_behalf_of"),
        ("scope", scope),
    ];
    params.extend_from_slice(extra);
    web_app_grant(emu, JWT_BEARER, &params).await
}

/// A client-credentials grant by the web app for `scope`, on tenant segment `seg`.
pub async fn client_credentials_at(emu: &RunningEmulator, seg: &str, scope: &str) -> Reply {
    web_app_grant_at(emu, seg, "client_credentials", &[("scope", scope)]).await
}

/// [`client_credentials_at`] on the built-in tenant.
pub async fn client_credentials(emu: &RunningEmulator, scope: &str) -> Reply {
    client_credentials_at(emu, wk::TENANT_ID, scope).await
}

/// A refresh-token redemption by the web app; `scope` `None` leaves the parameter out.
pub async fn refresh(emu: &RunningEmulator, rt: &str, scope: Option<&str>) -> Reply {
    let mut params = vec![("refresh_token", rt)];
    params.extend(scope.map(|s| ("scope", s)));
    web_app_grant(emu, "refresh_token", &params).await
}

/// Makes what `pick` names (codes, refresh tokens or access tokens) expire a second after issue.
pub fn expire_after_one_second(
    emu: &RunningEmulator,
    pick: fn(&mut LifetimesUpdate) -> &mut Option<u64>,
) {
    let mut update = LifetimesUpdate::default();
    *pick(&mut update) = Some(1);
    emu.set_lifetimes(update);
}

/// Waits until what was issued just now with a one-second lifetime has expired.
pub async fn wait_past_one_second() {
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
}
