//! Credential fingerprints for logs: a short, non-reversible hash, never the credential.

use std::fmt;

/// A short, non-reversible fingerprint of a credential for logs: the first 8 bytes of
/// its SHA-256, in hex. Lets you correlate log lines without logging the credential.
///
/// ```
/// let fp = stytch_validator::fingerprint("some-session-token");
/// assert_eq!(fp.len(), 16);
/// assert!(!fp.contains("session"));
/// ```
pub fn fingerprint(credential: &str) -> String {
    Fingerprint(credential).to_string()
}

/// Displays a credential's [`fingerprint`], hashing only when formatted: log fields
/// built from it cost nothing when the event is filtered out.
pub(crate) struct Fingerprint<'a>(pub(crate) &'a str);

impl fmt::Display for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &digest(self.0)[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The SHA-256 of a credential: what the rejected-credential memory is keyed by.
pub(crate) fn digest(secret: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
