//! The built-in world's fixed values, like Azurite's well-known account: docs, tests and users
//! can rely on them. See the emulator README for the full table.

/// Directory (tenant) id of the built-in tenant.
pub const TENANT_ID: &str = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
/// Verified domain of the built-in tenant.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Client id of the web app (the BFF: confidential client and OBO middle tier).
pub const WEB_APP_CLIENT_ID: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
/// Client secret (the value, not the key id) of the web app.
pub const WEB_APP_SECRET: &str = "dev-web-app-secret";
/// Key id of the web app's secret (sending it instead of the value gives AADSTS7000215).
pub const WEB_APP_SECRET_ID: &str = "5c1c2b38-51b4-4d7a-9a55-2f38c9f1a6e4";
/// App ID URI of the web app.
pub const WEB_APP_ID_URI: &str = "api://dd1d6603-7fe3-411d-b985-091f1cf1c698";
/// The web app's delegated scope in the GUID form (`<client-id>/access_as_user`): the right
/// audience for an OBO assertion; a grant obtained in this form refreshes even without `scope`.
pub const WEB_APP_SCOPE: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user";
/// The web app's delegated scope named by its App ID URI. Every grant that names it works; a
/// refresh **without** `scope` of a grant obtained in this form answers AADSTS90009.
pub const WEB_APP_SCOPE_URI: &str = "api://dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user";
/// Client id of the downstream Weather API.
pub const WEATHER_API_CLIENT_ID: &str = "8e18057c-ba24-4625-a109-d2c3dc7b2fab";
/// App ID URI of the Weather API.
pub const WEATHER_API_ID_URI: &str = "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab";
/// The Weather API's delegated scope.
pub const WEATHER_API_SCOPE: &str = "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Weather.Read";
/// Microsoft Graph's well-known application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Microsoft Graph's resource (App ID URI).
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Password of every built-in user.
pub const USER_PASSWORD: &str = "Passw0rd!";
/// The one-time code the emulator's MFA page accepts.
pub const MFA_CODE: &str = "123456";
/// Adele Vance: everything consented.
pub const ADELE: &str = "AdeleV@contoso.onmicrosoft.com";
/// Megan Bowen: a Conditional Access policy requires MFA for the Weather API.
pub const MEGAN: &str = "MeganB@contoso.onmicrosoft.com";
/// Alex Wilber: has not consented to the Weather API.
pub const ALEX: &str = "AlexW@contoso.onmicrosoft.com";
/// Object id of Adele Vance.
pub const ADELE_OID: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
/// Object id of Megan Bowen.
pub const MEGAN_OID: &str = "48d31887-5fad-4d73-a9f5-3c356e68a038";
/// Object id of Alex Wilber.
pub const ALEX_OID: &str = "c2a1e5b0-2f43-4e7c-9b8a-7f0f6a1f3e21";
/// Patti Fernandez: in 250 groups (past a JWT's 200, so her tokens carry the overage marker
/// instead of `groups`), holding the web app's `Reader` role through one of them.
pub const PATTI: &str = "PattiF@contoso.onmicrosoft.com";
/// Object id of Patti Fernandez.
pub const PATTI_OID: &str = "7a3f0c5e-9b12-4d6a-8e47-2f1c0d9b6a58";
/// How many groups Patti is a direct member of.
pub const PATTI_GROUPS: usize = 250;
/// Id of the web app's `Reader` app role (for users).
pub const READER_ROLE_ID: &str = "a3f9b2c1-4d5e-4f60-8a1b-2c3d4e5f6071";
/// Id of the web app's `Admin` app role (for users).
pub const ADMIN_ROLE_ID: &str = "b4e0c3d2-5e6f-4071-9b2c-3d4e5f607182";
/// The security group *Weather Watchers*, assigned the web app's `Reader` role. Megan is a
/// member through [`MARKETING_GROUP_ID`] (nested).
pub const WEATHER_WATCHERS_GROUP_ID: &str = "c5f1d4e3-6f70-4182-8c3d-4e5f60718293";
/// The security group *Marketing*: Megan and Alex; a member of *Weather Watchers*.
pub const MARKETING_GROUP_ID: &str = "d6027e54-7081-4293-9d4e-5f60718293a4";
/// The first of Patti's groups, the one assigned the web app's `Reader` role.
pub const PATTI_READER_GROUP_ID: &str = "e7138f65-8192-43a4-8e5f-60718293a4b5";
/// Id of the Conditional Access policy requiring MFA for the Weather API (Megan).
pub const MFA_POLICY_ID: &str = "a1b2c3d4-0000-4000-8000-00000000cafe";
/// Microsoft Graph `User.Read` delegated permission id.
pub const GRAPH_USER_READ_ID: &str = "e1fe6dd8-ba31-4d61-89e7-88639da4683d";
/// The authentication context a Contoso Conditional Access policy
/// ([`AUTH_CONTEXT_POLICY_ID`]) protects with MFA: what an API's step-up challenge asks for
/// (`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`). A token carries
/// `"acrs": ["c1"]` when its request asked for it and the sign-in satisfied it (MFA).
pub const WEATHER_AUTH_CONTEXT: &str = "c1";
/// Id of the Conditional Access policy requiring MFA for the authentication context
/// [`WEATHER_AUTH_CONTEXT`] (everyone in Contoso).
pub const AUTH_CONTEXT_POLICY_ID: &str = "b7e3c2a1-0000-4000-8000-0000000000c1";

