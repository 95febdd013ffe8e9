//! The world the emulator serves: tenants, users, app registrations (in the Graph manifest's
//! terms: Microsoft Graph's application manifest reference,
//! learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest), consent
//! grants and Conditional Access policies.
//!
//! Load one from JSON with [`World::from_file`], or take the built-in [`World::well_known`].

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Everything the emulator knows about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    /// Directories.
    pub tenants: Vec<Tenant>,
}

/// One directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant GUID.
    pub id: String,
    /// Verified domains (the first is the primary one).
    pub domains: Vec<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// App registrations (with a service principal in this tenant).
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Consent grants.
    #[serde(default)]
    pub consents: Vec<ConsentGrant>,
    /// Conditional Access policies.
    #[serde(default)]
    pub conditional_access_policies: Vec<CaPolicy>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id (`oid`).
    pub id: String,
    /// User principal name.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Surname.
    #[serde(default)]
    pub surname: Option<String>,
    /// Mail.
    #[serde(default)]
    pub mail: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// Office location.
    #[serde(default)]
    pub office_location: Option<String>,
    /// Business phones.
    #[serde(default)]
    pub business_phones: Vec<String>,
    /// Mobile phone.
    #[serde(default)]
    pub mobile_phone: Option<String>,
    /// Preferred language.
    #[serde(default)]
    pub preferred_language: Option<String>,
    /// Password (test data, not a secret).
    pub password: String,
    /// Per-user MFA: every sign-in needs the MFA step.
    #[serde(default)]
    pub require_mfa: bool,
    /// Whether `/me/photo/$value` has a picture.
    #[serde(default)]
    pub has_photo: bool,
    /// For a guest (B2B) record: the tenant the account belongs to. Entra resolves `/common`
    /// and `/organizations` token requests for a guest to this home tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_tenant_id: Option<String>,
    /// For a guest record: the account's object id in its home tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_object_id: Option<String>,
}

impl User {
    /// Whether this record is a guest whose account lives in another tenant.
    pub fn is_guest(&self) -> bool {
        self.home_tenant_id.is_some()
    }
}

/// An app registration, in the Microsoft Graph manifest's terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Client id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Who may sign in: `AzureADMyOrg` (this tenant only: `/common` and `/organizations`
    /// answer AADSTS50194) or `AzureADMultipleOrgs` (the default here, so that worlds written
    /// before the field keep working).
    #[serde(default = "multiple_orgs")]
    pub sign_in_audience: String,
    /// App ID URIs.
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    /// The `api` section.
    #[serde(default)]
    pub api: ApiSection,
    /// App roles.
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
    /// Permissions this app requires.
    #[serde(default)]
    pub required_resource_access: Vec<RequiredResourceAccess>,
    /// The `web` platform.
    #[serde(default)]
    pub web: WebSection,
    /// Public client (no credential) if true.
    #[serde(default)]
    pub is_fallback_public_client: bool,
    /// Client secrets.
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    /// Certificates.
    #[serde(default)]
    pub key_credentials: Vec<KeyCredential>,
    /// Optional claims (only `login_hint` in ID tokens has an effect).
    #[serde(default, skip_serializing_if = "OptionalClaims::is_empty")]
    pub optional_claims: OptionalClaims,
}

/// `signInAudience` for a single-tenant app.
pub const SINGLE_TENANT: &str = "AzureADMyOrg";
/// `signInAudience` for a multi-tenant app (the default).
pub const MULTI_TENANT: &str = "AzureADMultipleOrgs";

fn multiple_orgs() -> String {
    MULTI_TENANT.into()
}

/// The manifest's `optionalClaims`, in Graph's shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionalClaims {
    /// Optional claims of ID tokens (e.g. `login_hint`).
    #[serde(default)]
    pub id_token: Vec<OptionalClaim>,
    /// Optional claims of access tokens.
    #[serde(default)]
    pub access_token: Vec<OptionalClaim>,
    /// Optional claims of SAML tokens (not used).
    #[serde(default)]
    pub saml2_token: Vec<OptionalClaim>,
}

