//! The `claims` request parameter, as Entra reads it at `/authorize` and the token endpoint
//! (Microsoft Learn: "Claims challenges, claims requests and client capabilities",
//! learn.microsoft.com/entra/identity-platform/claims-challenge; "Developer guide to
//! Conditional Access authentication context"): what a client asks of the access token it is
//! about to get.
//!
//! * `access_token.acrs` (`value` or `values`): authentication contexts the token must prove.
//! * `access_token.xms_cc.values`: the client's capabilities (`cp1`: it handles claims
//!   challenges); echoed as `xms_cc` only to a resource that opted in to that optional claim.
//! * `access_token.nbf`: a token issued no earlier than this (a Continuous Access Evaluation
//!   challenge carries it).
//! * `access_token.capolids` / `polids`: Conditional Access policies to satisfy (the challenge
//!   On-Behalf-Of hands back).

use serde_json::Value;

use crate::errors::AadError;

/// The only client capability Entra knows (Microsoft Learn, "Claims challenges ...": "The only
/// currently known value is cp1"; values are not case-sensitive).
pub const CP1: &str = "cp1";

/// A parsed `claims` request; empty when the request had none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsRequest {
    /// Authentication-context ids asked for (`access_token.acrs`).
    pub acrs: Vec<String>,
    /// Client capabilities declared (`access_token.xms_cc.values`).
    pub capabilities: Vec<String>,
    /// `access_token.nbf`: the earliest issue time acceptable (Unix seconds).
    pub not_before: Option<i64>,
    /// Conditional Access policy ids to satisfy (`capolids`, `polids`).
    pub policies: Vec<String>,
    /// The request as sent, for the answers that hand it back.
    pub raw: Option<String>,
}

impl ClaimsRequest {
    /// Reads a `claims` value.
    ///
    /// # Errors
    /// AADSTS90019 when it is not a JSON object.
    pub fn parse(raw: &str) -> Result<Self, AadError> {
        let v: Value = serde_json::from_str(raw)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| AadError::request(90019, "The 'claims' parameter is not valid JSON."))?;
        let at = &v["access_token"];
        let strings = |node: &Value| -> Vec<String> {
            let mut out: Vec<String> = node["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(one) = node["value"].as_str() {
                out.push(one.to_string());
            }
            out.dedup();
            out
        };
        let not_before = match &at["nbf"]["value"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        };
        let mut policies = strings(&at["capolids"]);
        policies.extend(strings(&at["polids"]));
        Ok(Self {
            acrs: strings(&at["acrs"]),
            capabilities: strings(&at["xms_cc"]),
            not_before,
            policies,
            raw: Some(raw.to_string()),
        })
    }

    /// The request's `claims` parameter, or an empty request.
    ///
    /// # Errors
    /// AADSTS90019, as [`ClaimsRequest::parse`].
    pub fn of(params: &crate::params::Params) -> Result<Self, AadError> {
        params
            .get("claims")
            .map_or(Ok(Self::default()), Self::parse)
    }

    /// Adds what `other` asks for (a code's `/authorize` claims and the redemption's).
    pub fn merge(mut self, other: Self) -> Self {
        for a in other.acrs {
            if !self.acrs.contains(&a) {
                self.acrs.push(a);
            }
        }
        for c in other.capabilities {
            if !self.capabilities.contains(&c) {
                self.capabilities.push(c);
            }
        }
        self.policies.extend(other.policies);
        self.not_before = self.not_before.max(other.not_before);
        self.raw = self.raw.or(other.raw);
        self
    }

    /// Whether the client declared that it handles claims challenges (`cp1`).
    pub fn declares_cp1(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(CP1))
    }

    /// The declared capabilities Entra knows, as the client spelt them (`xms_cc`).
    pub fn known_capabilities(&self) -> Vec<String> {
        self.capabilities
            .iter()
            .filter(|c| c.eq_ignore_ascii_case(CP1))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claims_request_is_read_in_each_of_its_forms() {
        let c = ClaimsRequest::parse(
            r#"{"access_token":{"xms_cc":{"values":["CP1","x"]},"acrs":{"essential":true,"value":"c1"},"nbf":{"essential":true, "value":"1604106651"}}}"#,
        )
        .unwrap();
        assert_eq!(c.acrs, ["c1"]);
        assert!(c.declares_cp1());
        assert_eq!(c.known_capabilities(), ["CP1"]);
        assert_eq!(c.not_before, Some(1_604_106_651));
        let c = ClaimsRequest::parse(
            r#"{"access_token":{"acrs":{"values":["c2","c3"]},"capolids":{"values":["p"]}}}"#,
        )
        .unwrap();
        assert_eq!(
            (c.acrs, c.policies),
            (vec!["c2".into(), "c3".into()], vec!["p".into()])
        );
        assert_eq!(ClaimsRequest::parse("[1]").unwrap_err().code, 90019);
        assert_eq!(ClaimsRequest::parse("nope").unwrap_err().code, 90019);
        let merged = ClaimsRequest::parse(r#"{"access_token":{"acrs":{"value":"c1"}}}"#)
            .unwrap()
            .merge(
                ClaimsRequest::parse(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#).unwrap(),
            );
        assert_eq!(merged.acrs, ["c1"]);
        assert!(merged.declares_cp1());
    }
}
