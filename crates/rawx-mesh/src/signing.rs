//! Work signing as Receptor does it: a JWT, RS512, with claims exactly
//! `{"aud":[<target node ID>],"exp":<unix seconds>}`, signed with the `work-signing` private key
//! and checked against the `work-verification` public key.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("work signing key {path}: {message}")]
    Key { path: String, message: String },
    #[error("could not verify signature: {0}")]
    Invalid(String),
}

/// Checks tokens against the `work-verification` public key.
#[derive(Debug)]
pub struct Verifier {
    /// PKCS#1 `RSAPublicKey`, what ring verifies with.
    rsa_public_key: Vec<u8>,
}

impl Verifier {
    /// Loads a PEM `PUBLIC KEY` (PKIX), as `openssl rsa -pubout` writes it.
    pub fn load(path: &Path) -> Result<Verifier, SigningError> {
        let err = |message: String| SigningError::Key {
            path: path.display().to_string(),
            message,
        };
        let spki = SubjectPublicKeyInfoDer::from_pem_file(path)
            .map_err(|e| err(format!("expected a PEM PUBLIC KEY: {e}")))?;
        let rsa_public_key =
            rsa_key_from_spki(spki.as_ref()).ok_or_else(|| err("not an RSA public key".into()))?;
        Ok(Verifier { rsa_public_key })
    }

    /// Accepts a token meant for `node_id` that has not expired at `now`. Like Go's JWT
    /// library, any RSA algorithm (`RS*`, `PS*`) is accepted.
    pub fn verify(&self, token: &str, node_id: &str, now: SystemTime) -> Result<(), SigningError> {
        let bad = |m: &str| SigningError::Invalid(m.to_string());
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a JWT"));
        };
        let header: Value = decode_json(header).ok_or_else(|| bad("bad JWT header"))?;
        let alg: &dyn signature::VerificationAlgorithm = match header["alg"].as_str() {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("RS384") => &signature::RSA_PKCS1_2048_8192_SHA384,
            Some("RS512") => &signature::RSA_PKCS1_2048_8192_SHA512,
            Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            Some("PS384") => &signature::RSA_PSS_2048_8192_SHA384,
            Some("PS512") => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return Err(bad("unexpected signing method")),
        };
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| bad("bad JWT signature encoding"))?;
        let signed = &token[..header_and_claims_len(token)];
        UnparsedPublicKey::new(alg, &self.rsa_public_key)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| bad("signature does not match the work-verification key"))?;
        let claims: Value = decode_json(claims).ok_or_else(|| bad("bad JWT claims"))?;
        let exp = claims["exp"]
            .as_f64()
            .ok_or_else(|| bad("token has no expiry"))?;
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        if exp <= now_secs {
            return Err(bad("token is expired"));
        }
        let for_us = match &claims["aud"] {
            Value::String(a) => a == node_id,
            Value::Array(a) => a.iter().any(|v| v.as_str() == Some(node_id)),
            _ => false,
        };
        if !for_us {
            return Err(bad("token audience does not include this node"));
        }
        Ok(())
    }
}

/// Signs requests with the `work-signing` private key.
pub struct Signer {
    key: RsaKeyPair,
    expiration: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key", &"$encrypted$")
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl Signer {
    /// Loads a PEM `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8).
    pub fn load(path: &Path, expiration: Duration) -> Result<Signer, SigningError> {
        let err = |message: String| SigningError::Key {
            path: path.display().to_string(),
            message,
        };
        let key = match PrivateKeyDer::from_pem_file(path)
            .map_err(|e| err(format!("expected a PEM RSA private key: {e}")))?
        {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            _ => return Err(err("not an RSA private key".into())),
        }
        .map_err(|e| err(format!("unusable RSA key: {e}")))?;
        Ok(Signer { key, expiration })
    }

    /// A token for `target_node`, valid from `now` for the configured expiration.
    pub fn sign(&self, target_node: &str, now: SystemTime) -> Result<String, SigningError> {
        let exp = (now + self.expiration)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS512","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(json!({"aud": [target_node], "exp": exp}).to_string());
        let signed = format!("{header}.{claims}");
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA512,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut sig,
            )
            .map_err(|_| SigningError::Invalid("signing failed".into()))?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn header_and_claims_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// The `RSAPublicKey` inside a `SubjectPublicKeyInfo` whose algorithm is rsaEncryption.
fn rsa_key_from_spki(der: &[u8]) -> Option<Vec<u8>> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (tag, spki, _) = der_next(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, algorithm, rest) = der_next(spki)?;
    let (oid_tag, oid, _) = der_next(algorithm)?;
    if tag != 0x30 || oid_tag != 0x06 || oid != RSA_ENCRYPTION {
        return None;
    }
    let (tag, bits, _) = der_next(rest)?;
    // A BIT STRING whose first byte counts unused bits, which must be none.
    match (tag, bits.split_first()) {
        (0x03, Some((0, key))) => Some(key.to_vec()),
        _ => None,
    }
}

/// One DER element: (tag, contents, what follows).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!("../tests/data/work-signing-vectors.txt");

    fn token(name: &str) -> &'static str {
        let mut lines = VECTORS.lines();
        while let Some(l) = lines.next() {
            if l.starts_with(&format!("{name} ")) {
                return lines.next().unwrap();
            }
        }
        panic!("no vector {name}")
    }

    fn pem(label: &str) -> String {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = VECTORS.find(&begin).unwrap();
        let stop = VECTORS.find(&end).unwrap() + end.len();
        format!("{}\n", &VECTORS[start..stop])
    }

    fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("rawx-signing-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn verifies_the_receptor_vectors() {
        let v = Verifier::load(&write_temp("pub.pem", &pem("PUBLIC KEY"))).unwrap();
        let now = SystemTime::now();
        v.verify(token("GOOD"), "exec1", now).unwrap();
        let e = v.verify(token("EXPIRED"), "exec1", now).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        let e = v.verify(token("WRONG_AUD"), "exec1", now).unwrap_err();
        assert!(e.to_string().contains("audience"), "{e}");
        let e = v.verify(token("GOOD"), "exec2", now).unwrap_err();
        assert!(e.to_string().contains("audience"), "{e}");
        let mut tampered = token("GOOD").to_string();
        tampered.insert(tampered.rfind('.').unwrap() - 2, 'x');
        assert!(v.verify(&tampered, "exec1", now).is_err());
        assert!(v.verify("garbage", "exec1", now).is_err());
    }

    #[test]
    fn signs_what_the_verifier_accepts() {
        let s = Signer::load(
            &write_temp("key.pem", &pem("RSA PRIVATE KEY")),
            Duration::from_secs(60),
        )
        .unwrap();
        let v = Verifier::load(&write_temp("pub2.pem", &pem("PUBLIC KEY"))).unwrap();
        let now = SystemTime::now();
        let t = s.sign("exec1", now).unwrap();
        assert!(
            t.starts_with("eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9."),
            "{t}"
        );
        v.verify(&t, "exec1", now).unwrap();
        assert!(v
            .verify(&t, "exec1", now + Duration::from_secs(61))
            .is_err());
        assert!(format!("{s:?}").contains("$encrypted$"));
    }

    #[test]
    fn refuses_keys_of_the_wrong_kind() {
        let e = Verifier::load(&write_temp("wrong.pem", &pem("RSA PRIVATE KEY"))).unwrap_err();
        assert!(e.to_string().contains("PUBLIC KEY"), "{e}");
        let e = Signer::load(
            &write_temp("wrong2.pem", &pem("PUBLIC KEY")),
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(e.to_string().contains("private key"), "{e}");
    }
}
