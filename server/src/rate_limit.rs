//! The rate limit of `/auth/*` per client address: every sign-in start writes a pending
//! sign-in to the session store, so an unbounded client could grow the store (and make
//! this app hammer the identity provider). Built on `tower_governor` (GCRA).
//!
//! The client address is the TCP peer, which behind a reverse proxy is the proxy itself:
//! set `TRUST_FORWARDED_FOR=true` there, and only there, to take the **last** address of
//! `X-Forwarded-For`: the one the nearest proxy appended (with a port, as Application
//! Gateway writes it, or bracketed IPv6). The leftmost entries are whatever the client sent
//! (proxies append to the header), so keying on them would let every request pick its own
//! bucket; a request whose last entry is missing or unreadable is refused rather than
//! counted against the proxy. IPv6 clients are keyed by their /64, which one client holds.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Response, StatusCode, header},
};
use std::net::{IpAddr, SocketAddr};

use tower_governor::{
    GovernorError, GovernorLayer, governor::GovernorConfigBuilder, key_extractor::KeyExtractor,
};

/// How many `/auth/*` requests one client may make.
#[derive(Debug, Clone, Copy)]
pub struct AuthRateLimit {
    /// Requests allowed at once (a burst), e.g. several tabs signing in.
    pub burst: u32,
    /// Requests per minute sustained.
    pub per_minute: u32,
    /// Read the client address from the proxy's forwarding headers.
    pub trust_forwarded_for: bool,
}

impl Default for AuthRateLimit {
    fn default() -> Self {
        Self {
            burst: 30,
            per_minute: 60,
            trust_forwarded_for: false,
        }
    }
}

/// The client a request is counted against.
#[derive(Debug, Clone, Copy)]
struct ClientKey {
    trust_forwarded_for: bool,
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        // Behind the proxy every request carries the header; one without a readable last
        // entry is refused, not counted against the proxy's own address (one bucket for
        // every user, e.g. behind a proxy that does not append).
        let client = if self.trust_forwarded_for {
            request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|value| value.to_str().ok())
                .and_then(|list| list.rsplit(',').next())
                .and_then(forwarded_address)
        } else {
            request
                .extensions()
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        };
        client
            .map(per_client)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// An `X-Forwarded-For` entry: an address, or an address with the client's port as
/// Azure Application Gateway appends it (`203.0.113.9:51234`, `[2001:db8::1]:443`), or a
/// bracketed IPv6 address.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        })
}

/// One bucket per IPv4 address, per IPv6 /64.
fn per_client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
    }
}

/// `router` behind the limit.
pub fn limit(router: Router, limit: &AuthRateLimit) -> Router {
    let key = ClientKey {
        trust_forwarded_for: limit.trust_forwarded_for,
    };
    let period = Duration::from_secs(60) / limit.per_minute.max(1);
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(key)
            .period(period)
            .burst_size(limit.burst.max(1))
            .finish()
            .expect("a non-zero period and burst"),
    );
    // The limiter keeps a cell per client address: forget the idle ones.
    let limiter = config.limiter().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            limiter.retain_recent();
        }
    });
    router.layer(GovernorLayer::new(config).error_handler(too_many))
}

/// 429 with `Retry-After` and a sentence; never a 500 for a request without an address.
fn too_many(error: GovernorError) -> Response<Body> {
    let (status, wait, text) = match error {
        GovernorError::TooManyRequests { wait_time, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(wait_time.max(1)),
            format!(
                "Too many sign-in requests from your address. Wait {} s and try again.",
                wait_time.max(1)
            ),
        ),
        GovernorError::UnableToExtractKey => (
            StatusCode::BAD_REQUEST,
            None,
            "The client address of this request is unknown: with TRUST_FORWARDED_FOR=true, \
             the reverse proxy must append it to X-Forwarded-For as an address (a port may \
             follow)."
                .to_owned(),
        ),
        GovernorError::Other { code, msg, .. } => {
            (code, None, msg.unwrap_or_else(|| "Request refused.".into()))
        }
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    if let Some(wait) = wait {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(forwarded: &[&str], peer: &str) -> axum::http::Request<()> {
        let mut request = axum::http::Request::new(());
        for value in forwarded {
            request
                .headers_mut()
                .append("x-forwarded-for", value.parse().unwrap());
        }
        request.extensions_mut().insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().unwrap(),
        ));
        request
    }

    #[test]
    fn behind_a_proxy_the_address_it_appended_counts_not_the_clients_claim() {
        let key = ClientKey {
            trust_forwarded_for: true,
        };
        let spoofed = request(&["1.1.1.1, 203.0.113.9"], "10.0.0.2:4000");
        assert_eq!(key.extract(&spoofed).unwrap().to_string(), "203.0.113.9");
        let two_headers = request(&["6.6.6.6", "203.0.113.9"], "10.0.0.2:4000");
        assert_eq!(
            key.extract(&two_headers).unwrap().to_string(),
            "203.0.113.9"
        );
        // Without a usable entry the request is refused, not put in the proxy's bucket.
        for unusable in [&[][..], &["unknown"], &["203.0.113.9, "], &["not-an-ip:80"]] {
            let r = request(unusable, "10.0.0.2:4000");
            assert!(key.extract(&r).is_err(), "{unusable:?}");
        }
    }

    #[test]
    fn forwarded_entries_with_ports_and_brackets_name_the_client() {
        let key = ClientKey {
            trust_forwarded_for: true,
        };
        for (entry, client) in [
            ("203.0.113.9:51234", "203.0.113.9"),
            ("1.1.1.1, 203.0.113.9:51234", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::"),
            ("[2001:db8::1]", "2001:db8::"),
            ("2001:db8::1", "2001:db8::"),
        ] {
            let r = request(&[entry], "10.0.0.2:4000");
            assert_eq!(key.extract(&r).unwrap().to_string(), client, "{entry}");
        }
        // Two clients behind Application Gateway: two buckets, not the gateway's one.
        let a = key
            .extract(&request(&["198.51.100.1:1000"], "10.0.0.2:4000"))
            .unwrap();
        let b = key
            .extract(&request(&["198.51.100.2:1000"], "10.0.0.2:4000"))
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn without_trust_the_forwarding_header_is_ignored() {
        let key = ClientKey {
            trust_forwarded_for: false,
        };
        let spoofed = request(&["1.1.1.1"], "192.0.2.7:4000");
        assert_eq!(key.extract(&spoofed).unwrap().to_string(), "192.0.2.7");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let key = ClientKey {
            trust_forwarded_for: false,
        };
        let a = key
            .extract(&request(&[], "[2001:db8:1:2::1]:4000"))
            .unwrap();
        let b = key
            .extract(&request(&[], "[2001:db8:1:2:ffff::9]:4000"))
            .unwrap();
        assert_eq!(a, b);
    }
}
