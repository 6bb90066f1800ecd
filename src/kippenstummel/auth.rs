//! Tokens and stamps (spec 3): the ident token (`x-ident`), the admin JWT
//! (`Authorization: Bearer`), the captcha stamp (`x-captcha`).

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Serialize, Deserialize)]
struct IdentClaims {
    identity: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Deserialize)]
struct AdminClaims {
    #[serde(default)]
    sub: Option<String>,
}

/// Why a token was refused (all answered with the same 401 code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenRefused(pub String);

pub struct IdentTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime_seconds: i64,
}

impl IdentTokens {
    pub fn new(secret: &str, lifetime_seconds: u64) -> Self {
        // HS256 is what we issue; HS384/HS512 with the same secret are
        // accepted as the original does. No other algorithm, no leeway.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            lifetime_seconds: lifetime_seconds as i64,
        }
    }

    /// `{identity, iat, exp = iat + IDENT_EXPIRES_IN}`, HS256.
    pub fn issue(&self, identity: &str, now: chrono::DateTime<chrono::Utc>) -> String {
        let iat = now.timestamp();
        let claims = IdentClaims {
            identity: identity.to_owned(),
            iat,
            exp: iat + self.lifetime_seconds,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HMAC signing cannot fail")
    }

    /// The identity of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<String, TokenRefused> {
        let data =
            decode::<IdentClaims>(token, &self.decoding, &self.validation).map_err(|e| TokenRefused(e.to_string()))?;
        Ok(data.claims.identity)
    }
}

pub struct AdminTokens {
    decoding: DecodingKey,
    validation: Validation,
}

impl AdminTokens {
    pub fn new(secret: &str) -> Self {
        // HS256 only; `exp` checked when present; no issuer/audience checks.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::new();
        Self {
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The admin user (`sub`) of an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<String, TokenRefused> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| TokenRefused("missing bearer token".into()))?;
        let data = decode::<AdminClaims>(token.trim(), &self.decoding, &self.validation)
            .map_err(|e| TokenRefused(e.to_string()))?;
        data.claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TokenRefused("no subject".into()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampProblem {
    /// Header missing: INVALID_CAPTCHA_STAMP_ERROR.
    Missing,
    /// Empty id or text: MALFORMED_CAPTCHA_STAMP_ERROR.
    Malformed,
}

/// Splits `x-captcha: <id>:<text>` (on the first colon).
pub fn parse_stamp(header: Option<&str>) -> Result<(&str, &str), StampProblem> {
    let header = header.ok_or(StampProblem::Missing)?;
    let (id, text) = header.split_once(':').unwrap_or((header, ""));
    if id.is_empty() || text.is_empty() {
        return Err(StampProblem::Malformed);
    }
    Ok((id, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn ident_tokens_round_trip_and_expire() {
        let tokens = IdentTokens::new("secret", 60);
        let token = tokens.issue("id-1", Utc::now());
        assert_eq!(tokens.verify(&token).unwrap(), "id-1");
        let old = tokens.issue("id-1", Utc::now() - Duration::seconds(61));
        assert!(tokens.verify(&old).is_err(), "expired");
        assert!(IdentTokens::new("other", 60).verify(&token).is_err(), "wrong secret");
        assert!(tokens.verify("garbage").is_err());
        assert!(tokens.verify("").is_err());
    }

    #[test]
    fn ident_tokens_reject_the_none_algorithm() {
        // {"alg":"none"} . {"identity":"x","iat":0,"exp":9999999999} . (no signature)
        let unsigned = "eyJhbGciOiJub25lIn0.eyJpZGVudGl0eSI6IngiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(IdentTokens::new("secret", 60).verify(unsigned).is_err());
    }

    #[test]
    fn admin_tokens_need_bearer_and_subject() {
        let secret = "admin-secret";
        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let admin = AdminTokens::new(secret);
        let good = sign(serde_json::json!({"sub": "alice", "username": "alice"}));
        assert_eq!(admin.verify_header(Some(&format!("Bearer {good}"))).unwrap(), "alice");
        assert!(admin.verify_header(Some(&good)).is_err(), "no Bearer prefix");
        assert!(admin.verify_header(None).is_err());
        let no_sub = sign(serde_json::json!({"username": "alice"}));
        assert!(admin.verify_header(Some(&format!("Bearer {no_sub}"))).is_err());
        let empty_sub = sign(serde_json::json!({"sub": ""}));
        assert!(admin.verify_header(Some(&format!("Bearer {empty_sub}"))).is_err());
        let expired = sign(serde_json::json!({"sub": "alice", "exp": Utc::now().timestamp() - 10}));
        assert!(admin.verify_header(Some(&format!("Bearer {expired}"))).is_err());
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"sub": "alice"}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(
            admin.verify_header(Some(&format!("Bearer {hs512}"))).is_err(),
            "HS256 only"
        );
    }

    #[test]
    fn stamps_split_on_the_first_colon() {
        assert_eq!(parse_stamp(Some("abc:def")), Ok(("abc", "def")));
        assert_eq!(parse_stamp(Some("abc:d:ef")), Ok(("abc", "d:ef")));
        assert_eq!(parse_stamp(None), Err(StampProblem::Missing));
        for malformed in ["", ":", "abc", "abc:", ":def"] {
            assert_eq!(
                parse_stamp(Some(malformed)),
                Err(StampProblem::Malformed),
                "{malformed:?}"
            );
        }
    }
}