impl OptionalClaims {
    /// No optional claim at all.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.access_token.is_empty() && self.saml2_token.is_empty()
    }

    /// Whether ID tokens carry the optional claim `name`.
    pub fn id_token_has(&self, name: &str) -> bool {
        self.id_token.iter().any(|c| c.name == name)
    }
}

/// One optional claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionalClaim {
    /// Claim name, e.g. `login_hint`.
    pub name: String,
    /// Whether it is essential.
    #[serde(default)]
    pub essential: bool,
    /// Its source (`null` for the default).
    #[serde(default)]
    pub source: Option<String>,
    /// Additional properties.
    #[serde(default)]
    pub additional_properties: Vec<String>,
}

/// The `api` section of a manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSection {
    /// `null`/1 => v1 access tokens, 2 => v2.
    #[serde(default)]
    pub requested_access_token_version: Option<u8>,
    /// Client apps whose consent also covers this app (combined consent).
    #[serde(default)]
    pub known_client_applications: Vec<String>,
    /// Delegated scopes.
    #[serde(default)]
    pub oauth2_permission_scopes: Vec<PermissionScope>,
}

/// A delegated scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionScope {
    /// Permission id.
    pub id: String,
    /// Scope value, e.g. `access_as_user`.
    pub value: String,
    /// `User` or `Admin`.
    #[serde(default = "user_type", rename = "type")]
    pub kind: String,
    /// Consent text.
    #[serde(default)]
    pub user_consent_display_name: Option<String>,
}

fn user_type() -> String {
    "User".into()
}

/// An app role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    /// Role id.
    pub id: String,
    /// Role value (appears in `roles`).
    pub value: String,
    /// `User` and/or `Application`.
    #[serde(default)]
    pub allowed_member_types: Vec<String>,
}

/// One `requiredResourceAccess` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredResourceAccess {
    /// The resource's appId.
    pub resource_app_id: String,
    /// Permissions.
    pub resource_access: Vec<ResourceAccess>,
}

/// A permission reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAccess {
    /// Permission id (scope or role id).
    pub id: String,
    /// `Scope` (delegated) or `Role` (application).
    #[serde(rename = "type")]
    pub kind: String,
}

/// The `web` platform section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSection {
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Front-channel logout URL (the portal's "Front-channel logout URL"): the end-session
    /// endpoint loads it in a hidden iframe, with `?sid=`, for every other app the user signed
    /// in to in that browser session. `frontchannelLogoutUrl` is accepted for it too.
    #[serde(default, alias = "frontchannelLogoutUrl")]
    pub logout_url: Option<String>,
    /// Which tokens `/authorize` may return directly (implicit and hybrid flows).
    #[serde(default)]
    pub implicit_grant_settings: ImplicitGrantSettings,
}

/// `web.implicitGrantSettings`: both off in a new registration. The emulator implements no
/// implicit or hybrid flow; these only decide which error a `response_type` other than `code`
/// gets (AADSTS700054 for `id_token`, 700051 for `token`, when not enabled).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplicitGrantSettings {
    /// ID tokens from `/authorize` (`response_type` with `id_token`).
    #[serde(default)]
    pub enable_id_token_issuance: bool,
    /// Access tokens from `/authorize` (`response_type` with `token`).
    #[serde(default)]
    pub enable_access_token_issuance: bool,
}

/// A client secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    /// Key id (the thing people send by mistake).
    pub key_id: String,
    /// The secret value.
    pub secret_text: String,
    /// Expiry, unix seconds.
    #[serde(default)]
    pub end_date_time: Option<i64>,
}

impl std::fmt::Debug for PasswordCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCredential")
            .field("key_id", &self.key_id)
            .field("secret_text", &"[redacted]")
            .finish()
    }
}

/// A certificate credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    /// Key id.
    pub key_id: String,
    /// Base64 (standard) DER certificate.
    pub key: String,
}

/// A consent grant: `clientId` may call `resourceAppId` with `scopes` for `principal` (a UPN),
/// or for every user when `principal` is absent (admin consent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentGrant {
    /// The client app.
    pub client_id: String,
    /// The resource app.
    pub resource_app_id: String,
    /// Consented scope values.
    pub scopes: Vec<String>,
    /// The user (UPN), or `None` for tenant-wide admin consent.
    #[serde(default)]
    pub principal: Option<String>,
}

