//! What the layer reports: the `stytch_authentications_total` and
//! `stytch_guard_denials_total` metrics (feature `metrics`) and the request span's
//! session fields. Labels come from fixed sets; ids go to spans only, never to labels.

#[cfg(feature = "metrics")]
use stytch_validator::ErrorKind;
use stytch_validator::{Reason, Session};

use crate::credentials::Origin;

/// The `source` label: where the credentials came from.
fn source_label(origin: Option<Origin>) -> &'static str {
    match origin {
        Some(Origin::Cookies) => "cookie",
        Some(Origin::Bearer) => "bearer",
        None => "none",
    }
}

#[cfg(feature = "metrics")]
fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::Unavailable => "unavailable",
        _ => "misconfigured",
    }
}

/// The `outcome="authenticated"` series of `stytch_authentications_total`, one per
/// credential source, registered with the recorder on first use instead of on every
/// request: registering hashes the name and labels and looks them up in the recorder's
/// registry, which costs more than the increment. The recorder in effect at the
/// first authenticated request is the one that counts them.
#[derive(Clone, Default)]
pub(crate) struct Authenticated {
    #[cfg(feature = "metrics")]
    counters: std::sync::OnceLock<[metrics::Counter; 2]>,
}

impl Authenticated {
    #[inline]
    pub(crate) fn record(&self, origin: Origin) {
        #[cfg(feature = "metrics")]
        {
            let [cookies, bearer] = self.counters.get_or_init(|| {
                [Origin::Cookies, Origin::Bearer].map(|origin| {
                    metrics::counter!(
                        "stytch_authentications_total",
                        "outcome" => "authenticated",
                        "reason" => "none",
                        "source" => source_label(Some(origin)),
                    )
                })
            });
            match origin {
                Origin::Cookies => cookies,
                Origin::Bearer => bearer,
            }
            .increment(1);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = origin;
    }
}

/// An authentication the layer decided against a session.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Outcome {
    /// Let through without a session (optional modes).
    Anonymous(Option<Reason>),
    Refused(Reason),
}

#[cfg(feature = "metrics")]
pub(crate) fn authentication(outcome: Outcome, origin: Option<Origin>) {
    let (outcome, reason) = match outcome {
        Outcome::Anonymous(reason) => ("anonymous", reason.map_or("none", Reason::as_str)),
        Outcome::Refused(reason) => (kind_label(reason.kind()), reason.as_str()),
    };
    metrics::counter!(
        "stytch_authentications_total",
        "outcome" => outcome,
        "reason" => reason,
        "source" => source_label(origin),
    )
    .increment(1);
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn authentication(_: Outcome, _: Option<Origin>) {}

#[cfg(feature = "metrics")]
pub(crate) fn guard_denial(guard: &'static str, reason: Reason) {
    metrics::counter!(
        "stytch_guard_denials_total",
        "guard" => guard,
        "reason" => reason.as_str(),
    )
    .increment(1);
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn guard_denial(_: &'static str, _: Reason) {}

/// Records who the request is on the current span (declare the fields on your request
/// span; see the crate doc). Ids are not secrets; credentials never appear.
pub(crate) fn record_session(session: &Session, origin: Option<Origin>) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("enduser.id", session.user_id());
    span.record("session.id", session.session_id());
    if let Some(org) = session.organization_id() {
        span.record("stytch.organization_id", org);
    }
    span.record("stytch.credential_source", source_label(origin));
}
