//! The named downstream APIs: each configured one ([`crate::config::DownstreamApi`]) with the
//! base URL it has at run time (the embedded Weather API's is known only once it listens).

use app::model::DownstreamApiInfo;
use url::Url;

use crate::{authorization::Membership, config::DownstreamApi};

/// One configured API and where it is.
pub struct Api {
    pub config: DownstreamApi,
    pub base_url: Url,
}

impl Api {
    pub(crate) fn url(&self, path: &str, query: Option<&str>) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        match query {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        }
    }
}

/// The configured APIs, by name.
#[derive(Default)]
pub struct DownstreamApis(Vec<Api>);

impl DownstreamApis {
    pub fn new(apis: Vec<Api>) -> Self {
        Self(apis)
    }

    pub fn get(&self, name: &str) -> Option<&Api> {
        self.0.iter().find(|api| api.config.name == name)
    }

    /// What the Call API page lists, for a user holding `who` (`None`: no API has a rule).
    pub fn info(&self, who: Option<&Membership>) -> Vec<DownstreamApiInfo> {
        self.0
            .iter()
            .map(|api| DownstreamApiInfo {
                name: api.config.name.clone(),
                base_url: api.base_url.to_string(),
                scopes: api.config.scopes.to_wire(),
                sample_path: api.config.sample_path.clone(),
                unavailable: who
                    .filter(|who| !api.config.access.admits(who))
                    .map(|_| format!("it requires {}", api.config.access.describe())),
                as_app: api.config.as_app,
            })
            .collect()
    }

    /// Whether any API requires a role or group.
    pub fn has_rules(&self) -> bool {
        self.0.iter().any(|api| !api.config.access.is_open())
    }
}
