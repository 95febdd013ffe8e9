//! Behaviours of Entra ID that no public source settles, where a client's correctness hangs on
//! which way Entra goes. Each is a switch, so that a client can be tested against every way;
//! the defaults are the emulator's best reading. emulator/README.md ("Ledger") lists what is
//! known of each.
//!
//! Set them with [`crate::EmulatorBuilder::unconfirmed`], [`crate::RunningEmulator::set_unconfirmed`]
//! or `POST /_emulator/unconfirmed` (any subset of the fields, in snake case).

use serde::{Deserialize, Serialize};

/// The switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Unconfirmed {
    /// The `error` of On-Behalf-Of's answer when its `claims` ask for an authentication
    /// context the assertion's sign-in has not satisfied.
    pub obo_step_up_error: StepUpError,
    /// The `claims` that answer carries.
    pub obo_step_up_claims: StepUpClaims,
    /// What `/authorize` does when nobody may consent to a permission the sign-in asks for
    /// (an admin-only scope, or a tenant where users may not consent).
    pub consent_wall: ConsentWall,
    /// On-Behalf-Of with an assertion issued before the user's sign-in sessions were revoked.
    pub obo_after_revocation: AfterRevocation,
    /// How a sign-in refused for want of an assignment (AADSTS50105) ends.
    pub assignment_refusal: AssignmentRefusal,
}

/// Where a user who is not assigned to an app that requires assignment ends up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentRefusal {
    /// Entra's own error page, with no way back to the app (what MSAL's maintainers describe:
    /// microsoft-authentication-library-for-js#4529, next-auth#5455).
    #[default]
    ErrorPage,
    /// An error redirect to the app: `error=access_denied` with the AADSTS50105 text (what
    /// older implicit-flow clients received: azure-activedirectory-library-for-js#463).
    ErrorRedirect,
}

/// The `error` value of a step-up refusal at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUpError {
    /// `interaction_required` (AADSTS50076), as the On-Behalf-Of and Conditional Access
    /// developer pages show it.
    #[default]
    InteractionRequired,
    /// `invalid_grant` with `suberror: basic_action`, as bodies quoted in public threads show
    /// it (microsoft-authentication-library-for-js#5491).
    InvalidGrant,
}

impl StepUpError {
    /// The OAuth `error` value.
    pub fn error(self) -> &'static str {
        match self {
            Self::InteractionRequired => "interaction_required",
            Self::InvalidGrant => "invalid_grant",
        }
    }
}

/// The `claims` a step-up refusal hands back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUpClaims {
    /// The `claims` the request sent (the authentication context it asked for).
    #[default]
    Echo,
    /// The policies to satisfy, `{"access_token":{"capolids":{...}}}`, as for a resource's
    /// policy.
    PolicyIds,
    /// None.
    Absent,
}

/// What a user meets when a permission needs an administrator's consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentWall {
    /// An error redirect to the app at once: `consent_required`, AADSTS90094.
    #[default]
    ErrorRedirect,
    /// Entra's "Need admin approval" page, whose *Return to the application without granting
    /// consent* answers the app with `error=access_denied&error_subcode=cancel` and no code
    /// (the shape public threads report).
    ApprovalPage,
}

/// On-Behalf-Of with an assertion older than the user's revocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterRevocation {
    /// Refused: AADSTS50173 (`invalid_grant`), as a revoked refresh token is.
    #[default]
    Refused,
    /// Issued: the assertion is checked as a JWT only.
    Issued,
}

impl Unconfirmed {
    /// These switches with the fields of `update` (a JSON object of any of them) changed.
    ///
    /// # Errors
    /// When `update` names an unknown value.
    pub fn updated(self, update: serde_json::Value) -> Result<Self, serde_json::Error> {
        let mut current = serde_json::to_value(self)?;
        if let (Some(to), Some(from)) = (current.as_object_mut(), update.as_object()) {
            for (k, v) in from {
                to.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_changes_only_the_fields_it_names() {
        let u = Unconfirmed::default()
            .updated(serde_json::json!({"consent_wall": "approval_page"}))
            .unwrap();
        assert_eq!(u.consent_wall, ConsentWall::ApprovalPage);
        assert_eq!(u.obo_step_up_claims, StepUpClaims::Echo);
        assert!(
            Unconfirmed::default()
                .updated(serde_json::json!({"consent_wall": "maybe"}))
                .is_err()
        );
    }
}
