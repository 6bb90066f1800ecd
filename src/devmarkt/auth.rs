//! The `Authorization` header of spec 8.2/8.3, parsed into credentials.
//! Resolving credentials to a caller needs the user aggregates and lives in
//! `service`; everything here is pure.
//!
//! Any malformed value means "anonymous", never an HTTP error.

use aggregates::devmarkt::user::{Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Who made the request, resolved once per request (spec 8.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub role: Role,
}

/// The request's caller: `None` is anonymous.
#[derive(Debug, Clone, Default)]
pub struct Auth(pub Option<Caller>);

/// What the header claims, before any user is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    /// `Self <jwt>`: the token's subject.
    Own(UserId),
    /// `Foreign <jwt> <type:number>`: the sudoer (token subject) and the target.
    Foreign {
        sudoer: UserId,
        target: UserId,
    },
}

/// HS256 verification with the configured secret's UTF-8 bytes.
pub struct Jwt {
    key: DecodingKey,
    validation: Validation,
}

impl Jwt {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // QA tokens carry no `exp` (spec 8.3): required claims are checked
        // by hand (`sub`), `exp` is still enforced when present, to the second.
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 0;
        validation.validate_aud = false;
        Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The token's `sub` as a user id, if the token is valid.
    pub fn subject(&self, token: &str) -> Option<UserId> {
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &self.key, &self.validation).ok()?;
        parse_user_id(data.claims.get("sub")?.as_str()?)
    }

    /// The credentials an `Authorization` header value carries.
    pub fn credentials(&self, header: Option<&str>) -> Credentials {
        let Some(value) = header else {
            return Credentials::Anonymous;
        };
        if value.contains(['\n', '\r']) {
            return Credentials::Anonymous;
        }
        let Some((scheme, rest)) = value.split_once(' ') else {
            return Credentials::Anonymous;
        };
        if rest.is_empty() {
            return Credentials::Anonymous;
        }
        match scheme {
            "Self" => self.subject(rest).map_or(Credentials::Anonymous, Credentials::Own),
            "Foreign" => {
                let Some((token, target)) = rest.split_once(' ') else {
                    return Credentials::Anonymous;
                };
                match (self.subject(token), parse_user_id(target)) {
                    (Some(sudoer), Some(target)) => Credentials::Foreign { sudoer, target },
                    _ => Credentials::Anonymous,
                }
            }
            _ => Credentials::Anonymous,
        }
    }
}

/// `[a-zA-Z]+:[0-9]+` with the number in i64 range, as a whole.
pub fn parse_user_id(text: &str) -> Option<UserId> {
    let (id_type, number) = text.split_once(':')?;
    let letters = !id_type.is_empty() && id_type.bytes().all(|b| b.is_ascii_alphabetic());
    let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    if !(letters && digits) {
        return None;
    }
    Some(UserId::new(id_type, number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "5F33s5tKIk3Mi517CbHdaY31yWh3AVk3515M4Tfz522R8A36d6";

    fn token(claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn self_and_foreign_headers() {
        let jwt = Jwt::new(SECRET);
        let admin = token(json!({"sub": "internal:1", "iat": 1516239022}));
        assert_eq!(
            jwt.credentials(Some(&format!("Self {admin}"))),
            Credentials::Own(UserId::new("internal", 1))
        );
        assert_eq!(
            jwt.credentials(Some(&format!("Foreign {admin} notKnown:1"))),
            Credentials::Foreign {
                sudoer: UserId::new("internal", 1),
                target: UserId::new("notKnown", 1)
            }
        );
        for bad in [
            format!("Self {admin} test:123"),
            format!("Foreign {admin}"),
            format!("Foreign {admin} a:1 "),
            format!("Self  {admin}"),
            format!("SpongeBob {admin}"),
            admin.clone(),
            String::new(),
            format!("Self {}", token(json!({"sub": "wrong_format"}))),
            format!("Self {}", token(json!({"sub": "a:1", "exp": 1}))),
            format!("Self {}", token(json!({"iat": 1}))),
        ] {
            assert_eq!(jwt.credentials(Some(&bad)), Credentials::Anonymous, "{bad}");
        }
    }

    #[test]
    fn user_ids_from_tokens() {
        assert_eq!(parse_user_id("testuser:2"), Some(UserId::new("testuser", 2)));
        assert_eq!(parse_user_id("test_user:2"), None);
        assert_eq!(parse_user_id("testuser2"), None);
        assert_eq!(parse_user_id("a:-1"), None);
        assert_eq!(parse_user_id("a:9223372036854775808"), None);
    }
}