/// A Conditional Access policy (only "require MFA" is modelled).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaPolicy {
    /// Policy id (appears in the `capolids` claims challenge).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Users (UPNs) it applies to; empty = everyone.
    #[serde(default)]
    pub users: Vec<String>,
    /// Resource appIds it applies to; empty = every resource.
    #[serde(default)]
    pub resource_app_ids: Vec<String>,
    /// Require multi-factor authentication.
    #[serde(default)]
    pub require_mfa: bool,
}

/// Loading a world failed.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The file could not be read.
    #[error("cannot read world config {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid world.
    #[error("invalid world config {path}: {source}")]
    Parse {
        /// The path.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// The OIDC scopes: not a resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

impl World {
    /// Reads a world from a JSON file.
    ///
    /// # Errors
    /// [`WorldError`] when the file can't be read or parsed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, WorldError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| WorldError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Finds a tenant by GUID or verified domain (case-insensitive).
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(id_or_domain)
                || t.domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(id_or_domain))
        })
    }

    /// Mutable [`World::tenant`].
    pub fn tenant_mut(&mut self, id: &str) -> Option<&mut Tenant> {
        self.tenants
            .iter_mut()
            .find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// Sets `api.requestedAccessTokenVersion` of the app `app_id` in every tenant that has it
    /// (`None` or `Some(1)`: v1 access tokens, `Some(2)`: v2).
    pub fn with_access_token_version(mut self, app_id: &str, version: Option<u8>) -> Self {
        for app in self
            .tenants
            .iter_mut()
            .flat_map(|t| t.applications.iter_mut())
            .filter(|a| a.app_id.eq_ignore_ascii_case(app_id))
        {
            app.api.requested_access_token_version = version;
        }
        self
    }

    /// The user record behind `tid` + `oid`, if any.
    pub fn user(&self, tid: &str, oid: &str) -> Option<&User> {
        self.tenant(tid).and_then(|t| t.user_by_oid(oid))
    }
}

impl Tenant {
    /// The primary verified domain.
    pub fn domain(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or(&self.id)
    }

    /// A user by UPN (case-insensitive).
    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
    }

    /// A user by object id.
    pub fn user_by_oid(&self, oid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id.eq_ignore_ascii_case(oid))
    }

    /// The user a sign-in name means here: the UPN, or for a guest the home address it signs
    /// in with (its `mail`), as at Entra's sign-in page.
    pub fn user_for_sign_in(&self, name: &str) -> Option<&User> {
        self.user_by_upn(name).or_else(|| {
            self.users.iter().find(|u| {
                u.is_guest()
                    && u.mail
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(name))
            })
        })
    }

    /// An application by client id.
    pub fn app(&self, app_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(app_id))
    }

    /// The application whose appId or one of whose identifier URIs is `id`.
    pub fn resource(&self, id: &str) -> Option<&Application> {
        let id_trim = id.trim_end_matches('/');
        self.applications.iter().find(|a| {
            a.app_id.eq_ignore_ascii_case(id_trim)
                || a.identifier_uris
                    .iter()
                    .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(id_trim))
        })
    }

    /// Whether `user` (or an admin for everyone) consented to `client` calling `resource` with
    /// every scope in `scopes`. Returns the missing scopes.
    pub fn missing_consent(
        &self,
        user: Option<&User>,
        client: &str,
        resource: &str,
        scopes: &[String],
    ) -> Vec<String> {
        scopes
            .iter()
            .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
            .filter(|s| {
                !self.consents.iter().any(|c| {
                    c.client_id.eq_ignore_ascii_case(client)
                        && c.resource_app_id.eq_ignore_ascii_case(resource)
                        && c.scopes.iter().any(|x| x == *s)
                        && match (&c.principal, user) {
                            (None, _) => true,
                            (Some(p), Some(u)) => p.eq_ignore_ascii_case(&u.user_principal_name),
                            (Some(_), None) => false,
                        }
                })
            })
            .cloned()
            .collect()
    }

    /// The MFA policies that apply to `user` for `resource`.
    pub fn mfa_policies(&self, user: &User, resource: &str) -> Vec<&CaPolicy> {
        self.conditional_access_policies
            .iter()
            .filter(|p| p.require_mfa)
            .filter(|p| {
                p.users.is_empty()
                    || p.users
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(&user.user_principal_name))
            })
            .filter(|p| {
                p.resource_app_ids.is_empty()
                    || p.resource_app_ids
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(resource))
            })
            .collect()
    }
}

