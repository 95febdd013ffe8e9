//! An app registration (Microsoft Graph's application manifest:
//! learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest): its
//! sections as the manifest names them, and what the emulator asks of one (credentials,
//! audience, token version, permissions, redirect URIs).

use serde::{Deserialize, Serialize};

/// An app registration, in the Microsoft Graph manifest's terms and names
/// (learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest).
#[allow(missing_docs)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The client id: `client_id` in requests, `appid`/`azp` in tokens.
    pub app_id: String,
    pub display_name: String,
    /// Who may sign in: `AzureADMyOrg` (this tenant only: `/common` and `/organizations`
    /// answer AADSTS50194) or `AzureADMultipleOrgs` (the default here, so that worlds written
    /// before the field keep working).
    #[serde(default = "multiple_orgs")]
    pub sign_in_audience: String,
    /// The names (`api://…`) a scope may use for this app instead of its client id.
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    #[serde(default)]
    pub api: ApiSection,
    /// Application permissions: `roles` in app-only tokens.
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
    /// Permissions this app requires.
    #[serde(default)]
    pub required_resource_access: Vec<RequiredResourceAccess>,
    #[serde(default)]
    pub web: WebSection,
    /// Public client (no credential) if true.
    #[serde(default)]
    pub is_fallback_public_client: bool,
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    /// Certificates, for `private_key_jwt` client assertions.
    #[serde(default)]
    pub key_credentials: Vec<KeyCredential>,
    /// Workload identity federation: the external tokens this app accepts as its client
    /// assertion (Graph's `federatedIdentityCredential`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_identity_credentials: Vec<FederatedIdentityCredential>,
    /// Optional claims: `login_hint` in ID tokens; `acrs`, `xms_cc` and `idtyp` (with
    /// `include_user_token`) in access tokens.
    #[serde(default, skip_serializing_if = "OptionalClaims::is_empty")]
    pub optional_claims: OptionalClaims,
    /// Which groups the `groups` claim of this app's tokens lists: `None` (absent),
    /// `SecurityGroup`, `All` or `ApplicationGroup` (Graph's `groupMembershipClaims`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_membership_claims: Option<String>,
    /// Who holds which of its app roles: users and groups (Graph's `appRoleAssignedTo` of the
    /// app's service principal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_role_assigned_to: Vec<AppRoleAssignment>,
    /// *Assignment required?* of the enterprise app (the service principal's
    /// `appRoleAssignmentRequired`): a user with no assignment, directly or through a group
    /// they are a direct member of, is refused at sign-in with AADSTS50105.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub app_role_assignment_required: bool,
}

/// One assignment of an app role (Graph's `appRoleAssignment`): to a user or a group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// The user's or group's object id.
    pub principal_id: String,
    /// The role's id; the all-zero id is *Default Access* (assigned, with no role value).
    pub app_role_id: String,
}

/// `signInAudience` for a single-tenant app.
pub const SINGLE_TENANT: &str = "AzureADMyOrg";
/// `signInAudience` for a multi-tenant app (the default).
pub const MULTI_TENANT: &str = "AzureADMultipleOrgs";

fn multiple_orgs() -> String {
    MULTI_TENANT.into()
}

/// A registration with nothing set but the multi-tenant audience, as `serde` reads a
/// manifest that names only its ids.
impl Default for Application {
    fn default() -> Self {
        Self {
            app_id: String::new(),
            display_name: String::new(),
            sign_in_audience: multiple_orgs(),
            identifier_uris: vec![],
            api: ApiSection::default(),
            app_roles: vec![],
            required_resource_access: vec![],
            web: WebSection::default(),
            is_fallback_public_client: false,
            password_credentials: vec![],
            key_credentials: vec![],
            federated_identity_credentials: vec![],
            optional_claims: OptionalClaims::default(),
            group_membership_claims: None,
            app_role_assigned_to: vec![],
            app_role_assignment_required: false,
        }
    }
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

    /// Whether this resource's access tokens carry the optional claim `name`.
    pub fn access_token_has(&self, name: &str) -> bool {
        self.access_token.iter().any(|c| c.name == name)
    }

    /// Whether user (app+user) access tokens carry `idtyp`: the optional claim with the
    /// `include_user_token` property (Microsoft Learn, "Optional claims reference": by default
    /// `idtyp` is emitted for app-only tokens only).
    pub fn idtyp_for_users(&self) -> bool {
        self.access_token.iter().any(|c| {
            c.name == "idtyp"
                && c.additional_properties
                    .iter()
                    .any(|p| p == "include_user_token")
        })
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
    /// Graph's `additionalProperties` (e.g. `include_externally_authenticated_upn`); kept,
    /// not acted on.
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
    /// Who may consent to it.
    #[serde(default, rename = "type")]
    pub kind: ConsentBy,
    /// Consent text.
    #[serde(default)]
    pub user_consent_display_name: Option<String>,
}

/// Who may consent to a delegated permission (the manifest's `type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentBy {
    /// Users, for themselves (`User`).
    #[default]
    User,
    /// Administrators only (`Admin`).
    Admin,
}

/// Whether a permission is delegated or an application one (the manifest's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionKind {
    /// A delegated permission (`Scope`).
    Scope,
    /// An application permission, an app role (`Role`).
    Role,
}

/// An app role: an application permission when `allowed_member_types` has `Application`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    /// What `requiredResourceAccess` and admin consent refer to it by.
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
    /// The scopes and roles required, by id.
    pub resource_access: Vec<ResourceAccess>,
}

/// A permission reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAccess {
    /// Permission id (scope or role id).
    pub id: String,
    /// Delegated or application.
    #[serde(rename = "type")]
    pub kind: PermissionKind,
}

/// The `web` platform section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSection {
    /// Where codes may be sent, matched exactly (AADSTS50011 otherwise); a
    /// `post_logout_redirect_uri` must be one of them too.
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
    /// Graph's id of the credential (not the certificate's thumbprint).
    pub key_id: String,
    /// Base64 (standard) DER certificate.
    pub key: String,
}

/// A federated identity credential, in Graph's shape
/// (learn.microsoft.com/graph/api/resources/federatedidentitycredential): a token whose `iss`,
/// `sub` and `aud` match it, signed by a key its issuer publishes, authenticates the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityCredential {
    /// Unique per application.
    pub name: String,
    /// The external issuer's URL (its OIDC discovery is `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// The external identity, e.g. `system:serviceaccount:<namespace>:<name>`.
    pub subject: String,
    /// Accepted `aud` values; Microsoft recommends `api://AzureADTokenExchange`.
    #[serde(default = "token_exchange_audience")]
    pub audiences: Vec<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn token_exchange_audience() -> Vec<String> {
    vec![crate::well_known::TOKEN_EXCHANGE_AUDIENCE.into()]
}

impl Application {
    /// Whether this app must authenticate (has a secret, certificate or federated credential
    /// and isn't public).
    pub fn is_confidential(&self) -> bool {
        !self.is_fallback_public_client
            && (!self.password_credentials.is_empty()
                || !self.key_credentials.is_empty()
                || !self.federated_identity_credentials.is_empty())
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
            .any(|s| s.value.eq_ignore_ascii_case(value) && s.kind == ConsentBy::Admin)
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
            let scopes = r
                .resource_access
                .iter()
                .filter(|a| a.kind == PermissionKind::Scope);
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
        self.required_for(resource, PermissionKind::Scope, |id| {
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
        self.required_for(resource, PermissionKind::Role, |id| {
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
        kind: PermissionKind,
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
