//! What Receptor reads from certificates: the subject CN, and the node IDs in the
//! subjectAltName `otherName` entries with OID 1.3.6.1.4.1.2312.19.1 (UTF8String), as
//! `pkg/utils/other_name.go` reads them. A DNS name never counts as a node ID.

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The Receptor node-ID OID.
pub const RECEPTOR_NAME_OID: &str = "1.3.6.1.4.1.2312.19.1";

pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(String::from)
}

/// The node IDs a certificate names.
pub fn receptor_names(der: &[u8]) -> Result<Vec<String>, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for ext in cert.extensions() {
        let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() else {
            continue;
        };
        for name in &san.general_names {
            if let GeneralName::OtherName(oid, value) = name {
                if oid.to_id_string() != RECEPTOR_NAME_OID {
                    continue;
                }
                // `value` is the [0] EXPLICIT wrapper's content: a UTF8String.
                if let Some(s) = utf8_string(value) {
                    names.push(s);
                }
            }
        }
    }
    Ok(names)
}

/// Reads a DER UTF8String (tag 12), unwrapping an explicit [0] tag if present.
fn utf8_string(mut der: &[u8]) -> Option<String> {
    for _ in 0..2 {
        let (&tag, rest) = der.split_first()?;
        let (len, rest) = der_len(rest)?;
        let body = rest.get(..len)?;
        match tag {
            0x0c => return std::str::from_utf8(body).ok().map(String::from),
            0xa0 => der = body,
            _ => return None,
        }
    }
    None
}

fn der_len(b: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = b.split_first()?;
    if first < 0x80 {
        return Some((first as usize, rest));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    let len = rest[..n]
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | x as usize);
    Some((len, &rest[n..]))
}

/// Receptor's check of a service's certificate (`ReceptorVerifyFunc` with a Receptor node ID
/// expected): the chain up to the `rootcas`, for server use, and then the node ID among the
/// certificate's otherName SANs. DNS names do not matter.
pub fn node_id_verifier(
    roots: Vec<rustls::pki_types::TrustAnchor<'static>>,
    node: String,
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
) -> std::sync::Arc<crate::tls::Verifier> {
    let algorithms = provider.signature_verification_algorithms.all;
    crate::tls::Verifier::new(
        provider,
        "a Receptor node ID",
        move |end_entity, intermediates, now| {
            let ee = webpki::EndEntityCert::try_from(end_entity)
                .map_err(|e| rustls::Error::General(format!("bad certificate: {e}")))?;
            ee.verify_for_usage(
                algorithms,
                &roots,
                intermediates,
                now,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| rustls::Error::General(format!("certificate not trusted: {e}")))?;
            let names = receptor_names(end_entity).map_err(rustls::Error::General)?;
            if names.iter().any(|n| n == &node) {
                return Ok(());
            }
            Err(rustls::Error::General(if names.is_empty() {
                format!(
                "x509: certificate is not valid for any Receptor node IDs, but wanted to match {node}"
            )
            } else {
                format!(
                    "x509: certificate is valid for Receptor node ID{} {}, not {node}",
                    if names.len() > 1 { "s" } else { "" },
                    names.join(", "),
                )
            }))
        },
    )
}
