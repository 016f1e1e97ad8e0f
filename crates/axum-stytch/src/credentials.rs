//! Reading Stytch credentials from request headers, without allocating on the way.

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};
use stytch_validator::Reason;

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

/// Which kind of source the credentials came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The JWT cookie and/or the token cookie: the two cookies form one source.
    #[default]
    Cookies,
    /// The `Authorization: Bearer` header.
    Bearer,
}

/// Credentials borrowed from the request, all from one origin: as text (`&str`), or
/// as the bytes the headers carry (`&[u8]`, see [`Value`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found<V> {
    pub(crate) jwt: Option<V>,
    pub(crate) token: Option<V>,
    pub(crate) origin: Origin,
}

impl<V> Default for Found<V> {
    fn default() -> Self {
        Self {
            jwt: None,
            token: None,
            origin: Origin::default(),
        }
    }
}

impl<V> Found<V> {
    pub(crate) fn is_empty(&self) -> bool {
        self.jwt.is_none() && self.token.is_none()
    }
}

impl<'a> Found<&'a [u8]> {
    /// The same credentials as text, when every one of them is: then they are what
    /// extraction as text finds too (it only skips values that are not text).
    pub(crate) fn text(&self) -> Option<Found<&'a str>> {
        let text = |v: Option<&'a [u8]>| match v {
            Some(v) => std::str::from_utf8(v).ok().map(Some),
            None => Some(None),
        };
        Some(Found {
            jwt: text(self.jwt)?,
            token: text(self.token)?,
            origin: self.origin,
        })
    }
}

/// How a credential is taken from the header bytes that carry it.
///
/// As text (`&str`) a value must be UTF-8, or it is not a credential. As bytes
/// (`&[u8]`) nothing is checked: the layer looks a JWT up in the verified cache by its
/// bytes, which spares the hot path a UTF-8 check of ~1.5 KB, and a hit proves them the
/// text that a verification accepted before.
pub(crate) trait Value<'a>: Copy + PartialEq + Sized {
    fn take(bytes: &'a [u8]) -> Option<Self>;
    fn bytes(self) -> &'a [u8];
}

impl<'a> Value<'a> for &'a str {
    fn take(bytes: &'a [u8]) -> Option<Self> {
        // The whole value at once, rather than byte by byte as `to_str()` does.
        std::str::from_utf8(bytes).ok()
    }

    fn bytes(self) -> &'a [u8] {
        self.as_bytes()
    }
}

impl<'a> Value<'a> for &'a [u8] {
    fn take(bytes: &'a [u8]) -> Option<Self> {
        Some(bytes)
    }

    fn bytes(self) -> &'a [u8] {
        self
    }
}

/// Why the credentials in a request cannot be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// One Stytch cookie name carries two different values. Either a sibling subdomain
    /// tossed a cookie in, or (far more often) the frontend's cookie and a refreshed one
    /// have different scopes (`Domain`), so the browser keeps and sends both.
    ConflictingCookies,
    /// Two `Authorization` headers.
    ConflictingHeaders,
    /// An `Authorization` header that is not `Bearer <credential>`.
    MalformedAuthorization,
}

impl Unusable {
    pub(crate) fn reason(self) -> Reason {
        match self {
            Unusable::ConflictingCookies | Unusable::ConflictingHeaders => {
                Reason::ConflictingCredentials
            }
            Unusable::MalformedAuthorization => Reason::MalformedAuthorization,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Unusable::ConflictingCookies => {
                "The request carries two different values for one Stytch session cookie. \
                 This usually means a cookie scope mismatch: the frontend sets the cookie \
                 for a parent domain and the API refreshed it for its own host only. Set \
                 the layer's cookie domain (StytchLayer::with_cookie_domain) to the domain \
                 the frontend SDK uses. The API's own cookies have been cleared."
            }
            Unusable::ConflictingHeaders => "The request carries conflicting session credentials.",
            Unusable::MalformedAuthorization => {
                "The Authorization header must be `Bearer <session credential>`."
            }
        }
    }
}

