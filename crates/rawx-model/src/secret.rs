//! Secrets at rest: AES-256-GCM with a random nonce per value. A sealed value is text
//! (`$encrypted$AESGCM$<base64(nonce ‖ ciphertext)>`) so it fits any text column and is
//! recognisable; what clients see in its place is always `$encrypted$`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;

/// What AWX shows instead of any secret, and what a client sends back to keep one unchanged.
pub const ENCRYPTED: &str = "$encrypted$";
const PREFIX: &str = "$encrypted$AESGCM$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret key must be 32 bytes (64 hex characters or 44 base64 characters)")]
    BadKey,
    #[error("a stored secret could not be decrypted: the secret key does not match the one it was sealed with")]
    Undecryptable,
}

/// The key that seals secrets. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey(Aes256Gcm);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey($encrypted$)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        Aes256Gcm::new_from_slice(bytes)
            .map(SecretKey)
            .map_err(|_| SecretError::BadKey)
    }

    /// Accepts 64 hex characters or standard base64 of 32 bytes (what `generate` writes).
    pub fn from_text(text: &str) -> Result<Self, SecretError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| {
                    u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| SecretError::BadKey)
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            B64.decode(t).map_err(|_| SecretError::BadKey)?
        };
        Self::from_bytes(&bytes)
    }

    /// A new random key, as text for a key file.
    pub fn generate() -> String {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        B64.encode(k)
    }

    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(blob))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let blob = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or(SecretError::Undecryptable)?;
        let plain = self
            .0
            .decrypt(Nonce::from_slice(&blob[..12]), &blob[12..])
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }
}

pub fn is_sealed(s: &str) -> bool {
    s.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_another_key() {
        let k = SecretKey::from_text(&SecretKey::generate()).unwrap();
        let sealed = k.seal("s3cret");
        assert!(is_sealed(&sealed) && !sealed.contains("s3cret"));
        assert_ne!(sealed, k.seal("s3cret"), "each seal has its own nonce");
        assert_eq!(k.open(&sealed).unwrap(), "s3cret");
        let other = SecretKey::from_text(&"ab".repeat(32)).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::Undecryptable));
        assert_eq!(format!("{k:?}"), "SecretKey($encrypted$)");
        assert_eq!(
            SecretKey::from_text("short").unwrap_err(),
            SecretError::BadKey
        );
    }
}
