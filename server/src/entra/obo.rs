//! The On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`), built by hand: it is not in the `oauth2` crate.

use serde::Deserialize;

use super::{EntraClient, IdpError, error::retry_after};
use crate::domain::{AccessToken, ClaimsRequest, ScopeSet};

/// A token for a downstream API, obtained On-Behalf-Of the signed-in user.
#[derive(Debug, Clone)]
pub struct OboToken {
    pub access_token: AccessToken,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Deserialize)]
struct OboResponse {
    access_token: String,
    expires_in: serde_json::Value,
}

impl EntraClient {
    /// Exchanges `assertion` (the token of a user of tenant `tid` for this app's own API)
    /// for a token for the resource of `scopes`, at that tenant's token endpoint, asking for
    /// `claims` (an API's claims challenge) with the client capabilities, as MSAL does.
    pub async fn on_behalf_of(
        &self,
        assertion: &AccessToken,
        scopes: &ScopeSet,
        tid: &str,
        claims: Option<&ClaimsRequest>,
    ) -> Result<OboToken, IdpError> {
        const ENDPOINT: &str = "token (on_behalf_of)";
        let scope = scopes.to_wire();
        let mut form: Vec<(&str, String)> = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            ),
            ("client_id", self.config().client_id.clone()),
            ("assertion", assertion.expose().to_owned()),
            ("requested_token_use", "on_behalf_of".to_owned()),
            ("scope", scope),
        ];
        if let Some(claims) = self.with_capabilities(claims) {
            form.push(("claims", claims.as_str().to_owned()));
        }
        let endpoint = self.token_endpoint_for(tid);
        let form = &form;
        let body = self
            .with_credential(&endpoint, |fields| {
                let request = self
                    .http()
                    .post(endpoint.clone())
                    .form(&[form.as_slice(), fields.as_slice()].concat())
                    .build();
                async move {
                    let request = request.map_err(|err| IdpError::transport(ENDPOINT, err))?;
                    let answer =
                        super::traced::send(self.http(), request, "token", ENDPOINT).await?;
                    if answer.status == 200 {
                        Ok(answer.body)
                    } else {
                        let wait = retry_after(&answer.headers);
                        Err(IdpError::from_status(
                            ENDPOINT,
                            answer.status,
                            wait,
                            &answer.body,
                        ))
                    }
                }
            })
            .await?;
        let parsed: OboResponse =
            serde_json::from_slice(&body).map_err(|err| IdpError::InvalidResponse {
                endpoint: ENDPOINT,
                detail: err.to_string(),
            })?;
        let lifetime = crate::domain::seconds(&parsed.expires_in).unwrap_or(3600);
        Ok(OboToken {
            access_token: AccessToken::new(parsed.access_token),
            expires_at: jsonwebtoken::get_current_timestamp() as i64 + lifetime,
        })
    }
}
