//! Identifier and token formats, copied from what Stytch's test environment hands out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// `{kind}-test-{uuid}`, e.g. `user-test-…`, `member-session-test-…`, `jwk-test-…`.
pub(crate) fn test_id(kind: &str) -> String {
    format!("{kind}-test-{}", Uuid::new_v4())
}

/// The `request_id` carried by every response body.
pub(crate) fn request_id() -> String {
    test_id("request-id")
}

/// 33 random bytes in unpadded base64url: 44 characters, like Stytch's opaque tokens.
pub(crate) fn session_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<33>())
}

/// A made-up project secret: `secret-test-` plus 44 base64url characters.
pub(crate) fn secret() -> String {
    format!("secret-test-{}", session_token())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        // The system RNG never fails in practice; uuid's RNG is a fine fallback for test tokens.
        for chunk in buf.chunks_mut(16) {
            let bytes = Uuid::new_v4().into_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(session_token().len(), 44);
        assert!(secret().starts_with("secret-test-"));
        assert_eq!(secret().len(), "secret-test-".len() + 44);
        assert!(test_id("user").starts_with("user-test-"));
        assert_eq!(test_id("user").len(), "user-test-".len() + 36);
    }
}
