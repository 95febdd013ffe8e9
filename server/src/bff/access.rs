//! Who may use the app and each downstream API ([`crate::authorization`]), for the signed-in
//! user: their roles and groups from the sign-in token, or, past the token's 200 groups, from
//! Microsoft Graph (kept with the session and read again as often as the profile).

use app::error::AppError;

use super::{BffService, Transient, api_problem, internal};
use crate::{
    authorization::{self, AccessRule, GroupsSource, Membership, Scope, TokenGroups},
    entra::decode_unverified,
    graph,
    session::{SignedInUser, UserSession, now},
};

impl BffService {
    /// What the user holds. The sign-in token's claims when it is a token for this app (it is
    /// refreshed, so a changed assignment counts from the next refresh), else the ID token's.
    pub(super) async fn membership(
        &self,
        session: &UserSession,
        user: &SignedInUser,
    ) -> Result<Membership, AppError> {
        let client_id = &self.config.client_id;
        let sign_in_token = decode_unverified(user.api_token.expose())
            .map(|(_, claims)| claims)
            .filter(|claims| {
                claims["aud"]
                    .as_str()
                    .is_some_and(|aud| aud.trim_start_matches("api://") == client_id)
            });
        let claims = sign_in_token.as_ref().unwrap_or(&user.id_token_claims);
        let (roles, groups) = authorization::of_claims(claims);
        let (groups, groups_from) = match groups {
            TokenGroups::Listed(ids) => (ids, GroupsSource::Token),
            TokenGroups::Absent => (Vec::new(), GroupsSource::NotInToken),
            TokenGroups::Overage => (
                Box::pin(self.graph_groups(session)).await?,
                GroupsSource::Graph,
            ),
        };
        Ok(Membership {
            roles,
            groups,
            groups_from,
        })
    }

    /// The groups Graph lists for the user, from the session while fresh (as the profile).
    /// Graph refusing is a problem, never an empty list: a rule must not admit or refuse on
    /// groups nobody could read.
    async fn graph_groups(&self, session: &UserSession) -> Result<Vec<String>, AppError> {
        let max_age = self.config.profile_ttl.as_secs() as i64;
        if let Some(kept) = session.graph_groups().await.map_err(internal)?
            && now() - kept.read_at < max_age.max(1)
        {
            return Ok(kept.ids);
        }
        let obtained = self
            .tokens
            .on_behalf_of(session, &self.config.graph_scope)
            .await
            .map_err(|err| {
                api_problem(
                    "Your groups could not be read",
                    None,
                    format!("Your sign-in token lists too many groups to carry them, and a Microsoft Graph token for reading them could not be obtained: {err}"),
                    "Check that this app may call Microsoft Graph (User.Read, consented) in this tenant.".into(),
                    Transient::No,
                )
            })?;
        let ids = graph::member_groups(self.tokens.entra().http(), &self.graph_base_url, &obtained.token)
            .await
            .map_err(|err| {
                api_problem(
                    "Your groups could not be read from Microsoft Graph",
                    None,
                    format!("Your sign-in token lists too many groups to carry them (the groups overage), and Microsoft Graph answered: {err}"),
                    "Grant this app Microsoft Graph's User.Read (or GroupMember.Read.All) with admin consent; until then, access that depends on groups cannot be decided.".into(),
                    if err.throttled_for().is_some() { Transient::Yes } else { Transient::No },
                )
            })?;
        session
            .set_graph_groups(ids.clone())
            .await
            .map_err(internal)?;
        Ok(ids)
    }

    /// Refuses a user who holds none of `rule`'s roles and groups, with the page that says so.
    pub(super) async fn require(
        &self,
        rule: &AccessRule,
        scope: Scope<'_>,
        session: &UserSession,
        user: &SignedInUser,
    ) -> Result<(), AppError> {
        if rule.is_open() {
            return Ok(());
        }
        // Boxed: a page's future nests the whole token path beneath it, deeper than the
        // compiler's layout limit in a non-incremental build.
        let who = Box::pin(self.membership(session, user)).await?;
        if rule.admits(&who) {
            return Ok(());
        }
        tracing::info!(oid = %user.object_id, "access refused: neither role nor group required");
        Err(AppError::NotAllowed(Box::new(authorization::refusal(
            &user.username,
            rule,
            &who,
            scope,
            &self.app_name(),
        ))))
    }

    /// The app's name as an administrator finds it under Enterprise applications.
    fn app_name(&self) -> String {
        format!("this app (client id {})", self.config.client_id)
    }
}