/// The audience Microsoft recommends for federated identity credentials (public cloud).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The client id of Microsoft's `AzureADTokenExchange` app (the `aud` of its v2 tokens).
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";
/// Contoso's user-assigned managed identity `entra-bff-identity`: client id.
pub const MANAGED_IDENTITY_CLIENT_ID: &str = "6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19";
/// Its object (principal) id, the `sub` of its tokens.
pub const MANAGED_IDENTITY_PRINCIPAL_ID: &str = "b4c2e8d0-5f1a-4a3b-8e6d-2c9f7a0e1b53";
/// The `X-IDENTITY-HEADER` the emulator's App Service-shaped identity endpoint expects
/// (`IDENTITY_HEADER`, which App Service injects with `IDENTITY_ENDPOINT`).
pub const IDENTITY_HEADER: &str = "emulator-identity-header";

/// Directory id of the second tenant, where the web app is also registered (multi-tenant) and
/// Adele is a guest. The Weather API is not there.
pub const FABRIKAM_TENANT_ID: &str = "ee1dc528-9019-48c6-80e6-2b8e64f60f4a";
/// Verified domain of the second tenant.
pub const FABRIKAM_TENANT_DOMAIN: &str = "fabrikam.onmicrosoft.com";
/// Diego Siciliani, a member of Fabrikam.
pub const DIEGO: &str = "DiegoS@fabrikam.onmicrosoft.com";
/// Object id of Diego Siciliani (in Fabrikam).
pub const DIEGO_OID: &str = "09f946f4-08cb-4037-8cfa-6daf88131304";
/// Adele Vance as a guest (B2B) in Fabrikam: her user record there, with its own object id and
/// profile. She signs in with this UPN or with her home address ([`ADELE`]).
pub const ADELE_GUEST: &str = "AdeleV_contoso.onmicrosoft.com#EXT#@fabrikam.onmicrosoft.com";
/// Object id of Adele's guest record in Fabrikam (her home object id is [`ADELE_OID`]).
pub const ADELE_GUEST_OID: &str = "de54c9d7-94c1-489d-b915-956d3a204ad7";
/// Job title of Adele's guest record in Fabrikam (her home profile says "Retail Manager"), so
/// a profile read from the wrong tenant shows.
pub const ADELE_GUEST_JOB_TITLE: &str = "Partner Liaison (guest)";

/// Directory id of a third tenant, where the web app is also registered: for "a tenant this
/// app does not allow" cases.
pub const NORTHWIND_TENANT_ID: &str = "1b0ed955-fb19-43a9-a826-926e8f442871";
/// Verified domain of the third tenant.
pub const NORTHWIND_TENANT_DOMAIN: &str = "northwind.onmicrosoft.com";
/// Nestor Wilke, the one user of Northwind.
pub const NESTOR: &str = "NestorW@northwind.onmicrosoft.com";
/// Object id of Nestor Wilke.
pub const NESTOR_OID: &str = "5e791f00-e121-4efe-b7b0-f540089dd0f4";

use crate::{well_known as wk, world::*};

