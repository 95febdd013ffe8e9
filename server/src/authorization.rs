//! Who may do what: the app roles and groups a configuration requires (for the whole app,
//! `REQUIRED_ROLES` / `ALLOWED_GROUPS`, or per downstream API), what a signed-in user holds,
//! and the refusal that says both.
//!
//! A user's roles and groups are read from the sign-in token when it is a token for this app
//! (it is refreshed, so a changed assignment counts from the next refresh), else from the ID
//! token. Past 200 groups Entra puts an overage marker in their place: the groups are then
//! read from Microsoft Graph ([`crate::graph::member_groups`]) and kept with the session.

use app::model::{Problem, ProblemAction};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a rule asks: any of these role values, or membership in any of these groups. Empty:
/// everyone signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRule {
    pub roles: Vec<String>,
    /// Group object ids.
    pub groups: Vec<String>,
}

impl AccessRule {
    pub fn is_open(&self) -> bool {
        self.roles.is_empty() && self.groups.is_empty()
    }

    /// What it asks, in words: `the app role "Admin" or membership of the group "..."`.
    pub fn describe(&self) -> String {
        let mut asks = Vec::new();
        if !self.roles.is_empty() {
            asks.push(format!("the app role {}", or_list(&self.roles)));
        }
        if !self.groups.is_empty() {
            asks.push(format!("membership of the group {}", or_list(&self.groups)));
        }
        asks.join(" or ")
    }

    pub fn admits(&self, who: &Membership) -> bool {
        self.is_open()
            || self.roles.iter().any(|r| who.roles.contains(r))
            || self
                .groups
                .iter()
                .any(|g| who.groups.iter().any(|h| h.eq_ignore_ascii_case(g)))
    }

    /// Reads `roles_var` and `groups_var` (comma-separated); a group that is not an object id
    /// (a display name) is a problem with the fix.
    pub fn read(
        roles_var: &str,
        groups_var: &str,
        get: &impl Fn(&str) -> Option<String>,
        problems: &mut Vec<String>,
    ) -> Self {
        let list = |name: &str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let groups = list(groups_var);
        for group in &groups {
            if uuid::Uuid::parse_str(group).is_err() {
                problems.push(format!(
                    "{groups_var}: {group:?} is not a group's object id. Copy the Object ID \
                     (a GUID) from the group's page in the Entra admin center (Groups > All \
                     groups); names are not unique and are not in tokens."
                ));
            }
        }
        Self {
            roles: list(roles_var),
            groups,
        }
    }
}

/// Where a user's groups were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupsSource {
    /// The token's `groups` claim.
    Token,
    /// Microsoft Graph, since the token carried the overage marker.
    Graph,
    /// The token has no `groups` claim: the app registration's *groupMembershipClaims* asks
    /// for none.
    NotInToken,
}

/// What a signed-in user holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub groups_from: GroupsSource,
}

/// What a token says of its user's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenGroups {
    Listed(Vec<String>),
    /// `_claim_names.groups` (or `hasgroups`): too many for the token.
    Overage,
    Absent,
}

/// The `roles` and groups of a token's claims.
pub fn of_claims(claims: &Value) -> (Vec<String>, TokenGroups) {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let roles = strings(&claims["roles"]);
    let groups = if claims["_claim_names"]["groups"].is_string()
        || claims["hasgroups"].as_bool() == Some(true)
    {
        TokenGroups::Overage
    } else if claims["groups"].is_array() {
        TokenGroups::Listed(strings(&claims["groups"]))
    } else {
        TokenGroups::Absent
    };
    (roles, groups)
}

/// Where a rule applies, for the refusal's words.
pub enum Scope<'a> {
    App,
    Api(&'a str),
}

/// The 403 problem: who the user is, what the rule asks, what they hold, and what an
/// administrator must assign, in Entra's terms.
pub fn refusal(
    username: &str,
    rule: &AccessRule,
    who: &Membership,
    scope: Scope<'_>,
    app_name: &str,
) -> Problem {
    let what = match scope {
        Scope::App => "this app".to_owned(),
        Scope::Api(name) => format!("the API {name:?}"),
    };
    let roles = if who.roles.is_empty() {
        "no app role".to_owned()
    } else {
        format!("the roles {}", who.roles.join(", "))
    };
    let groups = match who.groups_from {
        GroupsSource::NotInToken => "no groups in the token (the app registration's Token \
                                     configuration adds no groups claim)"
            .to_owned(),
        GroupsSource::Token => format!("{} group(s) from the token", who.groups.len()),
        GroupsSource::Graph => format!("{} group(s) read from Microsoft Graph", who.groups.len()),
    };
    let mut fix = Vec::new();
    if !rule.roles.is_empty() {
        fix.push(format!(
            "assign {username} (or a group they are a direct member of) the role {} in Entra \
             admin center > Enterprise applications > {app_name} > Users and groups > Add \
             user/group",
            or_list(&rule.roles)
        ));
    }
    if !rule.groups.is_empty() {
        fix.push(format!(
            "add {username} to the group {} (Groups > All groups > Members)",
            or_list(&rule.groups)
        ));
    }
    Problem {
        title: format!("You are signed in, but not allowed to use {what}"),
        meaning: format!(
            "{what} requires {}. You are signed in as {username}, with {roles} and {groups}.",
            rule.describe()
        ),
        cause: "Your account has not been given that access in Entra ID.".into(),
        fix: format!(
            "Ask an administrator to {}, then sign out and sign in again (tokens carry roles and \
             groups from the time they were issued).",
            fix.join(", or ")
        ),
        action: ProblemAction::None,
        request_trace_id: crate::telemetry::trace_id(),
        ..Problem::default()
    }
}

fn or_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rule_admits_by_any_role_or_any_group_and_an_empty_rule_everyone() {
        let who = Membership {
            roles: vec!["Reader".into()],
            groups: vec!["C5F1D4E3-6F70-4182-8C3D-4E5F60718293".into()],
            groups_from: GroupsSource::Token,
        };
        let rule = |roles: &[&str], groups: &[&str]| AccessRule {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        };
        assert!(rule(&[], &[]).admits(&who));
        assert!(rule(&["Admin", "Reader"], &[]).admits(&who));
        assert!(!rule(&["Admin"], &[]).admits(&who));
        assert!(
            !rule(&["reader"], &[]).admits(&who),
            "role values are case-sensitive"
        );
        assert!(rule(&["Admin"], &["c5f1d4e3-6f70-4182-8c3d-4e5f60718293"]).admits(&who));
    }

    #[test]
    fn the_overage_marker_is_told_from_a_list_and_from_no_claim() {
        let (roles, groups) = of_claims(&json!({"roles": ["Reader"], "groups": ["a", "b"]}));
        assert_eq!(roles, ["Reader"]);
        assert_eq!(groups, TokenGroups::Listed(vec!["a".into(), "b".into()]));
        let (_, groups) = of_claims(&json!({"_claim_names": {"groups": "src1"}}));
        assert_eq!(groups, TokenGroups::Overage);
        assert_eq!(
            of_claims(&json!({"hasgroups": true})).1,
            TokenGroups::Overage
        );
        assert_eq!(of_claims(&json!({})).1, TokenGroups::Absent);
    }

    #[test]
    fn a_group_name_is_refused_with_where_to_find_the_id() {
        let mut problems = Vec::new();
        let vars = [("ALLOWED_GROUPS", "Weather Watchers")];
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        AccessRule::read("REQUIRED_ROLES", "ALLOWED_GROUPS", &get, &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("Object ID"), "{problems:?}");
    }
}