impl Application {
    /// Whether this app must authenticate (has a secret or certificate and isn't public).
    pub fn is_confidential(&self) -> bool {
        !self.is_fallback_public_client
            && (!self.password_credentials.is_empty() || !self.key_credentials.is_empty())
    }

    /// Whether only its own tenant may use it (`signInAudience` `AzureADMyOrg`).
    pub fn is_single_tenant(&self) -> bool {
        self.sign_in_audience.eq_ignore_ascii_case(SINGLE_TENANT)
    }

    /// Whether the delegated scope `value` is one only an administrator may consent to
    /// (`type` `Admin`).
    pub fn is_admin_scope(&self, value: &str) -> bool {
        self.api
            .oauth2_permission_scopes
            .iter()
            .any(|s| s.value.eq_ignore_ascii_case(value) && s.kind.eq_ignore_ascii_case("Admin"))
    }

    /// v2 access tokens?
    pub fn wants_v2(&self) -> bool {
        self.api.requested_access_token_version == Some(2)
    }

    /// Whether `aud` names this app (client id or an App ID URI).
    pub fn is_audience(&self, aud: &str) -> bool {
        self.app_id.eq_ignore_ascii_case(aud)
            || self
                .identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == aud.trim_end_matches('/'))
    }

    /// Whether the registration requires a "Sign in and read user profile" permission
    /// (Microsoft Graph `User.Read` or broader, or Azure AD Graph's `User.Read`). Entra refuses
    /// a token for the app itself without it (AADSTS90008). `graph` is the tenant's Graph
    /// registration, to read permission ids.
    pub fn requires_sign_in_permission(&self, graph: Option<&Application>) -> bool {
        const AAD_GRAPH_APP_ID: &str = "00000002-0000-0000-c000-000000000000";
        const AAD_GRAPH_USER_READ_ID: &str = "311a71cc-e848-46a1-bdf8-97ff7156d8e6";
        const SIGN_IN_LIKE: [&str; 7] = [
            "User.Read",
            "User.ReadWrite",
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ];
        self.required_resource_access.iter().any(|r| {
            let scopes = r.resource_access.iter().filter(|a| a.kind == "Scope");
            if r.resource_app_id
                .eq_ignore_ascii_case(crate::well_known::GRAPH_APP_ID)
            {
                scopes.into_iter().any(|a| {
                    a.id.eq_ignore_ascii_case(crate::well_known::GRAPH_USER_READ_ID)
                        || graph
                            .and_then(|g| {
                                g.api
                                    .oauth2_permission_scopes
                                    .iter()
                                    .find(|s| s.id.eq_ignore_ascii_case(&a.id))
                            })
                            .is_some_and(|s| SIGN_IN_LIKE.contains(&s.value.as_str()))
                })
            } else if r.resource_app_id.eq_ignore_ascii_case(AAD_GRAPH_APP_ID) {
                scopes
                    .into_iter()
                    .any(|a| a.id.eq_ignore_ascii_case(AAD_GRAPH_USER_READ_ID))
            } else {
                false
            }
        })
    }

    /// Delegated scope values this app statically requires on `resource` (for `.default`).
    pub fn required_scopes(&self, resource: &Application) -> Vec<String> {
        self.required_for(resource, "Scope", |id| {
            resource
                .api
                .oauth2_permission_scopes
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.value.clone())
        })
    }

    /// App roles this app requires on `resource` (granted to it as application permissions).
    pub fn required_roles(&self, resource: &Application) -> Vec<String> {
        self.required_for(resource, "Role", |id| {
            resource
                .app_roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.value.clone())
        })
    }

    fn required_for(
        &self,
        resource: &Application,
        kind: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<String> {
        self.required_resource_access
            .iter()
            .filter(|r| r.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
            .flat_map(|r| r.resource_access.iter())
            .filter(|a| a.kind == kind)
            .filter_map(|a| lookup(&a.id))
            .collect()
    }

    /// Whether `uri` matches a registered redirect URI. For loopback URIs
    /// (`http://localhost`, `http://127.0.0.1`) the port is ignored, as Entra documents.
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.web
            .redirect_uris
            .iter()
            .any(|r| redirect_uri_matches(r, uri))
    }
}