impl World {
    /// The built-in world (see [`crate::well_known`]): Contoso (everything), Fabrikam (the web
    /// app again, Diego, and Adele as a guest) and Northwind (the web app and Nestor). The web
    /// app's own API gets v1 access tokens, as a new registration does
    /// (`requestedAccessTokenVersion` null); the Weather API gets v2.
    pub fn well_known() -> Self {
        let scope = |id: &str, value: &str| PermissionScope {
            id: id.into(),
            value: value.into(),
            kind: ConsentBy::User,
            user_consent_display_name: None,
        };
        // An application permission (`roles` in app-only tokens).
        let app_role = |id: &str, value: &str| AppRole {
            id: id.into(),
            value: value.into(),
            allowed_member_types: vec!["Application".into()],
        };
        // A role for users and groups (`roles` in their tokens).
        let user_role = |id: &str, value: &str| AppRole {
            id: id.into(),
            value: value.into(),
            allowed_member_types: vec!["User".into()],
        };
        let assignment = |principal: &str, role: &str| AppRoleAssignment {
            principal_id: principal.into(),
            app_role_id: role.into(),
        };
        // The optional claims an API registration lists for its access tokens.
        let access_token_claims = |names: &[&str]| OptionalClaims {
            access_token: names
                .iter()
                .map(|n| OptionalClaim {
                    name: (*n).into(),
                    essential: false,
                    source: None,
                    additional_properties: vec![],
                })
                .collect(),
            ..OptionalClaims::default()
        };
        let user = |id: &str, upn: &str, given: &str, sur: &str, job: &str, photo: bool| User {
            id: id.into(),
            user_principal_name: upn.into(),
            display_name: format!("{given} {sur}"),
            given_name: Some(given.into()),
            surname: Some(sur.into()),
            mail: Some(upn.into()),
            job_title: Some(job.into()),
            office_location: Some("18/2111".into()),
            business_phones: vec!["+1 425 555 0109".into()],
            mobile_phone: None,
            preferred_language: Some("en-US".into()),
            password: wk::USER_PASSWORD.into(),
            require_mfa: false,
            has_photo: photo,
            home_tenant_id: None,
            home_object_id: None,
        };
        let graph = Application {
            app_id: wk::GRAPH_APP_ID.into(),
            display_name: "Microsoft Graph".into(),
            sign_in_audience: MULTI_TENANT.into(),
            identifier_uris: vec![
                wk::GRAPH_RESOURCE.into(),
                "https://graph.microsoft.com/".into(),
            ],
            api: ApiSection {
                requested_access_token_version: Some(1),
                known_client_applications: vec![],
                oauth2_permission_scopes: vec![
                    scope(wk::GRAPH_USER_READ_ID, "User.Read"),
                    scope("b340eb25-3456-403f-be2f-af7a0d370277", "User.ReadBasic.All"),
                    PermissionScope {
                        kind: ConsentBy::Admin,
                        ..scope(
                            "bc024368-1153-4739-b217-4326f2e966d0",
                            "GroupMember.Read.All",
                        )
                    },
                    scope("37f7f235-527c-4136-accd-4a02d197296e", "openid"),
                    scope("14dad69e-099b-42c9-810b-d002981feec1", "profile"),
                    scope("64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "email"),
                    scope("7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "offline_access"),
                ],
            },
            app_roles: vec![app_role(
                "df021288-bdef-4463-88db-98f22de89214",
                "User.Read.All",
            )],
            // Graph evaluates Continuous Access: a client that declares cp1 gets it in xms_cc.
            optional_claims: access_token_claims(&["xms_cc"]),
            ..Application::default()
        };
        let weather = Application {
            app_id: wk::WEATHER_API_CLIENT_ID.into(),
            display_name: "Weather API".into(),
            // Registered in Contoso only, as a line-of-business API is.
            sign_in_audience: SINGLE_TENANT.into(),
            identifier_uris: vec![wk::WEATHER_API_ID_URI.into()],
            api: ApiSection {
                requested_access_token_version: Some(2),
                known_client_applications: vec![],
                oauth2_permission_scopes: vec![scope(
                    "f0b7c3a2-6d0e-4a43-9d6c-3a1b8e4b9c11",
                    "Weather.Read",
                )],
            },
            app_roles: vec![app_role(
                "2d9f3c4e-8b1a-4f6e-a2c7-5e9d0b1f7a33",
                "Weather.Read.All",
            )],
            // It challenges only clients that handle claims challenges (Microsoft Learn,
            // "Claims challenges ...": xms_cc reaches a token only if the API asks for it). It
            // does not opt in to `acrs`: a context reaches its tokens only when asked for.
            optional_claims: access_token_claims(&["xms_cc"]),
            ..Application::default()
        };
        let web_app = Application {
            app_id: wk::WEB_APP_CLIENT_ID.into(),
            display_name: "Entra BFF (web app)".into(),
            sign_in_audience: MULTI_TENANT.into(),
            identifier_uris: vec![wk::WEB_APP_ID_URI.into()],
            api: ApiSection {
                // Null, as in a new app registration: v1 access tokens for its own API.
                requested_access_token_version: None,
                known_client_applications: vec![],
                oauth2_permission_scopes: vec![scope(
                    "7c2e7f4a-1d3b-4c5e-9f8a-0b1c2d3e4f50",
                    "access_as_user",
                )],
            },
            required_resource_access: vec![
                RequiredResourceAccess {
                    resource_app_id: wk::GRAPH_APP_ID.into(),
                    resource_access: vec![ResourceAccess {
                        id: wk::GRAPH_USER_READ_ID.into(),
                        kind: PermissionKind::Scope,
                    }],
                },
                RequiredResourceAccess {
                    resource_app_id: wk::WEATHER_API_CLIENT_ID.into(),
                    resource_access: vec![
                        ResourceAccess {
                            id: "f0b7c3a2-6d0e-4a43-9d6c-3a1b8e4b9c11".into(),
                            kind: PermissionKind::Scope,
                        },
                        ResourceAccess {
                            id: "2d9f3c4e-8b1a-4f6e-a2c7-5e9d0b1f7a33".into(),
                            kind: PermissionKind::Role,
                        },
                    ],
                },
            ],
            web: WebSection {
                redirect_uris: vec![
                    "http://localhost:3000/auth/callback".into(),
                    "http://127.0.0.1:3000/auth/callback".into(),
                    // The BFF's landing page after sign-out: Entra accepts a
                    // post_logout_redirect_uri only if it is a registered redirect URI.
                    "http://localhost:3000/".into(),
                    "http://127.0.0.1:3000/".into(),
                ],
                logout_url: None,
                implicit_grant_settings: ImplicitGrantSettings::default(),
            },
            password_credentials: vec![PasswordCredential {
                key_id: wk::WEB_APP_SECRET_ID.into(),
                secret_text: wk::WEB_APP_SECRET.into(),
                end_date_time: None,
            }],
            // The app signs users out with `logout_hint`, which needs this claim.
            optional_claims: OptionalClaims {
                id_token: vec![OptionalClaim {
                    name: "login_hint".into(),
                    essential: false,
                    source: None,
                    additional_properties: vec![],
                }],
                ..OptionalClaims::default()
            },
            app_roles: vec![
                user_role(wk::READER_ROLE_ID, "Reader"),
                user_role(wk::ADMIN_ROLE_ID, "Admin"),
            ],
            group_membership_claims: Some("SecurityGroup".into()),
            app_role_assigned_to: vec![
                assignment(wk::ADELE_OID, wk::ADMIN_ROLE_ID),
                assignment(wk::ADELE_OID, wk::READER_ROLE_ID),
                assignment(wk::MEGAN_OID, wk::READER_ROLE_ID),
                assignment(wk::WEATHER_WATCHERS_GROUP_ID, wk::READER_ROLE_ID),
                assignment(wk::PATTI_READER_GROUP_ID, wk::READER_ROLE_ID),
            ],
            ..Application::default()
        };
        // Microsoft's first-party app whose tokens (`api://AzureADTokenExchange`) a managed
        // identity presents as another app's federated client assertion.
        let token_exchange = Application {
            app_id: wk::TOKEN_EXCHANGE_APP_ID.into(),
            display_name: "AzureADTokenExchange".into(),
            identifier_uris: vec![wk::TOKEN_EXCHANGE_AUDIENCE.into()],
            api: ApiSection {
                requested_access_token_version: Some(2),
                ..ApiSection::default()
            },
            ..Application::default()
        };
        let admin = |resource: &str, scopes: &[&str]| ConsentGrant {
            client_id: wk::WEB_APP_CLIENT_ID.into(),
            resource_app_id: resource.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            principal: None,
        };
        let sign_in_consents = || {
            vec![
                admin(wk::GRAPH_APP_ID, &["User.Read"]),
                admin(wk::WEB_APP_CLIENT_ID, &["access_as_user"]),
            ]
        };
        let mut consents = sign_in_consents();
        for upn in [wk::ADELE, wk::MEGAN] {
            consents.push(ConsentGrant {
                principal: Some(upn.into()),
                ..admin(wk::WEATHER_API_CLIENT_ID, &["Weather.Read"])
            });
        }
        let contoso = Tenant {
            id: wk::TENANT_ID.into(),
            domains: vec![wk::TENANT_DOMAIN.into()],
            users: vec![
                user(
                    wk::ADELE_OID,
                    wk::ADELE,
                    "Adele",
                    "Vance",
                    "Retail Manager",
                    true,
                ),
                user(
                    wk::MEGAN_OID,
                    wk::MEGAN,
                    "Megan",
                    "Bowen",
                    "Marketing Manager",
                    false,
                ),
                user(
                    wk::ALEX_OID,
                    wk::ALEX,
                    "Alex",
                    "Wilber",
                    "Marketing Assistant",
                    false,
                ),
                user(
                    wk::PATTI_OID,
                    wk::PATTI,
                    "Patti",
                    "Fernandez",
                    "President",
                    false,
                ),
            ],
            groups: contoso_groups(),
            applications: vec![
                web_app.clone(),
                weather,
                graph.clone(),
                token_exchange.clone(),
            ],
            consents,
            conditional_access_policies: vec![
                CaPolicy {
                    id: wk::MFA_POLICY_ID.into(),
                    display_name: "Require MFA for the Weather API".into(),
                    users: vec![wk::MEGAN.into()],
                    resource_app_ids: vec![wk::WEATHER_API_CLIENT_ID.into()],
                    require_mfa: true,
                    authentication_contexts: vec![],
                },
                CaPolicy {
                    id: wk::AUTH_CONTEXT_POLICY_ID.into(),
                    display_name: "Require MFA for authentication context c1".into(),
                    require_mfa: true,
                    authentication_contexts: vec![wk::WEATHER_AUTH_CONTEXT.into()],
                    ..CaPolicy::default()
                },
            ],
            users_may_consent: true,
            managed_identities: vec![ManagedIdentity {
                client_id: wk::MANAGED_IDENTITY_CLIENT_ID.into(),
                principal_id: wk::MANAGED_IDENTITY_PRINCIPAL_ID.into(),
                display_name: "entra-bff-identity".into(),
                system_assigned: false,
            }],
        };
        // Adele's guest record in Fabrikam: its own object id and profile, pointing home.
        let adele_guest = User {
            display_name: "Adele Vance".into(),
            mail: Some(wk::ADELE.into()),
            office_location: None,
            business_phones: vec![],
            has_photo: false,
            home_tenant_id: Some(wk::TENANT_ID.into()),
            home_object_id: Some(wk::ADELE_OID.into()),
            ..user(
                wk::ADELE_GUEST_OID,
                wk::ADELE_GUEST,
                "Adele",
                "Vance",
                wk::ADELE_GUEST_JOB_TITLE,
                false,
            )
        };
        let fabrikam = Tenant {
            id: wk::FABRIKAM_TENANT_ID.into(),
            domains: vec![wk::FABRIKAM_TENANT_DOMAIN.into()],
            users: vec![
                user(
                    wk::DIEGO_OID,
                    wk::DIEGO,
                    "Diego",
                    "Siciliani",
                    "HR Manager",
                    false,
                ),
                adele_guest,
            ],
            applications: vec![web_app.clone(), graph.clone(), token_exchange.clone()],
            consents: sign_in_consents(),
            conditional_access_policies: vec![],
            users_may_consent: true,
            managed_identities: vec![],
            groups: vec![],
        };
        let northwind = Tenant {
            id: wk::NORTHWIND_TENANT_ID.into(),
            domains: vec![wk::NORTHWIND_TENANT_DOMAIN.into()],
            users: vec![user(
                wk::NESTOR_OID,
                wk::NESTOR,
                "Nestor",
                "Wilke",
                "Director",
                false,
            )],
            applications: vec![web_app, graph, token_exchange],
            consents: sign_in_consents(),
            conditional_access_policies: vec![],
            users_may_consent: true,
            managed_identities: vec![],
            groups: vec![],
        };
        World {
            tenants: vec![contoso, fabrikam, northwind],
        }
    }

    /// [`World::well_known`] with the web app's `requestedAccessTokenVersion` set to 2: its own
    /// API then gets v2 access tokens (`aud` the GUID, no `amr`).
    pub fn well_known_with_v2_web_app() -> Self {
        Self::well_known().with_access_token_version(wk::WEB_APP_CLIENT_ID, Some(2))
    }
}

/// Contoso's groups: *Marketing* (Megan, Alex) inside *Weather Watchers*, and Patti's 250.
fn contoso_groups() -> Vec<Group> {
    let group = |id: &str, name: &str, members: &[&str]| Group {
        id: id.into(),
        display_name: name.into(),
        security_enabled: true,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mut groups = vec![
        group(
            wk::WEATHER_WATCHERS_GROUP_ID,
            "Weather Watchers",
            &[wk::MARKETING_GROUP_ID],
        ),
        group(
            wk::MARKETING_GROUP_ID,
            "Marketing",
            &[wk::MEGAN_OID, wk::ALEX_OID],
        ),
        group(
            wk::PATTI_READER_GROUP_ID,
            "Readers (Patti)",
            &[wk::PATTI_OID],
        ),
    ];
    for n in 2..=wk::PATTI_GROUPS {
        groups.push(group(
            &crate::tokens::derived_guid(&format!("group|patti|{n}")),
            &format!("Project {n:03}"),
            &[wk::PATTI_OID],
        ));
    }
    groups
}
