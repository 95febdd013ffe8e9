//! App-only tokens (the client credentials grant, `<resource>/.default`): this app calling as
//! itself. The diagnostics page asks for one (for Microsoft Graph) to prove the configured
//! client credential works.

use oauth2::{Scope, TokenResponse as _, TokenUrl};

use super::{EntraClient, IdpError, client::map_token_error};
use crate::domain::AccessToken;

impl EntraClient {
    /// An app-only token for `scope` (a `.default` scope) in tenant `tid` (a signed-in
    /// user's), else the configured tenant; with a multi-tenant authority and no `tid`, the
    /// first allowed tenant (Entra refuses client credentials at `/common` and
    /// `/organizations`: AADSTS9001023). With its expiry (Unix seconds).
    pub async fn app_token(
        &self,
        tid: Option<&str>,
        scope: &str,
    ) -> Result<(AccessToken, i64), IdpError> {
        let config = self.config();
        let endpoint = match (tid, config.allowed_tenants.first()) {
            (Some(tid), _) => self.token_endpoint_for(tid),
            (None, Some(tid)) if config.is_multi_tenant() => self.token_endpoint_for(tid),
            _ => self.metadata().token_endpoint.clone(),
        };
        let oauth = self
            .oauth()
            .clone()
            .set_token_uri(TokenUrl::from_url(endpoint.clone()));
        let oauth = &oauth;
        let response = self
            .with_credential(&endpoint, |fields| async move {
                let mut request = oauth
                    .exchange_client_credentials()
                    .add_scope(Scope::new(scope.to_owned()));
                for (name, value) in fields {
                    request = request.add_extra_param(name, value);
                }
                request
                    .request_async(&self.http_fn())
                    .await
                    .map_err(|err| map_token_error(err, "token (client_credentials)"))
            })
            .await?;
        let lifetime = response.expires_in().map_or(3600, |d| d.as_secs() as i64);
        Ok((
            AccessToken::new(response.access_token().secret().clone()),
            jsonwebtoken::get_current_timestamp() as i64 + lifetime,
        ))
    }
}
