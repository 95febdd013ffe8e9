//! The world the emulator serves: tenants, users, app registrations (in the Graph manifest's
//! terms: Microsoft Graph's application manifest reference,
//! learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest), consent
//! grants and Conditional Access policies.
//!
//! Load one from JSON with [`World::from_file`], or take the built-in [`World::well_known`].

use std::path::Path;

use serde::{Deserialize, Serialize};

mod application;
mod directory;
pub use application::*;
pub use directory::*;

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
    /// Members, and guests whose accounts live in another tenant.
    #[serde(default)]
    pub users: Vec<User>,
    /// App registrations (with a service principal in this tenant).
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Who may call which API through which app: a missing one is AADSTS65001.
    #[serde(default)]
    pub consents: Vec<ConsentGrant>,
    /// The policies that ask for MFA (AADSTS50076 and its claims challenge), for resources or
    /// for authentication contexts.
    #[serde(default)]
    pub conditional_access_policies: Vec<CaPolicy>,
    /// Whether users may consent to apps for themselves (the portal's *User consent for
    /// applications*). `false` is *Do not allow user consent*: a permission nobody granted
    /// yet stops the sign-in at AADSTS90094, even one a user could otherwise consent to.
    #[serde(default = "users_may_consent")]
    pub users_may_consent: bool,
    /// Managed identities of this tenant that the host the emulator plays holds (its
    /// instance metadata endpoint issues their tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_identities: Vec<ManagedIdentity>,
    /// Groups, with their members (users and nested groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// A managed identity: a service principal that Azure, not the app, holds the credential of.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedIdentity {
    /// Its client (application) id: `client_id` at the identity endpoint, `appid` in tokens.
    pub client_id: String,
    /// Its object (principal) id: `oid` and `sub` in its tokens.
    pub principal_id: String,
    /// Its name (a user-assigned identity's resource name).
    #[serde(default)]
    pub display_name: String,
    /// The host's system-assigned identity (asked for without a `client_id`), else
    /// user-assigned.
    #[serde(default)]
    pub system_assigned: bool,
}

fn users_may_consent() -> bool {
    true
}

/// A user. The profile fields are Microsoft Graph's `user` resource, by the same names, as
/// `/me` returns them (learn.microsoft.com/graph/api/resources/user).
#[allow(missing_docs)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The object id: `oid` in tokens.
    pub id: String,
    /// The sign-in name: `upn` and `preferred_username` in tokens.
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub office_location: Option<String>,
    #[serde(default)]
    pub business_phones: Vec<String>,
    #[serde(default)]
    pub mobile_phone: Option<String>,
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

/// A consent grant: `clientId` may call `resourceAppId` with `scopes` for `principal` (a UPN),
/// or for every user when `principal` is absent (admin consent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentGrant {
    /// The app that calls (the web app).
    pub client_id: String,
    /// The API it may call, by client id.
    pub resource_app_id: String,
    /// Consented scope values.
    pub scopes: Vec<String>,
    /// The user (UPN), or `None` for tenant-wide admin consent.
    #[serde(default)]
    pub principal: Option<String>,
}

/// A Conditional Access policy (only "require MFA" is modelled). It targets resources, or
/// authentication contexts: a policy with [`CaPolicy::authentication_contexts`] applies when a
/// token request asks for one of them (a `claims` request with `access_token.acrs`), not by
/// resource, as Entra's policies target either cloud apps or authentication contexts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The authentication contexts (`c1`, `c2`, ...) this policy protects: Graph's
    /// `conditions.applications.includeAuthenticationContextClassReferences`. A context no
    /// policy protects is issued without a prompt, as Entra does ("Developer guide to
    /// Conditional Access authentication context").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication_contexts: Vec<String>,
}

impl CaPolicy {
    fn applies_to(&self, user: &User) -> bool {
        self.users.is_empty()
            || self
                .users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(&user.user_principal_name))
    }

    fn protects(&self, context: &str) -> bool {
        self.authentication_contexts
            .iter()
            .any(|c| c.eq_ignore_ascii_case(context))
    }
}

/// Loading a world failed.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The file could not be read.
    #[error("cannot read world config {path}: {source}")]
    Read {
        /// The world file named by the settings.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file is not a valid world.
    #[error("invalid world config {path}: {source}")]
    Parse {
        /// The world file named by the settings.
        path: String,
        /// Where and why it is not a world, as serde_json says it.
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

    /// The MFA policies that apply to `user` for `resource` (a policy on authentication
    /// contexts applies by context instead: [`Tenant::context_policies`]).
    pub fn mfa_policies(&self, user: &User, resource: &str) -> Vec<&CaPolicy> {
        self.conditional_access_policies
            .iter()
            .filter(|p| p.require_mfa && p.authentication_contexts.is_empty())
            .filter(|p| p.applies_to(user))
            .filter(|p| {
                p.resource_app_ids.is_empty()
                    || p.resource_app_ids
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(resource))
            })
            .collect()
    }

    /// The MFA policies protecting authentication context `context` that apply to `user`.
    pub fn context_policies(&self, user: &User, context: &str) -> Vec<&CaPolicy> {
        self.conditional_access_policies
            .iter()
            .filter(|p| p.require_mfa && p.protects(context) && p.applies_to(user))
            .collect()
    }

    /// Whether a sign-in (with MFA or not) satisfies authentication context `context` for
    /// `user`: every policy protecting it is met. A context no policy protects is satisfied as
    /// it is: "If no Conditional Access policy is assigned to an ACRS value the claim might
    /// still be issued" (the developer guide), so `acrs` alone proves no MFA.
    pub fn satisfies_context(&self, user: &User, context: &str, has_mfa: bool) -> bool {
        has_mfa || self.context_policies(user, context).is_empty()
    }

    /// The authentication contexts the tenant's policies protect that a sign-in satisfies:
    /// what Entra adds "opportunistically" to the tokens of a resource that opted in to the
    /// `acrs` optional claim.
    pub fn satisfied_contexts(&self, user: &User, has_mfa: bool) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for p in &self.conditional_access_policies {
            for c in &p.authentication_contexts {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(c))
                    && self.satisfies_context(user, c, has_mfa)
                {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    /// The user a sign-in name means on `/common` or `/organizations`: a member of this tenant
    /// by UPN. A guest record is not an identity of its own there: "For guest scenarios where
    /// you sign a user from one tenant into another tenant, you must provide the tenant
    /// identifier" (the authorization code flow page), so at an alias a guest lands in their
    /// home tenant.
    pub fn member_for_sign_in(&self, name: &str) -> Option<&User> {
        self.user_by_upn(name).filter(|u| !u.is_guest())
    }

    /// The user a name signs in as here: on `/common` and `/organizations` (`on_alias`) a
    /// member only ([`Tenant::member_for_sign_in`]), at the tenant's own authority also a guest
    /// ([`Tenant::user_for_sign_in`]).
    pub fn sign_in_user(&self, name: &str, on_alias: bool) -> Option<&User> {
        if on_alias {
            self.member_for_sign_in(name)
        } else {
            self.user_for_sign_in(name)
        }
    }
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
