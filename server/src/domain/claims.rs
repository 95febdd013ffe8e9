//! A claims request (the `claims` parameter): what a token must carry, as an API's claims
//! challenge asks for it or as this app sends it (Microsoft Learn, "Claims challenges, claims
//! requests and client capabilities").
//!
//! Claims requests are JSON objects (`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
//! that combine member by member: this app merges an API's challenge, On-Behalf-Of's answer
//! and its own client capabilities (`xms_cc`, as MSAL does) into one request.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A claims request: a JSON object, kept in a canonical (sorted, minified) text so that two
/// equal requests compare and hash equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimsRequest(String);

/// Why a text is no claims request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a claims request must be a JSON object, such as {{\"access_token\":{{...}}}}")]
pub struct NotAClaimsRequest;

impl ClaimsRequest {
    /// Reads a claims request (JSON text).
    ///
    /// # Errors
    /// [`NotAClaimsRequest`] when it is not a JSON object.
    pub fn parse(raw: &str) -> Result<Self, NotAClaimsRequest> {
        match serde_json::from_str::<Value>(raw) {
            // serde_json's maps are sorted: `to_string` is canonical.
            Ok(v @ Value::Object(_)) => Ok(Self(v.to_string())),
            _ => Err(NotAClaimsRequest),
        }
    }

    /// The request declaring the client capabilities `capabilities` (`cp1`): what MSAL sends
    /// for `clientCapabilities`. `None` when there are none.
    pub fn capabilities(capabilities: &[String]) -> Option<Self> {
        (!capabilities.is_empty()).then(|| {
            let v = serde_json::json!({"access_token": {"xms_cc": {"values": capabilities}}});
            Self(v.to_string())
        })
    }

    fn value(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.0) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Both requests in one: members of both, `other`'s where both name the same claim
    /// (objects merge member by member).
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        fn merge_into(into: &mut Map<String, Value>, from: Map<String, Value>) {
            for (k, v) in from {
                match (into.get_mut(&k), v) {
                    (Some(Value::Object(a)), Value::Object(b)) => merge_into(a, b),
                    (_, v) => {
                        into.insert(k, v);
                    }
                }
            }
        }
        let mut merged = self.value();
        merge_into(&mut merged, other.value());
        Self(Value::Object(merged).to_string())
    }

    /// [`ClaimsRequest::merge`] of any number of requests, `None` when there is none.
    pub fn merge_all<'a>(requests: impl IntoIterator<Item = &'a Self>) -> Option<Self> {
        requests.into_iter().fold(None, |acc, r| match acc {
            None => Some(r.clone()),
            Some(a) => Some(a.merge(r)),
        })
    }

    /// Whether this request asks for everything `other` asks for (each member of `other`
    /// is here, with the same value).
    pub fn covers(&self, other: &Self) -> bool {
        fn covers(a: &Value, b: &Value) -> bool {
            match (a, b) {
                (Value::Object(a), Value::Object(b)) => b
                    .iter()
                    .all(|(k, bv)| a.get(k).is_some_and(|av| covers(av, bv))),
                (a, b) => a == b,
            }
        }
        covers(&Value::Object(self.value()), &Value::Object(other.value()))
    }

    /// Only what it asks of the access token (its `access_token` member): all an API's
    /// challenge may ask of the token it gets. `None` when it asks nothing of it.
    pub fn access_token_part(&self) -> Option<Self> {
        let at = self.value().remove("access_token")?;
        at.is_object()
            .then(|| Self(serde_json::json!({ "access_token": at }).to_string()))
    }

    /// The authentication contexts it asks for in the access token (`acrs`).
    pub fn auth_contexts(&self) -> Vec<String> {
        let acrs = &self.value()["access_token"]["acrs"];
        let mut out: Vec<String> = acrs["values"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.extend(acrs["value"].as_str().map(str::to_owned));
        out
    }

    /// What it asks for, in words, for a page: the authentication contexts, a token issued
    /// after a time (Continuous Access Evaluation), policies, or the JSON itself.
    pub fn describe(&self) -> String {
        let v = self.value();
        let at = &v["access_token"];
        let mut parts = Vec::new();
        let contexts = self.auth_contexts();
        if !contexts.is_empty() {
            parts.push(format!(
                "the authentication context {}",
                contexts.join(", ")
            ));
        }
        if let Some(nbf) = at["nbf"]["value"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| at["nbf"]["value"].as_i64())
        {
            parts.push(format!(
                "a token issued after {} (your sessions were revoked then)",
                app::format_utc(nbf)
            ));
        }
        if at.get("capolids").is_some() || at.get("polids").is_some() {
            parts.push("the Conditional Access policies of the API (e.g. MFA)".to_owned());
        }
        if parts.is_empty() {
            self.0.clone()
        } else {
            parts.join("; ")
        }
    }

    /// The JSON text, as the `claims` parameter carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClaimsRequest {
    type Error = NotAClaimsRequest;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ClaimsRequest> for String {
    fn from(c: ClaimsRequest) -> Self {
        c.0
    }
}

impl fmt::Display for ClaimsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(raw: &str) -> ClaimsRequest {
        ClaimsRequest::parse(raw).unwrap()
    }

    #[test]
    fn a_challenge_and_the_capabilities_merge_into_one_request() {
        let challenge = c(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
        let cp1 = ClaimsRequest::capabilities(&["cp1".into()]).unwrap();
        let both = challenge.merge(&cp1);
        assert_eq!(
            both.as_str(),
            r#"{"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}}"#
        );
        assert!(both.covers(&challenge) && both.covers(&cp1));
        assert!(!challenge.covers(&both));
        assert_eq!(both.auth_contexts(), ["c1"]);
        assert!(ClaimsRequest::capabilities(&[]).is_none());
    }

    #[test]
    fn equal_requests_are_equal_whatever_their_spacing_or_order() {
        let a = c(r#"{"access_token":{"nbf":{"essential":true, "value":"1604106651"}}}"#);
        let b = c(r#"{ "access_token" : { "nbf" : { "value":"1604106651","essential":true } } }"#);
        assert_eq!(a, b);
        assert!(a.describe().contains("2020-10-31"), "{}", a.describe());
    }

    #[test]
    fn only_json_objects_are_claims_requests() {
        for bad in ["", "[]", "\"x\"", "{", "acrs=c1"] {
            assert_eq!(ClaimsRequest::parse(bad), Err(NotAClaimsRequest), "{bad}");
        }
        let serialized = serde_json::to_string(&c(r#"{"a":1}"#)).unwrap();
        assert_eq!(serialized, r#""{\"a\":1}""#);
        assert!(serde_json::from_str::<ClaimsRequest>(r#""[1]""#).is_err());
    }
}