/// Exact match, except that for a registered loopback redirect URI the port is ignored.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    };
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::well_known as wk;

    #[test]
    fn loopback_redirect_ignores_port_only() {
        let r = "http://localhost:3000/auth/callback";
        assert!(redirect_uri_matches(
            r,
            "http://localhost:4123/auth/callback"
        ));
        assert!(!redirect_uri_matches(r, "http://localhost:4123/auth/other"));
        assert!(!redirect_uri_matches(
            r,
            "http://127.0.0.1:3000/auth/callback"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
    }

    #[test]
    fn manifest_fields_added_later_default_to_what_older_worlds_meant() {
        let app: Application = serde_json::from_value(serde_json::json!({
            "appId": "11111111-1111-1111-1111-111111111111",
            "displayName": "Old",
            "web": {"redirectUris": ["http://localhost/cb"]},
            "api": {"oauth2PermissionScopes": [
                {"id": "a", "value": "Read"},
                {"id": "b", "value": "Manage", "type": "Admin"}
            ]}
        }))
        .unwrap();
        assert_eq!(app.sign_in_audience, MULTI_TENANT);
        assert!(!app.is_single_tenant());
        assert!(!app.web.implicit_grant_settings.enable_id_token_issuance);
        assert!(!app.is_admin_scope("Read") && app.is_admin_scope("manage"));
        let json = serde_json::to_value(World::well_known()).unwrap();
        let weather = &json["tenants"][0]["applications"][1];
        assert_eq!(weather["appId"], wk::WEATHER_API_CLIENT_ID);
        assert_eq!(weather["signInAudience"], SINGLE_TENANT);
    }

    #[test]
    fn well_known_world_round_trips_through_json() {
        let w = World::well_known();
        let json = serde_json::to_string(&w).unwrap();
        let back: World = serde_json::from_str(&json).unwrap();
        let t = back.tenant(wk::TENANT_DOMAIN).unwrap();
        assert_eq!(t.id, wk::TENANT_ID);
        let web = t.app(wk::WEB_APP_CLIENT_ID).unwrap();
        let weather = t.app(wk::WEATHER_API_CLIENT_ID).unwrap();
        assert_eq!(web.required_scopes(weather), vec!["Weather.Read"]);
        let alex = t.user_by_upn(wk::ALEX);
        assert_eq!(
            t.missing_consent(
                alex,
                wk::WEB_APP_CLIENT_ID,
                wk::WEATHER_API_CLIENT_ID,
                &["Weather.Read".into()]
            ),
            vec!["Weather.Read"]
        );
        // New registrations leave requestedAccessTokenVersion null: v1 tokens for the web app.
        assert!(!web.wants_v2() && weather.wants_v2());
        assert!(web.optional_claims.id_token_has("login_hint"));
        assert!(web.requires_sign_in_permission(t.app(wk::GRAPH_APP_ID)));
        let v2 = World::well_known_with_v2_web_app();
        assert!(v2.tenants.iter().all(|t| {
            t.app(wk::WEB_APP_CLIENT_ID)
                .is_some_and(Application::wants_v2)
        }));
        // Fabrikam: the web app without the Weather API, Diego, and Adele's guest record.
        let f = back.tenant(wk::FABRIKAM_TENANT_DOMAIN).unwrap();
        assert!(
            f.app(wk::WEB_APP_CLIENT_ID).is_some() && f.app(wk::WEATHER_API_CLIENT_ID).is_none()
        );
        let guest = f.user_for_sign_in(wk::ADELE).unwrap();
        assert_eq!(guest.id, wk::ADELE_GUEST_OID);
        assert_eq!(guest.home_object_id.as_deref(), Some(wk::ADELE_OID));
        assert_eq!(
            back.user(wk::NORTHWIND_TENANT_ID, wk::NESTOR_OID)
                .unwrap()
                .user_principal_name,
            wk::NESTOR
        );
        assert!(t.user_for_sign_in(wk::DIEGO).is_none());
    }
}
