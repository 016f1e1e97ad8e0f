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

/// One authentication decided by the layer.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Outcome {
    Authenticated,
    /// Let through without a session (optional modes).
    Anonymous(Option<Reason>),
    Refused(Reason),
}

#[cfg(feature = "metrics")]
pub(crate) fn authentication(outcome: Outcome, origin: Option<Origin>) {
    let (outcome, reason) = match outcome {
        Outcome::Authenticated => ("authenticated", "none"),
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
