//! Groups, and what a user's memberships and app role assignments put in tokens: the `roles`
//! and `groups` claims (with the overage marker past [`GROUPS_IN_A_JWT`]), and whether a user
//! is assigned to an app that requires it (ledger G5-G10 in the README).

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Application, Tenant, User};

/// Past this many groups a JWT carries the overage marker instead of `groups` (Microsoft
/// Learn, "Configure group claims": 200 for JWTs).
pub const GROUPS_IN_A_JWT: usize = 200;

/// A group (Graph's `group`), with its direct members: users and groups, by object id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The object id: what `groups` lists.
    pub id: String,
    /// The name.
    pub display_name: String,
    /// A security group (the default), else a Microsoft 365 or distribution group.
    #[serde(default = "security_enabled")]
    pub security_enabled: bool,
    /// Direct members: user and group object ids.
    #[serde(default)]
    pub members: Vec<String>,
}

fn security_enabled() -> bool {
    true
}

/// What a token says of a user's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsClaim {
    /// The app asks for no `groups` claim.
    None,
    /// The group ids.
    Ids(Vec<String>),
    /// More than a JWT holds: the overage marker, no `groups`.
    Overage,
}

impl Tenant {
    /// The groups `user` belongs to, directly or through nested groups, each once.
    pub fn transitive_groups(&self, user: &User) -> Vec<&Group> {
        let mut found: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([user.id.as_str()]);
        while let Some(member) = queue.pop_front() {
            for group in &self.groups {
                if group.members.iter().any(|m| m.eq_ignore_ascii_case(member))
                    && found.insert(group.id.as_str())
                {
                    queue.push_back(&group.id);
                }
            }
        }
        self.groups
            .iter()
            .filter(|g| found.contains(g.id.as_str()))
            .collect()
    }

    /// The role ids `principal` (a user or group id) is assigned on `app`, directly.
    fn assigned<'a>(app: &'a Application, principal: &'a str) -> impl Iterator<Item = &'a str> {
        app.app_role_assigned_to
            .iter()
            .filter(move |a| a.principal_id.eq_ignore_ascii_case(principal))
            .map(|a| a.app_role_id.as_str())
    }

    /// The app role ids assigned to `user` on `app`: directly, or through a group the user is
    /// a *direct* member of (Entra does not pass app roles down nested groups).
    fn assigned_role_ids<'a>(&'a self, user: &'a User, app: &'a Application) -> Vec<&'a str> {
        let direct_groups = self
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.id)));
        Self::assigned(app, &user.id)
            .chain(direct_groups.flat_map(|g| Self::assigned(app, &g.id)))
            .collect()
    }

    /// Whether `user` holds any assignment on `app` (AADSTS50105 when it requires one).
    pub fn is_assigned(&self, user: &User, app: &Application) -> bool {
        !self.assigned_role_ids(user, app).is_empty()
    }

    /// The `roles` claim of `user`'s tokens for `app`: the values of the roles assigned.
    pub fn user_roles(&self, user: &User, app: &Application) -> Vec<String> {
        let ids = self.assigned_role_ids(user, app);
        let mut roles: Vec<String> = app
            .app_roles
            .iter()
            .filter(|r| ids.iter().any(|id| id.eq_ignore_ascii_case(&r.id)))
            .map(|r| r.value.clone())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// The `groups` claim of `user`'s tokens for `app`, as its `groupMembershipClaims` asks.
    pub fn groups_claim(&self, user: &User, app: &Application) -> GroupsClaim {
        let groups = self.transitive_groups(user);
        let ids: Vec<String> = match app.group_membership_claims.as_deref() {
            Some("SecurityGroup") => groups
                .iter()
                .filter(|g| g.security_enabled)
                .map(|g| g.id.clone())
                .collect(),
            Some("All") => groups.iter().map(|g| g.id.clone()).collect(),
            // Only groups assigned to the app, of which the user is a direct member.
            Some("ApplicationGroup") => self
                .groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.id)))
                .filter(|g| Self::assigned(app, &g.id).next().is_some())
                .map(|g| g.id.clone())
                .collect(),
            _ => return GroupsClaim::None,
        };
        if ids.len() > GROUPS_IN_A_JWT {
            GroupsClaim::Overage
        } else {
            GroupsClaim::Ids(ids)
        }
    }

    /// Adds `roles`, and `groups` or the overage marker, to `token`'s claims for `user` and
    /// `app` (the resource of an access token, the client of an ID token).
    pub fn add_directory_claims(&self, token: &mut Value, user: &User, app: &Application) {
        let roles = self.user_roles(user, app);
        if !roles.is_empty() {
            token["roles"] = json!(roles);
        }
        match self.groups_claim(user, app) {
            GroupsClaim::None => {}
            GroupsClaim::Ids(ids) => token["groups"] = json!(ids),
            GroupsClaim::Overage => {
                token["_claim_names"] = json!({"groups": "src1"});
                token["_claim_sources"] = json!({"src1": {"endpoint": format!(
                    "https://graph.windows.net/{}/users/{}/getMemberObjects",
                    self.id, user.id
                )}});
            }
        }
    }
}
