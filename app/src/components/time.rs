//! Times for people: a UTC date from Unix seconds, and "in 4 min 10 s" countdowns.

use leptos::prelude::*;

/// The current Unix time, ticking every second in the browser (fixed during server
/// rendering).
pub fn use_now() -> ReadSignal<i64> {
    let (now, set_now) = signal(unix_now());
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || set_now.set(unix_now()),
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    now
}

#[cfg(feature = "hydrate")]
fn unix_now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

#[cfg(not(feature = "hydrate"))]
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-29 07:45:00 UTC`.
pub fn format_utc(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return format!("{unix} (out of range)");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An island: "in 4 min 10 s" until `at` (Unix seconds), ticking in the browser.
#[island]
pub fn Countdown(at: i64) -> impl IntoView {
    let now = use_now();
    view! { <span class="countdown">{move || relative(at, now.get())}</span> }
}

/// "in 4 min 10 s" / "5 min 2 s ago".
pub fn relative(target: i64, now: i64) -> String {
    let delta = target - now;
    let abs = delta.unsigned_abs();
    let text = match abs {
        0..=59 => format!("{abs} s"),
        60..=3599 => format!("{} min {} s", abs / 60, abs % 60),
        3600..=86_399 => format!("{} h {} min {} s", abs / 3600, abs % 3600 / 60, abs % 60),
        _ => format!("{} d {} h", abs / 86_400, abs % 86_400 / 3600),
    };
    if delta >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_right_across_leap_years() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        // A claim in milliseconds by mistake still reads as a (far) date.
        assert_eq!(format_utc(1_700_000_000_000), "55840-11-08 22:13:20 UTC");
    }

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(relative(1_000, 1_000), "in 0 s");
        assert_eq!(relative(1_250, 1_000), "in 4 min 10 s");
        assert_eq!(relative(1_000, 1_302), "5 min 2 s ago");
        assert_eq!(relative(10_000, 1_000), "in 2 h 30 min 0 s");
    }
}
