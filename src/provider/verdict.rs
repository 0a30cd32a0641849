//! The ambiguity rule (docs/DESIGN.md §4.4), in one place: once a request has left, which answers prove
//! that the provider did not apply the password.
//!
//! Invariants: only a connection that was never made, a redirect (never followed), or one of the
//! refusal statuses in [`NOT_APPLIED_STATUSES`] is [`Applied::No`]; every other answer short of a
//! confirmed success — timeouts, dropped connections, 5xx, unreadable bodies, unknown statuses —
//! is [`Applied::Maybe`], so the password it carried stays a candidate in the export.

/// Statuses that prove the provider refused the request without applying it.
pub const NOT_APPLIED_STATUSES: &[u16] = &[400, 401, 403, 404, 405, 409, 412, 422, 429];

/// Whether the provider may have applied the password of an attempt that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Applied {
    /// Certainly not: the request never left, or the answer is a documented refusal.
    #[default]
    No,
    /// Perhaps: the answer does not prove a refusal.
    Maybe,
}

/// The verdict for an HTTP status that is not the provider's success.
pub fn for_status(status: u16) -> Applied {
    if (300..400).contains(&status) || NOT_APPLIED_STATUSES.contains(&status) {
        Applied::No
    } else {
        Applied::Maybe
    }
}

/// The verdict for a transport error: only a connection that was never established proves that
/// nothing reached the provider (a timeout or a reset connection may come after it applied).
pub fn for_transport(connection_never_made: bool) -> Applied {
    if connection_never_made {
        Applied::No
    } else {
        Applied::Maybe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_and_redirects_are_not_applied() {
        for s in [
            301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 409, 412, 422, 429,
        ] {
            assert_eq!(for_status(s), Applied::No, "{s}");
        }
        for s in [
            200, 201, 202, 204, 206, 406, 408, 410, 418, 500, 501, 502, 503, 504, 599,
        ] {
            assert_eq!(for_status(s), Applied::Maybe, "{s}");
        }
        assert_eq!(for_transport(true), Applied::No);
        assert_eq!(for_transport(false), Applied::Maybe);
    }
}
