//! How long a provider asked us to wait: `Retry-After` (RFC 9110 §10.2.3), and, on a 429
//! without one, the rate-limit reset headers of providers that send those instead: Okta's
//! `X-Rate-Limit-Reset` and Auth0's `x-ratelimit-reset`, both epoch seconds.
//!
//! Invariants: every wait is at most [`RETRY_AFTER_MAX`] (arithmetic on `Instant`s stays safe);
//! a reset time is measured from the answer's own `Date` when it has one (the server's clock, so
//! a skewed local clock cannot make us come back early: `Date` is truncated to the second, which
//! only lengthens the wait), else from the local clock; a reset that has passed is no hint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, DATE, RETRY_AFTER};
use reqwest::StatusCode;

/// Longest wait a hint can ask for; the pipeline refuses much shorter ones already
/// (`--max-retry-after`), this only keeps the arithmetic on `Instant`s safe.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Rate-limit reset headers (epoch seconds), Okta's and Auth0's spellings.
const RESET_HEADERS: [&str; 2] = ["x-rate-limit-reset", "x-ratelimit-reset"];

/// Values below this are not epoch seconds (2001-09-09) but seconds from now, as some APIs send.
const EPOCH_FLOOR: f64 = 1e9;

/// Parses `Retry-After`: delay-seconds or an HTTP-date, at most [`RETRY_AFTER_MAX`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let when = httpdate::parse_http_date(value).ok()?;
            when.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(RETRY_AFTER_MAX))
}

/// The wait a non-success answer asks for: its `Retry-After`, else, for a 429, its rate-limit
/// reset time.
pub fn throttle_hint(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    retry_after(headers).or_else(|| {
        (status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| reset_wait(headers, SystemTime::now()))
            .flatten()
    })
}

/// The wait until the reset time of a rate-limit reset header, from the answer's `Date` (else
/// `now`); `None` without such a header or once the reset has passed.
fn reset_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = RESET_HEADERS
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok())?;
    let reset: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
    let wait = if reset < EPOCH_FLOOR {
        reset
    } else {
        let from = headers
            .get(DATE)
            .and_then(|d| httpdate::parse_http_date(d.to_str().ok()?).ok())
            .unwrap_or(now);
        reset - from.duration_since(UNIX_EPOCH).ok()?.as_secs_f64()
    };
    (wait > 0.0).then(|| Duration::from_secs_f64(wait.min(RETRY_AFTER_MAX.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(
            retry_after(&h),
            Some(RETRY_AFTER_MAX),
            "bounded, no overflow"
        );
    }

    #[test]
    fn reset_headers_are_epoch_seconds_from_the_servers_date() {
        let date = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = date + Duration::from_secs(3600); // a local clock an hour ahead
        for name in ["x-rate-limit-reset", "x-ratelimit-reset"] {
            let h = headers(&[
                (name, "1700000007".into()),
                ("date", httpdate::fmt_http_date(date)),
            ]);
            assert_eq!(reset_wait(&h, now), Some(Duration::from_secs(7)), "{name}");
        }
        let no_date = headers(&[("x-rate-limit-reset", "1700000005".into())]);
        assert_eq!(reset_wait(&no_date, date), Some(Duration::from_secs(5)));
        assert_eq!(reset_wait(&no_date, now), None, "passed: no hint");
        let delta = headers(&[("x-ratelimit-reset", "2.5".into())]);
        assert_eq!(reset_wait(&delta, now), Some(Duration::from_millis(2500)));
        let huge = headers(&[("x-ratelimit-reset", "1e300".into())]);
        assert_eq!(reset_wait(&huge, date), Some(RETRY_AFTER_MAX));
        for bad in ["soon", "NaN", "inf", "-5"] {
            assert_eq!(
                reset_wait(&headers(&[("x-ratelimit-reset", bad.into())]), date),
                None
            );
        }
    }

    #[test]
    fn reset_headers_count_only_for_429_and_after_retry_after() {
        let later = SystemTime::now() + Duration::from_secs(60);
        let epoch = later
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let h = headers(&[("x-rate-limit-reset", epoch.clone())]);
        let wait = throttle_hint(StatusCode::TOO_MANY_REQUESTS, &h).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(throttle_hint(StatusCode::SERVICE_UNAVAILABLE, &h), None);
        let both = headers(&[("x-rate-limit-reset", epoch), ("retry-after", "3".into())]);
        assert_eq!(
            throttle_hint(StatusCode::TOO_MANY_REQUESTS, &both),
            Some(Duration::from_secs(3))
        );
    }
}
