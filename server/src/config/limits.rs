//! The server's own limits and switches: timeouts, the connection bound, the `/auth` rate
//! limit, where metrics are served, and the boolean variables.

use std::{fmt, net::SocketAddr, time::Duration};

use super::DEFAULT_METRICS_ADDR;

pub(super) fn read_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
    problems: &mut Vec<String>,
) -> bool {
    match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => default,
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        Some(other) => {
            problems.push(format!(
                "{name}={other:?} is not a yes/no value: use true or false (default {default})."
            ));
            default
        }
    }
}

/// `METRICS_ADDR`: the metrics are anonymous, so they are served on their own address,
/// loopback unless the operator chooses otherwise.
pub(super) fn read_metrics_addr(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> SocketAddr {
    let raw = get("METRICS_ADDR").unwrap_or_else(|| DEFAULT_METRICS_ADDR.to_owned());
    match raw.parse::<SocketAddr>() {
        Ok(addr) => {
            if !addr.ip().is_loopback() {
                warnings.push(format!(
                    "METRICS_ADDR={raw} is not a loopback address: /metrics answers anyone who \
                     can reach it. Keep it on a private network or behind the scraper's proxy."
                ));
            }
            addr
        }
        Err(_) => {
            problems.push(format!(
                "METRICS_ADDR={raw:?} is not an address: write it as host:port, e.g. \
                 {DEFAULT_METRICS_ADDR}."
            ));
            DEFAULT_METRICS_ADDR.parse().expect("valid")
        }
    }
}

pub(super) fn read_auth_rate_limit(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> crate::rate_limit::AuthRateLimit {
    let defaults = crate::rate_limit::AuthRateLimit::default();
    let trust_forwarded_for = read_bool(get, "TRUST_FORWARDED_FOR", false, problems);
    crate::rate_limit::AuthRateLimit {
        burst: read_positive(get, "AUTH_RATE_LIMIT_BURST", defaults.burst, problems),
        per_minute: read_positive(
            get,
            "AUTH_RATE_LIMIT_PER_MINUTE",
            defaults.per_minute,
            problems,
        ),
        trust_forwarded_for,
    }
}

pub(super) fn read_limits(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> listener::Limits {
    let defaults = listener::Limits::default();
    let mut number = |name: &str, default: u64| read_positive(get, name, default, problems);
    listener::Limits {
        header_read: Duration::from_secs(number(
            "HEADER_READ_TIMEOUT_SECS",
            defaults.header_read.as_secs(),
        )),
        request: Duration::from_secs(number("REQUEST_TIMEOUT_SECS", defaults.request.as_secs())),
        max_connections: number("MAX_CONNECTIONS", defaults.max_connections as u64) as usize,
        drain: defaults.drain,
    }
}

/// A positive whole number from `name`, else `default` (and a problem when it is set but not
/// one).
pub(super) fn read_positive<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    problems: &mut Vec<String>,
) -> T
where
    T: std::str::FromStr + PartialOrd + Default + fmt::Display + Copy,
{
    let Some(raw) = get(name) else {
        return default;
    };
    match raw.parse::<T>() {
        Ok(n) if n > T::default() => n,
        _ => {
            problems.push(format!(
                "{name}={raw:?} is not a positive whole number (default {default})."
            ));
            default
        }
    }
}