/// The values of the cookies `names` (a `None` name is not looked for), each present
/// exactly once (or repeated with one value), in one pass over the `Cookie` headers.
/// Names compare exactly and case-sensitively; values are not percent-decoded.
fn cookies<'a, V: Value<'a>>(
    headers: &'a HeaderMap,
    names: [Option<&str>; 2],
) -> Result<[Option<V>; 2], Unusable> {
    let mut found: [Option<V>; 2] = [None, None];
    if names == [None, None] {
        return Ok(found);
    }
    for header in headers.get_all(COOKIE) {
        // Bytes, not `to_str()`: checking every byte of a 1.5 KB header one by one was a
        // good part of a cache hit's cost. Only values taken as text are checked.
        let mut rest = header.as_bytes();
        while !rest.is_empty() {
            let pair = match memchr::memchr(b';', rest) {
                Some(end) => {
                    let pair = &rest[..end];
                    rest = &rest[end + 1..];
                    pair
                }
                None => std::mem::take(&mut rest),
            };
            let pair = pair.trim_ascii_start();
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            let k = pair[..eq].trim_ascii_end();
            let Some(slot) = names.iter().position(|n| n.map(str::as_bytes) == Some(k)) else {
                continue;
            };
            let v = pair[eq + 1..].trim_ascii();
            let v = v
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v);
            // Taken as text, a value that is not is no credential. Text that is not
            // base64url is refused by the validator (a JWT's segments, a session token's
            // charset), not here.
            let Some(v) = V::take(v) else {
                continue;
            };
            match found[slot] {
                Some(prev) if prev != v => return Err(Unusable::ConflictingCookies),
                _ => found[slot] = Some(v),
            }
        }
    }
    Ok(found.map(|v| v.filter(|v| !v.bytes().is_empty())))
}

fn bearer<'a, V: Value<'a>>(headers: &'a HeaderMap) -> Result<Option<(V, bool)>, Unusable> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Unusable::ConflictingHeaders);
    }
    let value = value.as_bytes();
    let space = memchr::memchr(b' ', value).ok_or(Unusable::MalformedAuthorization)?;
    let (scheme, credential) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"bearer")
        || credential.is_empty()
        || memchr::memchr(b' ', credential).is_some()
    {
        return Err(Unusable::MalformedAuthorization);
    }
    // The scheme is ASCII, so the header is text exactly when the credential is.
    let is_jwt = looks_like_jwt(credential);
    let credential = V::take(credential).ok_or(Unusable::MalformedAuthorization)?;
    Ok(Some((credential, is_jwt)))
}

/// A session JWT has three dot-separated segments; an opaque token has none.
fn looks_like_jwt(credential: &[u8]) -> bool {
    memchr::memchr_iter(b'.', credential).count() == 2
}

