//! The `Set-Cookie` headers the layer writes when Stytch refreshes or ends a session.

use std::borrow::Cow;

use cookie::{Cookie, SameSite};
use http::HeaderValue;
use time::OffsetDateTime;

/// Cookie names and attributes. The defaults match what Stytch's frontend SDK sets:
/// `Path=/`, `SameSite=Lax`, `Secure`, not `HttpOnly` (the SDK reads them from
/// JavaScript), expiring with the session.
#[derive(Debug, Clone)]
pub(crate) struct CookieSettings {
    pub(crate) jwt_name: Cow<'static, str>,
    pub(crate) token_name: Cow<'static, str>,
    pub(crate) path: Cow<'static, str>,
    pub(crate) domain: Option<Cow<'static, str>>,
    pub(crate) same_site: SameSite,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) write: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            jwt_name: Cow::Borrowed("stytch_session_jwt"),
            token_name: Cow::Borrowed("stytch_session"),
            path: Cow::Borrowed("/"),
            domain: None,
            same_site: SameSite::Lax,
            secure: true,
            http_only: false,
            write: true,
        }
    }
}

impl CookieSettings {
    fn build<'c>(&'c self, name: &'c str, value: &'c str) -> Cookie<'c> {
        let mut c = Cookie::build((name, value))
            .path(&*self.path)
            .same_site(self.same_site)
            .secure(self.secure)
            .http_only(self.http_only)
            .build();
        if let Some(domain) = &self.domain {
            c.set_domain(&**domain);
        }
        c
    }

    /// `Set-Cookie` values carrying a refreshed JWT and token until `expires`.
    pub(crate) fn refreshed(
        &self,
        jwt: &str,
        token: &str,
        expires: OffsetDateTime,
    ) -> [Option<HeaderValue>; 2] {
        let header = |name: &str, value: &str| {
            let mut c = self.build(name, value);
            c.set_expires(expires);
            HeaderValue::from_str(&c.to_string()).ok()
        };
        [header(&self.jwt_name, jwt), header(&self.token_name, token)]
    }

    /// `Set-Cookie` values that delete both cookies.
    pub(crate) fn cleared(&self) -> [Option<HeaderValue>; 2] {
        let header = |name: &str| {
            let mut c = self.build(name, "");
            c.make_removal();
            HeaderValue::from_str(&c.to_string()).ok()
        };
        [header(&self.jwt_name), header(&self.token_name)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_stytch_frontend_sdk() {
        let expires = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let [jwt, token] = CookieSettings::default().refreshed("a.b.c", "tok", expires);
        let jwt = jwt.unwrap();
        let jwt = jwt.to_str().unwrap();
        assert!(jwt.starts_with("stytch_session_jwt=a.b.c;"), "{jwt}");
        for attr in [
            "Path=/",
            "SameSite=Lax",
            "Secure",
            "Expires=Sun, 17 Mar 2030",
        ] {
            assert!(jwt.contains(attr), "{jwt} lacks {attr}");
        }
        assert!(!jwt.contains("HttpOnly"));
        assert!(
            token
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("stytch_session=tok;")
        );
    }

    #[test]
    fn cleared_cookies_expire_now() {
        let [jwt, _] = CookieSettings::default().cleared();
        let jwt = jwt.unwrap();
        let jwt = jwt.to_str().unwrap();
        assert!(jwt.starts_with("stytch_session_jwt=;"), "{jwt}");
        assert!(jwt.contains("Max-Age=0"), "{jwt}");
    }
}
