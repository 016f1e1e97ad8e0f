//! Reading Stytch credentials from request headers, without allocating on the way.

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

/// Where the layer looks for credentials, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The session JWT cookie (default name `stytch_session_jwt`).
    JwtCookie,
    /// The opaque session token cookie (default name `stytch_session`).
    TokenCookie,
    /// `Authorization: Bearer <jwt or session token>`.
    Bearer,
}

/// The default order: JWT cookie, token cookie, bearer header.
pub(crate) const DEFAULT_SOURCES: [CredentialSource; 3] = [
    CredentialSource::JwtCookie,
    CredentialSource::TokenCookie,
    CredentialSource::Bearer,
];

/// Credentials borrowed from the request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub(crate) jwt: Option<&'a str>,
    pub(crate) token: Option<&'a str>,
}

/// Why the credentials in a request cannot be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// The same credential appears twice with different values (cookie tossing), or
    /// the bearer header and the cookie disagree.
    Conflicting,
    /// An `Authorization` header that is not `Bearer <credential>`.
    MalformedAuthorization,
}

impl Unusable {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unusable::Conflicting => "conflicting_credentials",
            Unusable::MalformedAuthorization => "malformed_authorization",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Unusable::Conflicting => "The request carries conflicting session credentials.",
            Unusable::MalformedAuthorization => {
                "The Authorization header must be `Bearer <session credential>`."
            }
        }
    }
}

/// The values of the cookies `names` (a `None` name is not looked for), each present
/// exactly once (or repeated with one value), in one pass over the `Cookie` headers.
/// Names compare exactly and case-sensitively; values are not percent-decoded.
fn cookies<'a>(
    headers: &'a HeaderMap,
    names: [Option<&str>; 2],
) -> Result<[Option<&'a str>; 2], Unusable> {
    let mut found: [Option<&'a str>; 2] = [None, None];
    if names == [None, None] {
        return Ok(found);
    }
    for header in headers.get_all(COOKIE) {
        // Non-UTF-8 cookie headers cannot hold a Stytch credential; skip them.
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let Some((k, v)) = pair.trim_start().split_once('=') else {
                continue;
            };
            let k = k.trim_end();
            let Some(slot) = names.iter().position(|n| *n == Some(k)) else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            match found[slot] {
                Some(prev) if prev != v => return Err(Unusable::Conflicting),
                _ => found[slot] = Some(v),
            }
        }
    }
    Ok(found.map(|v| v.filter(|v| !v.is_empty())))
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Unusable> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Unusable::Conflicting);
    }
    let value = value
        .to_str()
        .map_err(|_| Unusable::MalformedAuthorization)?;
    let (scheme, credential) = value
        .split_once(' ')
        .ok_or(Unusable::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() || credential.contains(' ') {
        return Err(Unusable::MalformedAuthorization);
    }
    Ok(Some(credential))
}

/// A session JWT has three dot-separated segments; an opaque token has none.
fn looks_like_jwt(s: &str) -> bool {
    s.bytes().filter(|&b| b == b'.').count() == 2
}

pub(crate) fn extract<'a>(
    headers: &'a HeaderMap,
    sources: &[CredentialSource],
    jwt_cookie: &str,
    token_cookie: &str,
) -> Result<Found<'a>, Unusable> {
    let wants = |source| sources.contains(&source).then_some(());
    let [jwt_value, token_value] = cookies(
        headers,
        [
            wants(CredentialSource::JwtCookie).map(|()| jwt_cookie),
            wants(CredentialSource::TokenCookie).map(|()| token_cookie),
        ],
    )?;
    let mut found = Found::default();
    for source in sources {
        match source {
            CredentialSource::JwtCookie => {
                if let Some(v) = jwt_value {
                    set(&mut found.jwt, v)?;
                }
            }
            CredentialSource::TokenCookie => {
                if let Some(v) = token_value {
                    set(&mut found.token, v)?;
                }
            }
            CredentialSource::Bearer => {
                if let Some(v) = bearer(headers)? {
                    if looks_like_jwt(v) {
                        set(&mut found.jwt, v)?;
                    } else {
                        set(&mut found.token, v)?;
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Two sources of the same kind must agree (Kong's "multiple tokens" rule).
fn set<'a>(slot: &mut Option<&'a str>, value: &'a str) -> Result<(), Unusable> {
    match slot {
        Some(prev) if *prev != value => Err(Unusable::Conflicting),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn get(h: &HeaderMap) -> Result<Found<'_>, Unusable> {
        extract(h, &DEFAULT_SOURCES, "stytch_session_jwt", "stytch_session")
    }

    #[test]
    fn finds_cookies_and_bearer() {
        let h = headers(&[(
            "cookie",
            b"theme=dark; stytch_session_jwt=a.b.c; stytch_session=tok",
        )]);
        assert_eq!(
            get(&h).unwrap(),
            Found {
                jwt: Some("a.b.c"),
                token: Some("tok")
            }
        );
        let h = headers(&[
            ("cookie", b"theme=dark"),
            ("cookie", b"stytch_session_jwt=a.b.c"),
        ]);
        assert_eq!(get(&h).unwrap().jwt, Some("a.b.c"), "HTTP/2 cookie crumbs");
        let h = headers(&[("authorization", b"bearer a.b.c")]);
        assert_eq!(get(&h).unwrap().jwt, Some("a.b.c"));
        let h = headers(&[("authorization", b"Bearer opaque-token")]);
        assert_eq!(get(&h).unwrap().token, Some("opaque-token"));
        let h = headers(&[("cookie", b"stytch_session_jwt=\"a.b.c\"")]);
        assert_eq!(get(&h).unwrap().jwt, Some("a.b.c"));
    }

    #[test]
    fn names_are_exact_and_empty_values_absent() {
        for raw in [
            &b"STYTCH_SESSION_JWT=a.b.c"[..],
            b"xstytch_session_jwt=a.b.c",
            b"stytch%5Fsession%5Fjwt=a.b.c",
            b"stytch_session_jwt=",
            b"\xff\xfe=\xfd",
        ] {
            assert_eq!(
                get(&headers(&[("cookie", raw)])).unwrap(),
                Found::default(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn conflicts_and_malformed_authorization_are_unusable() {
        let h = headers(&[(
            "cookie",
            b"stytch_session_jwt=x.y.z; stytch_session_jwt=a.b.c",
        )]);
        assert_eq!(get(&h).unwrap_err(), Unusable::Conflicting);
        let h = headers(&[
            ("cookie", b"stytch_session_jwt=a.b.c"),
            ("authorization", b"Bearer x.y.z"),
        ]);
        assert_eq!(get(&h).unwrap_err(), Unusable::Conflicting);
        let h = headers(&[
            ("cookie", b"stytch_session_jwt=a.b.c"),
            ("authorization", b"Bearer a.b.c"),
        ]);
        assert_eq!(
            get(&h).unwrap().jwt,
            Some("a.b.c"),
            "the same credential twice is fine"
        );
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Basic dXNlcjpwYXNz",
            b"Bearer a.b.c extra",
            b"Bearera.b.c",
        ] {
            assert_eq!(
                get(&headers(&[("authorization", bad)])).unwrap_err(),
                Unusable::MalformedAuthorization,
                "{bad:?}"
            );
        }
        let h = headers(&[
            ("authorization", b"Bearer a.b.c"),
            ("authorization", b"Bearer x.y.z"),
        ]);
        assert_eq!(get(&h).unwrap_err(), Unusable::Conflicting);
    }
}
