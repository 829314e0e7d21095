//! AWS Signature Version 4 for one request, as AWS's signing documentation gives it: the
//! canonical request, the string to sign, the key derived from the secret by date, region and
//! service, and the `Authorization` header. Small on purpose (one call of one service); the
//! tests below reproduce vectors of AWS's published SigV4 test suite byte for byte.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What is signed. `path` is the URI path as sent (already escaped); `query` the pairs
/// unescaped; `headers` every header to sign, `host` and `x-amz-date` among them.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

pub struct Key<'a> {
    pub access_key: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 escaping of everything but the unreserved characters (AWS's `UriEncode`).
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signing key: HMAC chained over the date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

pub fn canonical_request(req: &Request) -> (String, String) {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        if req.path.is_empty() { "/" } else { req.path },
        query.join("&"),
        canonical_headers,
        signed,
        sha256_hex(req.payload)
    );
    (creq, signed)
}

/// The `Authorization` header of `req` signed at `amz_date` (`YYYYMMDDTHHMMSSZ`, the value of
/// its `x-amz-date` header).
pub fn authorization(key: &Key, req: &Request, amz_date: &str) -> String {
    let date = &amz_date[..8.min(amz_date.len())];
    let (creq, signed) = canonical_request(req);
    let scope = format!("{date}/{}/{}/aws4_request", key.region, key.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(creq.as_bytes())
    );
    let signature = hex::encode(hmac(
        &signing_key(key.secret, date, key.region, key.service),
        to_sign.as_bytes(),
    ));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        key.access_key
    )
}

#[cfg(test)]
mod tests {
    //! Vectors of AWS's SigV4 test suite (`aws-sig-v4-test-suite`: the example credentials
    //! AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service `service`) and the IAM example of
    //! AWS's signing documentation.
    use super::*;

    const DATE: &str = "20150830T123600Z";
    const KEY: Key = Key {
        access_key: "AKIDEXAMPLE",
        secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
    };

    fn signed(
        method: &str,
        query: &[(&str, &str)],
        extra: &[(&str, &str)],
        payload: &[u8],
    ) -> String {
        let mut headers = vec![("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)];
        headers.extend_from_slice(extra);
        authorization(
            &KEY,
            &Request {
                method,
                path: "/",
                query,
                headers: &headers,
                payload,
            },
            DATE,
        )
    }

    #[test]
    fn get_vanilla() {
        assert_eq!(
            signed("GET", &[], &[], b""),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla() {
        assert!(signed("POST", &[], &[], b"")
            .ends_with("SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        assert!(signed(
            "GET",
            &[("Param2", "value2"), ("Param1", "value1")],
            &[],
            b""
        )
        .ends_with("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let got = signed(
            "POST",
            &[],
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
        );
        assert_eq!(
            got,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
        let (creq, _) = canonical_request(&Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
            ],
            payload: b"Param1=value1",
        });
        assert!(
            creq.ends_with("9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
            "{creq}"
        );
    }

    #[test]
    fn the_documented_iam_signing_key() {
        assert_eq!(
            hex::encode(signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830",
                "us-east-1",
                "iam"
            )),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }
}
