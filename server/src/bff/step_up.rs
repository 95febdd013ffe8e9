//! Claims challenges: an API (or Microsoft Graph) answers 401 `insufficient_claims` when its
//! token must carry more, such as a Conditional Access authentication context (`acrs`) or,
//! after a revocation (Continuous Access Evaluation), a later issue time. Microsoft's
//! guidance: "The claims challenge should be passed as a part of all calls to a Microsoft
//! Entra /authorize endpoint until a token is successfully retrieved", and MSAL passes it on
//! the On-Behalf-Of request too. So, for one call:
//!
//! 1. The challenge is remembered for that API in the session (every later On-Behalf-Of for it
//!    carries it) and On-Behalf-Of is asked again with it. When the sign-in already meets it,
//!    the call succeeds there, without the user.
//! 2. When On-Behalf-Of cannot meet it (the sign-in lacks MFA, the sessions were revoked), the
//!    user signs in again with the challenge in `claims` (merged with whatever the refusal
//!    asked for); the next call's On-Behalf-Of carries it and succeeds: one round trip.
//! 3. An API asking again for what the sign-in and the exchange both asked for is a loop: a
//!    problem says what was asked and what came back, instead of another sign-in.
//!
//! Whether Entra's refusal at step 2 hands the claims back is not documented (the emulator's
//! `unconfirmed` switches, emulator/README.md's ledger X4–X5): the sign-in carries the API's
//! own challenge whether or not it does, also when a later exchange for that API is refused
//! (`token_problem`).

use std::future::Future;

use app::{
    error::AppError,
    model::{Problem, ProblemAction},
};
use http::{StatusCode, request::Parts};

use super::{BffService, internal};
use crate::{
    claims_challenge,
    domain::{AccessToken, ClaimsRequest, ScopeSet},
    entra::decode_unverified,
    session::{SignedInUser, UserSession},
    tokens::Obtained,
};

/// What an API answered, as far as its claims challenge goes.
pub(crate) trait Answer {
    /// The claims its 401 asks for, when it is a claims challenge.
    fn claims_challenge(&self) -> Option<ClaimsRequest>;
}

impl Answer for reqwest::Response {
    fn claims_challenge(&self) -> Option<ClaimsRequest> {
        if self.status() != StatusCode::UNAUTHORIZED {
            return None;
        }
        claims_challenge::from_headers(self.headers())
    }
}

/// The API being called: its name on the pages, and the scopes of its token.
pub(crate) struct Callee<'a> {
    pub(crate) name: &'a str,
    pub(crate) scopes: &'a ScopeSet,
}

impl BffService {
    /// Calls an API with `send` and a token obtained On-Behalf-Of the user, answering its
    /// claims challenge as the module says: the answer and the token that got it.
    pub(crate) async fn with_step_up<A, F, Fut>(
        &self,
        parts: &Parts,
        (session, user): &(UserSession, SignedInUser),
        callee: Callee<'_>,
        send: F,
    ) -> Result<(A, Obtained), AppError>
    where
        A: Answer,
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<A, AppError>>,
    {
        let obtained = self.obo_for(parts, session, user, callee.scopes).await?;
        let mut sent = obtained.token.clone();
        let answer = send(obtained.token.clone()).await?;
        let Some(mut challenge) = answer.claims_challenge() else {
            return Ok((answer, obtained));
        };
        let asked = session.api_claims(callee.scopes).await.map_err(internal)?;
        if !asked.as_ref().is_some_and(|a| a.covers(&challenge)) {
            let claims = match &asked {
                Some(a) => a.merge(&challenge),
                None => challenge.clone(),
            };
            tracing::info!(
                api = callee.name,
                claims = %claims,
                "the API asked for more claims; On-Behalf-Of again with them"
            );
            // The token it refused leaves the cache; the new key carries the claims.
            self.tokens
                .forget(session, callee.scopes)
                .await
                .map_err(internal)?;
            session
                .set_api_claims(callee.scopes, &claims)
                .await
                .map_err(internal)?;
            // A refusal carries the stored challenge to the sign-in (`token_problem`).
            let obtained = match self.tokens.on_behalf_of(session, callee.scopes).await {
                Ok(obtained) => obtained,
                Err(err) => {
                    return Err(self
                        .token_problem(err, parts, session, callee.scopes, user)
                        .await);
                }
            };
            sent = obtained.token.clone();
            let answer = send(obtained.token.clone()).await?;
            match answer.claims_challenge() {
                None => return Ok((answer, obtained)),
                Some(again) => challenge = again,
            }
        }
        // The token it refused leaves the cache either way: once the cause is mended (or
        // after the sign-in) the next call exchanges anew.
        self.tokens
            .forget(session, callee.scopes)
            .await
            .map_err(internal)?;
        if user
            .sign_in_claims
            .as_ref()
            .is_some_and(|c| c.covers(&challenge))
        {
            tracing::warn!(
                api = callee.name,
                claims = %challenge,
                "the API asks again for claims this sign-in and its token already asked for"
            );
            return Err(AppError::Problem(Box::new(loop_problem(
                callee.name,
                &challenge,
                &sent,
            ))));
        }
        session
            .add_claims_challenge(&challenge)
            .await
            .map_err(internal)?;
        Err(AppError::Problem(Box::new(step_up_problem(
            callee.name,
            &challenge,
            Self::sign_in_url(parts),
        ))))
    }
}

pub(crate) fn step_up_problem(api: &str, claims: &ClaimsRequest, sign_in: String) -> Problem {
    Problem {
        title: format!("The API {api:?} asks for a stronger sign-in"),
        error: Some("insufficient_claims".into()),
        message: Some(format!("It asked for {}.", claims.describe())),
        meaning: "The API requires more than your current sign-in proves, e.g. multi-factor \
                  authentication (Conditional Access), or a sign-in after your sessions were \
                  revoked."
            .into(),
        cause: "It answered 401 with a claims challenge, and the identity provider could not \
                meet it with your current sign-in."
            .into(),
        fix: "Sign in again: the identity provider asks for the extra step, and the call then \
              works."
            .into(),
        action: ProblemAction::SignIn {
            url: sign_in,
            label: "Sign in again".into(),
        },
        ..Problem::default()
    }
}

/// The API asked again for claims the sign-in and the token already asked for: say what was
/// asked and what the token carried, rather than send the user round again.
fn loop_problem(api: &str, claims: &ClaimsRequest, sent: &AccessToken) -> Problem {
    let carried = decode_unverified(sent.expose())
        .map(|(_, c)| {
            ["acrs", "xms_cc", "amr", "iat"]
                .iter()
                .map(|name| match c.get(*name) {
                    Some(v) => format!("{name} = {v}"),
                    None => format!("no {name}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "a token this app could not read".to_owned());
    Problem {
        title: format!("The API {api:?} keeps asking for a stronger sign-in"),
        error: Some("insufficient_claims".into()),
        message: Some(format!(
            "It asked for {}; the token sent carried: {carried}.",
            claims.describe()
        )),
        meaning: "The API refused a token obtained for exactly what it asked, after a sign-in \
                  that asked for it too. Another sign-in would end the same way, so this app \
                  stops here instead of sending you round in circles."
            .into(),
        cause: "The API and the identity provider disagree: the API asks for claims its tokens \
                do not get (an authentication context it checks under another id, or an \
                optional claim such as acrs or xms_cc its registration does not list)."
            .into(),
        fix: "An administrator compares what the API requires with the token above and the \
              tenant's authentication contexts (Conditional Access), and the API's optional \
              claims."
            .into(),
        action: ProblemAction::None,
        ..Problem::default()
    }
}
