//! The Devmarkt test rig: a QA-mode `stummel serve` on a free port, the QA
//! keys of the reference's suite, and a GraphQL client.

use crate::support::{mongo_uri_for, MongoDb, Service};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;

pub const SECRET: &str = "5F33s5tKIk3Mi517CbHdaY31yWh3AVk3515M4Tfz522R8A36d6";

/// A token as the QA key files hold them: `{"alg":"HS256"}`, `sub`, `iat`.
pub fn token(sub: &str) -> String {
    let header = Header::new(Algorithm::HS256);
    encode(
        &header,
        &json!({"sub": sub, "iat": 1516239022}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn own(sub: &str) -> String {
    format!("Self {}", token(sub))
}

pub fn foreign(sudoer: &str, target: &str) -> String {
    format!("Foreign {} {target}", token(sudoer))
}

/// The QA keys (spec 8.6).
pub fn admin() -> String {
    own("internal:1")
}
pub fn user() -> String {
    own("testuser:2")
}
/// `testuser:1`, role NONE, owner of applications 1–3.
pub fn no_role() -> String {
    own("testuser:1")
}
pub fn user3() -> String {
    own("testuser:3")
}
pub fn foreign_admin() -> String {
    foreign("internal:1", "internal:1")
}

tokio::task_local! {
    /// MONGO_URI of the case being run on MongoDB (unset: embedded).
    static MONGO_URI: String;
}

/// Runs `case` with every service it starts (and [`backend_env`]) on one
/// fresh database of the MongoDB test server, dropped afterwards.
pub async fn on_mongodb(case: impl std::future::Future<Output = ()>) {
    let mongo = MongoDb::fresh().await;
    MONGO_URI.scope(mongo_uri_for(&mongo), case).await;
    mongo.drop_database().await;
}

/// What a process needs in its environment to use the case's backend
/// (for the CLI; [`Devmarkt::start_in`] adds it by itself).
pub fn backend_env() -> Vec<(&'static str, String)> {
    MONGO_URI
        .try_with(|uri| vec![("MONGO_URI", uri.clone())])
        .unwrap_or_default()
}

pub struct Devmarkt {
    pub service: Service,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Devmarkt {
    /// A fresh QA-mode service on its own data directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut devmarkt = Self::start_in(dir.path(), &[("DEVMARKT_QA", "true")]);
        devmarkt._dir = Some(dir);
        devmarkt.seed().await;
        devmarkt
    }

    pub fn start_in(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let backend = backend_env();
        let mut all = vec![("DEVMARKT_JWT_SECRET", SECRET)];
        all.extend(backend.iter().map(|(k, v)| (*k, v.as_str())));
        all.extend_from_slice(env);
        Self {
            service: Service::start(dir, &all),
            http: client(),
            _dir: None,
        }
    }

    pub async fn seed(&self) {
        let response = self
            .http
            .post(self.service.url("/qa/seedDatabase"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "");
    }

    /// POSTs a GraphQL request as the QA harness does; asserts HTTP 200.
    pub async fn gql(&self, auth: &str, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(self.service.url("/graphql"))
            .header("Authorization", auth)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        response.json().await.unwrap()
    }

    /// `data` of a request that must succeed without errors.
    pub async fn data(&self, auth: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(auth, query, variables).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }
}

pub fn unauthorized(field: &str) -> Value {
    json!({
        "errors": [{"message": "No or invalid authentication found.", "extensions": {"classification": "UNAUTHORIZED"}}],
        "data": {field: null}
    })
}

pub fn forbidden(parent: &str, field: &str) -> Value {
    json!({
        "errors": [{
            "message": format!("You're forbidden to use '{parent}' @ '{field}'."),
            "extensions": {"classification": "FORBIDDEN"}
        }],
        "data": {field: null}
    })
}

pub fn failure(errors: Value) -> Value {
    json!({"__typename": "Failure", "errors": errors})
}

pub fn code(code: &str) -> Value {
    json!({"code": code, "data": null})
}

/// Selection of a `Failure` (and `__typename`) inside a response union.
pub const FAILURE: &str = "__typename ... on Failure { errors { code data { \
    ... on NumberTemplateErrorData { number } \
    ... on NumberApplicationErrorData { number } \
    ... on AnswerTooShortApplicationErrorData { answerLength minimumLength number } \
    ... on TooLargeErrorData { size } } } }";

pub const APPLICATION: &str = "id processTime status user { id { type number } role } \
    template { name questions { number question multiline minAnswerLength } } \
    answers { number answer question { number question } }";