/// The request's credentials, from exactly one source: the first in `sources` that
/// carries any Stytch credential. The JWT and token cookies together are one source
/// (a browser sends both); the bearer header is another. Credentials of different
/// sources are never combined, so a header cannot pair with a cookie. An
/// `Authorization` header that is not `Bearer` only matters when no source carries a
/// credential.
pub(crate) fn extract<'a, V: Value<'a>>(
    headers: &'a HeaderMap,
    sources: &[CredentialSource],
    jwt_cookie: &str,
    token_cookie: &str,
) -> Result<Found<V>, Unusable> {
    let wants = |source| sources.contains(&source).then_some(());
    let mut cookie_values = None;
    let mut malformed = None;
    for source in sources {
        match source {
            CredentialSource::JwtCookie | CredentialSource::TokenCookie => {
                // Both cookie names are read in one pass, the first time either comes up.
                if cookie_values.is_some() {
                    continue;
                }
                let [jwt, token] = cookies(
                    headers,
                    [
                        wants(CredentialSource::JwtCookie).map(|()| jwt_cookie),
                        wants(CredentialSource::TokenCookie).map(|()| token_cookie),
                    ],
                )?;
                cookie_values = Some(());
                if jwt.is_some() || token.is_some() {
                    return Ok(Found {
                        jwt,
                        token,
                        origin: Origin::Cookies,
                    });
                }
            }
            CredentialSource::Bearer => match bearer(headers) {
                Ok(Some((v, is_jwt))) => {
                    let (jwt, token) = if is_jwt {
                        (Some(v), None)
                    } else {
                        (None, Some(v))
                    };
                    return Ok(Found {
                        jwt,
                        token,
                        origin: Origin::Bearer,
                    });
                }
                Ok(None) => {}
                Err(e) => malformed = Some(e),
            },
        }
    }
    match malformed {
        Some(e) => Err(e),
        None => Ok(Found::default()),
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

    fn get(h: &HeaderMap) -> Result<Found<&str>, Unusable> {
        extract(h, &DEFAULT_SOURCES, "stytch_session_jwt", "stytch_session")
    }

    fn get_bytes(h: &HeaderMap) -> Result<Found<&[u8]>, Unusable> {
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
                token: Some("tok"),
                origin: Origin::Cookies,
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
            b"stytch_session_jwt=a.b.\xff",
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
        assert_eq!(get(&h).unwrap_err(), Unusable::ConflictingCookies);
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
        assert_eq!(get(&h).unwrap_err(), Unusable::ConflictingHeaders);
    }

    #[test]
    fn bytes_find_what_text_finds_whenever_they_are_text() {
        // Taken as bytes, values are not checked; `text()` of what they find, when it is
        // text, must be what extraction as text finds. Every combination of these header
        // values, in both source orders.
        let cookie_values: [&[u8]; 7] = [
            b"stytch_session_jwt=a.b.c",
            b"stytch_session_jwt=a.b.\xff",
            b"stytch_session_jwt=\xfe; stytch_session_jwt=a.b.c",
            b"stytch_session_jwt=a.b.c; stytch_session_jwt=a.b.c",
            b"stytch_session=tok; stytch_session_jwt=a.b.c",
            b"stytch_session=\xfftok; stytch_session_jwt=a.b.c",
            b"theme=\xff; stytch_session=tok",
        ];
        let authorization: [&[u8]; 5] = [
            b"Bearer x.y.z",
            b"Bearer x.y.\xff",
            b"bearer opaque",
            b"Basic dXNlcjpwYXNz",
            b"Bearer",
        ];
        let orders = [
            DEFAULT_SOURCES,
            [
                CredentialSource::Bearer,
                CredentialSource::TokenCookie,
                CredentialSource::JwtCookie,
            ],
        ];
        let mut compared = 0;
        for cookie in cookie_values.iter().map(Some).chain([None]) {
            for auth in authorization.iter().map(Some).chain([None]) {
                let mut pairs = Vec::new();
                pairs.extend(cookie.map(|c| ("cookie", *c)));
                pairs.extend(auth.map(|a| ("authorization", *a)));
                let h = headers(&pairs);
                for sources in &orders {
                    let text = extract::<&str>(&h, sources, "stytch_session_jwt", "stytch_session");
                    let raw = extract::<&[u8]>(&h, sources, "stytch_session_jwt", "stytch_session");
                    if let Some(from_bytes) = raw.ok().and_then(|r| r.text()) {
                        assert_eq!(Ok(from_bytes), text, "{pairs:?} {sources:?}");
                        compared += 1;
                    }
                }
            }
        }
        // Most combinations are text throughout, so most are compared.
        assert!(compared >= 50, "{compared}");
        // Values that are not text are found as bytes, and are then no text.
        let h = headers(&[("cookie", b"stytch_session_jwt=a.b.\xff")]);
        let raw = get_bytes(&h).unwrap();
        assert_eq!(raw.jwt, Some(&b"a.b.\xff"[..]));
        assert_eq!(raw.text(), None);
        assert_eq!(get(&h).unwrap(), Found::default());
    }

    #[test]
    fn credentials_come_from_one_source_only() {
        // Cookies first (the default order): the bearer header is ignored, even when
        // it is malformed or names another session.
        let h = headers(&[
            ("cookie", b"stytch_session_jwt=a.b.c"),
            ("authorization", b"Bearer opaque-token-of-someone-else"),
        ]);
        let found = get(&h).unwrap();
        assert_eq!((found.jwt, found.token), (Some("a.b.c"), None));
        assert_eq!(found.origin, Origin::Cookies);
        let h = headers(&[
            ("cookie", b"stytch_session=tok-a"),
            ("authorization", b"Bearer x.y.z"),
        ]);
        let found = get(&h).unwrap();
        assert_eq!((found.jwt, found.token), (None, Some("tok-a")));
        let h = headers(&[
            ("cookie", b"stytch_session=tok-a"),
            ("authorization", b"Basic dXNlcjpwYXNz"),
        ]);
        assert_eq!(get(&h).unwrap().token, Some("tok-a"));
        // Bearer first: the cookies are ignored.
        let bearer_first = [
            CredentialSource::Bearer,
            CredentialSource::JwtCookie,
            CredentialSource::TokenCookie,
        ];
        let h = headers(&[
            ("cookie", b"stytch_session_jwt=a.b.c; stytch_session=tok-a"),
            ("authorization", b"Bearer x.y.z"),
        ]);
        let found = extract(&h, &bearer_first, "stytch_session_jwt", "stytch_session").unwrap();
        assert_eq!(
            found,
            Found {
                jwt: Some("x.y.z"),
                token: None,
                origin: Origin::Bearer
            }
        );
        // A source that carries nothing passes the turn to the next.
        let h = headers(&[("cookie", b"stytch_session=tok-a")]);
        let found = extract(&h, &bearer_first, "stytch_session_jwt", "stytch_session").unwrap();
        assert_eq!(
            (found.token, found.origin),
            (Some("tok-a"), Origin::Cookies)
        );
    }
}
