//! Black-box tests of the Kippenstummel API: the real binary on a real
//! port, a private redis-server for captchas and transfer tokens, the
//! embedded store (and MongoDB when STUMMEL_TEST_MONGO_URI is set).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const IDENT_SECRET: &str = "test-ident-secret-0123456789";
const JWT_SECRET: &str = "test-admin-secret-0123456789";

struct Api {
    service: Service,
    /// What the service was started with, for a restart.
    env: Vec<(String, String)>,
    redis: RedisServer,
    http: reqwest::Client,
    mongo: Option<(MongoDb, String)>,
    _dir: tempfile::TempDir,
}

impl Api {
    /// The service on the embedded store, with a private Redis.
    fn start() -> Self {
        Self::start_with(None, &[])
    }

    /// The service on a fresh database of the MongoDB test server, with a private Redis.
    async fn start_on_mongo() -> Self {
        let mongo = MongoDb::fresh().await;
        let uri = mongo_uri_for(&mongo);
        Self::start_with(Some((mongo, uri)), &[])
    }

    fn start_with(mongo: Option<(MongoDb, String)>, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = RedisServer::start();
        let uri = redis.uri();
        let mut env = vec![
            ("REDIS_URI", uri.as_str()),
            ("IDENT_SECRET", IDENT_SECRET),
            ("JWT_SECRET", JWT_SECRET),
            // The tests log in far more often than a person; one test checks the limit.
            ("LOGIN_LIMIT_PER_MINUTE", "1000000"),
            ("CAPTCHA_LIMIT_PER_MINUTE", "1000000"),
        ];
        if let Some((_, mongo_uri)) = &mongo {
            env.push(("MONGO_URI", mongo_uri.as_str()));
        }
        env.extend_from_slice(extra);
        let service = Service::start(dir.path(), &env);
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            service,
            env,
            redis,
            http,
            mongo,
            _dir: dir,
        }
    }

    /// SIGKILLs the service and starts it again on the same stores.
    fn kill_and_restart(&mut self) {
        self.service.signal("KILL");
        self.service.wait(Duration::from_secs(10));
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.service = Service::start(self._dir.path(), &env);
    }

    /// Environment for running the CLI against the same stores.
    fn cli_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("DATA_DIR".to_owned(), self.data_dir().to_str().unwrap().to_owned()),
            ("REDIS_URI".to_owned(), self.redis.uri()),
        ];
        if let Some((_, uri)) = &self.mongo {
            env.push(("MONGO_URI".to_owned(), uri.clone()));
        }
        env
    }

    fn replay(&self) {
        let env = self.cli_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let replay = stummel(&["replay", "--all", "--quiet"], &env).output().unwrap();
        assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    }

    async fn events(&self) -> stummel::event_store::EventRepository {
        match &self.mongo {
            Some((mongo, _)) => mongo_events(mongo).await,
            None => embedded_events(self.data_dir()),
        }
    }

    async fn ident_store(&self) -> Box<dyn stummel::kippenstummel::idents::IdentStore> {
        match &self.mongo {
            Some((mongo, _)) => Box::new(
                stummel::kippenstummel::idents::MongoIdents::new(&mongo.db)
                    .await
                    .unwrap(),
            ),
            None => Box::new(stummel::kippenstummel::idents::SqliteIdents::open(self.data_dir()).unwrap()),
        }
    }

    /// Where `needle` is still stored: files of the data directory, or MongoDB collections.
    async fn traces_of(&self, needle: &str) -> Vec<String> {
        match &self.mongo {
            None => files_containing(self.data_dir(), needle),
            Some((mongo, _)) => {
                use futures_util::TryStreamExt;
                let mut found = Vec::new();
                for name in mongo.db.list_collection_names().await.unwrap() {
                    let docs: Vec<mongodb::bson::Document> = mongo
                        .db
                        .collection(&name)
                        .find(mongodb::bson::doc! {})
                        .await
                        .unwrap()
                        .try_collect()
                        .await
                        .unwrap();
                    if docs.iter().any(|d| format!("{d:?}").contains(needle)) {
                        found.push(name);
                    }
                }
                found
            }
        }
    }

    async fn finish(self) {
        if let Some((mongo, _)) = &self.mongo {
            mongo.drop_database().await;
        }
    }

    fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.service.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::GET, path, headers, None).await
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, headers, Some(body)).await
    }

    async fn patch(&self, path: &str, headers: &[(&str, &str)], body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, headers, Some(body)).await
    }

    /// A captcha of `scope` and its text, read from Redis by the documented key.
    async fn captcha(&self, scope: &str) -> (String, String) {
        let (status, body) = self.get(&format!("/api/v1/captcha?scope={scope}"), &[]).await;
        assert_eq!(status, 200, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        assert!(body["content"].as_str().unwrap().starts_with("data:image/png;base64,"));
        let client = redis::Client::open(self.redis.uri()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let raw: String = redis::cmd("GET")
            .arg(format!("captcha:{id}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("captcha:{id}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 300_000, "CAPTCHA_EXPIRES_IN: {ttl}");
        let stored: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(stored["value"]["scope"], scope);
        (id, stored["value"]["text"].as_str().unwrap().to_owned())
    }

    /// A new identity: (identity, secret, token).
    async fn identity(&self) -> (String, String, String) {
        let (id, text) = self.captcha("registration").await;
        let stamp = format!("{id}:{text}");
        let (status, body) = self.get("/api/v1/ident", &[("x-captcha", &stamp)]).await;
        assert_eq!(status, 200, "{body}");
        let identity = body["identity"].as_str().unwrap().to_owned();
        let secret = body["secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 128);
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/ident",
                &[],
                Some(json!({"identity": identity, "secret": secret})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["identity"], identity.as_str());
        (identity, secret, body["token"].as_str().unwrap().to_owned())
    }
}

/// One test per backend for a case `async fn <name>_on(api: &Api)`: the
/// embedded store, and a fresh MongoDB database when STUMMEL_TEST_MONGO_URI
/// is set (ignored otherwise).
macro_rules! on_both_backends {
    ($embedded:ident, $mongo:ident, $case:ident) => {
        #[tokio::test]
        async fn $embedded() {
            let api = Api::start();
            $case(&api).await;
        }

        #[tokio::test]
        #[ignore = "needs STUMMEL_TEST_MONGO_URI"]
        async fn $mongo() {
            let api = Api::start_on_mongo().await;
            $case(&api).await;
            api.finish().await;
        }
    };
}

fn admin_token() -> String {
    let claims = json!({"sub": "admin", "username": "admin"});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

fn assert_error(response: &(StatusCode, Value), status: u16, code: &str, message: &str) {
    assert_eq!(response.0.as_u16(), status, "{}", response.1);
    assert_eq!(response.1["code"], code, "{}", response.1);
    assert_eq!(response.1["message"], message, "{}", response.1);
    assert!(
        response.1["timestamp"].is_string() && response.1["path"].is_string(),
        "{}",
        response.1
    );
}

/// The files under `dir` that contain `needle`: to prove an identity left no trace.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

on_both_backends!(
    identity_flow_from_captcha_to_erasure,
    identity_flow_from_captcha_to_erasure_on_mongodb,
    identity_flow_from_captcha_to_erasure_on
);

async fn identity_flow_from_captcha_to_erasure_on(api: &Api) {
    let (identity, _secret, token) = api.identity().await;
    let me = api.get("/api/v1/ident/me", &[("x-ident", &token)]).await;
    assert_eq!(me.0, 200, "{}", me.1);
    let keys: Vec<&str> = me.1.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "identity",
            "credibility",
            "karma",
            "trusted",
            "lastActiveAt",
            "createdAt",
            "updatedAt"
        ]
    );
    assert_eq!(me.1["identity"], identity.as_str());
    assert_eq!(
        (me.1["credibility"].as_i64(), me.1["karma"].as_i64()),
        (Some(50), Some(100))
    );
    assert_eq!(me.1["trusted"], false);

    // Username: accepted (suffix assigned), profane rejected.
    let me_headers = [("x-ident", token.as_str())];
    let ok = api
        .patch("/api/v1/ident/me", &me_headers, json!({"username": "Kippen_Fan"}))
        .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert_eq!(ok.1, Value::Null, "empty body");
    let me = api.get("/api/v1/ident/me", &[("x-ident", &token)]).await.1;
    let display = me["displayName"].as_str().unwrap().to_owned();
    assert!(
        display.starts_with("Kippen_Fan#") && display.len() == "Kippen_Fan#1234".len(),
        "{display}"
    );
    let keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys[2], "displayName");
    let profane = api
        .patch("/api/v1/ident/me", &me_headers, json!({"username": "fuck3r"}))
        .await;
    assert_error(&profane, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(
        profane.1["details"],
        json!([{"property": "username", "constraint": "isCleanUsername", "message": "The username contains invalid terms."}])
    );
    let unchanged = api.get("/api/v1/ident/me", &[("x-ident", &token)]).await.1;
    assert_eq!(
        unchanged["displayName"],
        display.as_str(),
        "a rejected change writes nothing"
    );

    // Duplicate (username, suffix) → 409: another identity already holds
    // "Taken_Name" with our suffix (written straight into the store).
    let suffix = display.rsplit('#').next().unwrap().to_owned();
    let store = api.ident_store().await;
    let now = chrono::Utc::now();
    store
        .insert(&stummel::kippenstummel::idents::IdentDoc {
            identity: uuid::Uuid::new_v4().to_string(),
            secret_hash: "x".into(),
            reference: "other-reference".into(),
            username: Some("Taken_Name".into()),
            suffix: Some(suffix.clone()),
            trusted: false,
            last_active_at: now,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let taken = api
        .patch("/api/v1/ident/me", &me_headers, json!({"username": "Taken_Name"}))
        .await;
    assert_error(&taken, 409, "USERNAME_ALREADY_EXISTS_ERROR", "Username already exists");
    let cleared = api
        .patch("/api/v1/ident/me", &me_headers, json!({"username": null}))
        .await;
    assert_eq!(cleared.0, 200);
    assert!(api
        .get("/api/v1/ident/me", &[("x-ident", &token)])
        .await
        .1
        .get("displayName")
        .is_none());

    // Transfer: request with ident + transfer captcha, redeem once.
    let (id, text) = api.captcha("transfer").await;
    let stamp = format!("{id}:{text}");
    let body = json!({"identity": identity, "encryptedSecret": "opaque-blob"});
    let created = api
        .call(
            Method::POST,
            "/api/v1/ident/transfer",
            &[("x-ident", &token), ("x-captcha", &stamp)],
            Some(body),
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["identity"], identity.as_str());
    let transfer = created.1["token"].as_str().unwrap().to_owned();
    assert_eq!(transfer.len(), 32);
    let first = api.get(&format!("/api/v1/ident/transfer/{transfer}"), &[]).await;
    assert_eq!(first.0, 200);
    assert_eq!(first.1, json!({"identity": identity, "encryptedSecret": "opaque-blob"}));
    let second = api.get(&format!("/api/v1/ident/transfer/{transfer}"), &[]).await;
    assert_error(
        &second,
        409,
        "TRANSFER_TOKEN_ALREADY_USED_ERROR",
        "Transfer token has already been used",
    );

    // Leaderboard: both identities (karma 100), oldest first.
    let (second_identity, _, _) = api.identity().await;
    let board = eventually(Duration::from_secs(10), || async {
        let board = api.get("/api/v1/ident/leaderboard?perPage=10", &[]).await.1;
        (board["info"]["totalElements"] == 2).then_some(board)
    })
    .await;
    assert_eq!(board["content"][0]["identity"], identity.as_str());
    assert_eq!(board["content"][0]["karma"], 100);
    assert_eq!(board["content"][1]["identity"], second_identity.as_str());
    assert_eq!(
        board["info"],
        json!({"page": 0, "perPage": 10, "totalElements": 2, "totalPages": 1})
    );
    let karma = api.get("/api/v1/karma/me", &[("x-ident", &token)]).await;
    assert_eq!(
        karma.1,
        json!({"content": [], "info": {"page": 0, "perPage": 25, "totalElements": 0, "totalPages": 0}})
    );

    // Erase through the KMC: the token stops working, the identity is gone.
    let auth = format!("Bearer {}", admin_token());
    let kmc = api
        .get(&format!("/api/v1/kmc/ident/{identity}"), &[("Authorization", &auth)])
        .await;
    assert_eq!(kmc.0, 200, "{}", kmc.1);
    let deleted = api
        .call(
            Method::DELETE,
            &format!("/api/v1/kmc/ident/{identity}"),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(deleted.0, 200, "{}", deleted.1);
    let after = api.get("/api/v1/ident/me", &[("x-ident", &token)]).await;
    assert_error(&after, 401, "UNKNOWN_IDENTITY_ERROR", "Unknown identity");
    let kmc = api
        .get(&format!("/api/v1/kmc/ident/{identity}"), &[("Authorization", &auth)])
        .await;
    assert_error(&kmc, 404, "NOT_FOUND_ERROR", "Resource not found");
    let board = eventually(Duration::from_secs(10), || async {
        let board = api.get("/api/v1/ident/leaderboard", &[]).await.1;
        (board["info"]["totalElements"] == 1).then_some(board)
    })
    .await;
    assert_eq!(board["content"][0]["identity"], second_identity.as_str());

    // A full replay rebuilds every read model; nothing anywhere names the identity.
    api.replay();
    let board = api.get("/api/v1/ident/leaderboard", &[]).await.1;
    assert_eq!(board["info"]["totalElements"], 1);
    assert!(!board.to_string().contains(&identity));
    assert!(
        !api.traces_of(&second_identity).await.is_empty(),
        "the scan can find identities"
    );
    let traces = api.traces_of(&identity).await;
    assert!(traces.is_empty(), "the erased identity is still stored in {traces:?}");
}

on_both_backends!(
    simultaneous_transfer_redemptions_succeed_exactly_once,
    simultaneous_transfer_redemptions_succeed_exactly_once_on_mongodb,
    simultaneous_transfer_redemptions_succeed_exactly_once_on
);

async fn simultaneous_transfer_redemptions_succeed_exactly_once_on(api: &Api) {
    let (identity, _, token) = api.identity().await;
    for _ in 0..3 {
        let (id, text) = api.captcha("transfer").await;
        let stamp = format!("{id}:{text}");
        let body = json!({"identity": identity, "encryptedSecret": "blob"});
        let created = api
            .call(
                Method::POST,
                "/api/v1/ident/transfer",
                &[("x-ident", &token), ("x-captcha", &stamp)],
                Some(body),
            )
            .await;
        let transfer = created.1["token"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/ident/transfer/{transfer}");
        let attempts: Vec<_> = (0..6).map(|_| api.get(&path, &[])).collect();
        let results = futures_util::future::join_all(attempts).await;
        let ok = results.iter().filter(|r| r.0 == 200).count();
        let used = results.iter().filter(|r| r.0 == 409).count();
        assert_eq!((ok, used), (1, 5), "{results:?}");
    }
}

#[tokio::test]
async fn every_error_path_of_the_identity_endpoints() {
    let api = Api::start();
    let (identity, secret, token) = api.identity().await;

    // Captcha scope (4.1).
    let bad_scope = json!([{"property": "scope", "constraint": "isEnum", "message": "scope must be one of the following values: "}]);
    for path in ["/api/v1/captcha", "/api/v1/captcha?scope=login"] {
        let response = api.get(path, &[]).await;
        assert_error(&response, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
        assert_eq!(response.1["details"], bad_scope);
    }

    // Captcha stamp (3.2).
    let no_stamp = api.get("/api/v1/ident", &[]).await;
    assert_error(&no_stamp, 403, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp");
    for malformed in ["abc", ":abc", "abc:"] {
        let response = api.get("/api/v1/ident", &[("x-captcha", malformed)]).await;
        assert_error(
            &response,
            403,
            "MALFORMED_CAPTCHA_STAMP_ERROR",
            "Malformed Captcha stamp",
        );
    }
    let (id, text) = api.captcha("transfer").await;
    let wrong_scope = api
        .get("/api/v1/ident", &[("x-captcha", &format!("{id}:{text}"))])
        .await;
    assert_error(
        &wrong_scope,
        403,
        "INVALID_CAPTCHA_STAMP_ERROR",
        "Invalid Captcha stamp",
    );
    let (id, text) = api.captcha("registration").await;
    for _ in 0..3 {
        let wrong = api
            .get("/api/v1/ident", &[("x-captcha", &format!("{id}:zzzzzz"))])
            .await;
        assert_error(&wrong, 403, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp");
    }
    let dead = api
        .get("/api/v1/ident", &[("x-captcha", &format!("{id}:{text}"))])
        .await;
    assert_error(&dead, 403, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp");
    let (id, text) = api.captcha("registration").await;
    let stamp = format!("{id}:{text}");
    assert_eq!(api.get("/api/v1/ident", &[("x-captcha", &stamp)]).await.0, 200);
    let reused = api.get("/api/v1/ident", &[("x-captcha", &stamp)]).await;
    assert_error(&reused, 403, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp");

    // Credentials (4.3).
    let missing = api.post("/api/v1/ident", &[], json!({})).await;
    assert_error(&missing, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(
        missing.1["details"],
        json!([
            {"property": "identity", "constraint": "isDefined", "message": "identity should not be null or undefined"},
            {"property": "secret", "constraint": "isDefined", "message": "secret should not be null or undefined"}
        ])
    );
    let typed = api
        .post("/api/v1/ident", &[], json!({"identity": "not-a-uuid", "secret": 5}))
        .await;
    assert_eq!(
        typed.1["details"],
        json!([
            {"property": "identity", "constraint": "isUuid", "message": "identity must be a UUID"},
            {"property": "secret", "constraint": "isString", "message": "secret must be a string"}
        ])
    );
    let unknown = api
        .post(
            "/api/v1/ident",
            &[],
            json!({"identity": uuid::Uuid::new_v4(), "secret": secret}),
        )
        .await;
    assert_error(&unknown, 401, "UNKNOWN_IDENTITY_ERROR", "Unknown identity");
    let wrong_secret = api
        .post("/api/v1/ident", &[], json!({"identity": identity, "secret": "nope"}))
        .await;
    assert_error(&wrong_secret, 401, "UNKNOWN_IDENTITY_ERROR", "Unknown identity");
    let malformed = api
        .http
        .post(api.service.url("/api/v1/ident"))
        .header("content-type", "application/json")
        .body("{\"identity\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 422);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["code"],
        "INVALID_PAYLOAD_ERROR"
    );
    let huge = json!({"identity": identity, "secret": "x".repeat(200 * 1024)});
    let too_large = api.post("/api/v1/ident", &[], huge).await;
    assert_error(&too_large, 413, "PAYLOAD_TOO_LARGE_ERROR", "Request body too large");

    // Ident token (3.1).
    let no_token = api.get("/api/v1/ident/me", &[]).await;
    assert_error(&no_token, 401, "INVALID_IDENT_TOKEN_ERROR", "Invalid ident token");
    let garbage = api.get("/api/v1/ident/me", &[("x-ident", "garbage")]).await;
    assert_error(&garbage, 401, "INVALID_IDENT_TOKEN_ERROR", "Invalid ident token");
    let sign = |claims: Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let expired = sign(
        json!({"identity": identity, "iat": now - 100, "exp": now - 10}),
        IDENT_SECRET,
    );
    assert_error(
        &api.get("/api/v1/ident/me", &[("x-ident", &expired)]).await,
        401,
        "INVALID_IDENT_TOKEN_ERROR",
        "Invalid ident token",
    );
    let forged = sign(
        json!({"identity": identity, "iat": now, "exp": now + 100}),
        "another-secret",
    );
    assert_error(
        &api.get("/api/v1/ident/me", &[("x-ident", &forged)]).await,
        401,
        "INVALID_IDENT_TOKEN_ERROR",
        "Invalid ident token",
    );
    let stranger = sign(
        json!({"identity": uuid::Uuid::new_v4(), "iat": now, "exp": now + 100}),
        IDENT_SECRET,
    );
    assert_error(
        &api.get("/api/v1/ident/me", &[("x-ident", &stranger)]).await,
        401,
        "UNKNOWN_IDENTITY_ERROR",
        "Unknown identity",
    );
    assert_error(
        &api.get("/api/v1/karma/me", &[]).await,
        401,
        "INVALID_IDENT_TOKEN_ERROR",
        "Invalid ident token",
    );

    // Username rules (4.5).
    for (name, constraint) in [
        (json!("ab"), "matches"),
        (json!("1abc"), "matches"),
        (json!(42), "isCleanUsername"),
    ] {
        let response = api
            .patch("/api/v1/ident/me", &[("x-ident", &token)], json!({"username": name}))
            .await;
        assert_error(&response, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
        assert_eq!(response.1["details"][0]["constraint"], constraint, "{name}");
    }
    let unauthenticated = api
        .patch("/api/v1/ident/me", &[], json!({"username": "valid_name"}))
        .await;
    assert_error(
        &unauthenticated,
        401,
        "INVALID_IDENT_TOKEN_ERROR",
        "Invalid ident token",
    );

    // Transfer (4.6, 4.7): guards first, then the body.
    let body = json!({"identity": identity, "encryptedSecret": "blob"});
    let no_ident = api.post("/api/v1/ident/transfer", &[], body.clone()).await;
    assert_error(&no_ident, 401, "INVALID_IDENT_TOKEN_ERROR", "Invalid ident token");
    let no_captcha = api
        .post("/api/v1/ident/transfer", &[("x-ident", &token)], body.clone())
        .await;
    assert_error(&no_captcha, 403, "INVALID_CAPTCHA_STAMP_ERROR", "Invalid Captcha stamp");
    let (id, text) = api.captcha("transfer").await;
    let stamp = format!("{id}:{text}");
    let invalid = api
        .post(
            "/api/v1/ident/transfer",
            &[("x-ident", &token), ("x-captcha", &stamp)],
            json!({"identity": "x"}),
        )
        .await;
    assert_error(&invalid, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(invalid.1["details"][1]["property"], "encryptedSecret");
    let unknown = api
        .get("/api/v1/ident/transfer/0123456789abcdef0123456789abcdef", &[])
        .await;
    assert_error(&unknown, 404, "NOT_FOUND_ERROR", "Resource not found");
    let mut throttled = None;
    for _ in 0..25 {
        let response = api.get("/api/v1/ident/transfer/guess", &[]).await;
        if response.0 == 429 {
            throttled = Some(response);
            break;
        }
    }
    assert_error(
        &throttled.expect("redemption is rate-limited"),
        429,
        "THROTTLED_ERROR",
        "The action was throttled",
    );

    // Paging (4.8).
    let per_page = api.get("/api/v1/ident/leaderboard?perPage=51&page=-1", &[]).await;
    assert_error(&per_page, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(per_page.1["details"].as_array().unwrap().len(), 2);

    // KMC (3.3, 5.2).
    let auth = format!("Bearer {}", admin_token());
    assert_error(
        &api.get("/api/v1/kmc/ident", &[]).await,
        401,
        "UNAUTHENTICATED_ERROR",
        "Unauthenticated request",
    );
    let user_token = format!("Bearer {token}");
    assert_error(
        &api.get("/api/v1/kmc/ident", &[("Authorization", &user_token)]).await,
        401,
        "UNAUTHENTICATED_ERROR",
        "Unauthenticated request",
    );
    let listed = api.get("/api/v1/kmc/ident", &[("Authorization", &auth)]).await;
    assert_eq!(listed.0, 200);
    let keys: Vec<&str> = listed.1["content"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "identity",
            "createdAt",
            "updatedAt",
            "lastActiveAt",
            "credibility",
            "karma",
            "trusted"
        ]
    );
    let missing = api
        .get(
            &format!("/api/v1/kmc/ident/{}", uuid::Uuid::new_v4()),
            &[("Authorization", &auth)],
        )
        .await;
    assert_error(&missing, 404, "NOT_FOUND_ERROR", "Resource not found");
    let admin = [("Authorization", auth.as_str())];
    let kmc_path = format!("/api/v1/kmc/ident/{identity}");
    let not_bool = api.patch(&kmc_path, &admin, json!({"trusted": "yes"})).await;
    assert_error(&not_bool, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(not_bool.1["details"][0]["constraint"], "isBoolean");
    let unknown_path = format!("/api/v1/kmc/ident/{}", uuid::Uuid::new_v4());
    let unknown_patch = api.patch(&unknown_path, &admin, json!({"trusted": true})).await;
    assert_error(&unknown_patch, 404, "NOT_FOUND_ERROR", "Resource not found");
    assert_eq!(api.patch(&kmc_path, &admin, json!({"trusted": true})).await.0, 200);
    assert_eq!(
        api.get("/api/v1/ident/me", &[("x-ident", &token)]).await.1["trusted"],
        true
    );
    let delete_unknown = api
        .call(
            Method::DELETE,
            &format!("/api/v1/kmc/ident/{}", uuid::Uuid::new_v4()),
            &[("Authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(delete_unknown.0, 200);
}

/// Karma and credibility are projections of the ident and CVM events: this
/// drives the real command path and projector runtime on the embedded stores.
#[tokio::test]
async fn karma_and_credibility_follow_the_cvm_events_and_survive_a_rebuild() {
    use aggregates::kippenstummel::cvm::{Cvm, CvmCommand, ReportType, VoteOrigin};
    use aggregates::kippenstummel::geo::Position;
    use aggregates::kippenstummel::ident::{Ident, IdentCommand};
    use projections::kippenstummel::{credibility, karma};
    use projections::{Namespace, Projector, ProjectorConfig, ReadStore};
    use std::sync::Arc;
    use stummel::event_store::{CommandBus, CommandMetadata};
    use stummel::metrics::Metrics;

    let dir = tempfile::tempdir().unwrap();
    let repo = embedded_events(dir.path());
    let store: Arc<dyn ReadStore> = Arc::new(embedded_reads(dir.path()));
    let idents = CommandBus::<Ident>::new(repo.clone(), 0, 5, (), Metrics::new());
    let cvms = CommandBus::<Cvm>::new(repo.clone(), 0, 5, (), Metrics::new());
    let t0: chrono::DateTime<chrono::Utc> = "2026-11-01T10:00:00Z".parse().unwrap();
    let at = |minutes: i64| t0 + chrono::Duration::minutes(minutes);
    let meta = |actor: &str, minutes: i64| CommandMetadata::new("test", Some(actor.into()), at(minutes));
    for (reference, minutes) in [("ref-a", 0), ("ref-b", 1), ("ref-c", 2)] {
        idents
            .execute(
                reference,
                IdentCommand::Register { issued_at: at(minutes) },
                &meta(reference, minutes),
            )
            .await
            .unwrap();
    }
    let here = Position::new(8.40395, 49.0092);
    let cvm = "0d6f0c62-4a67-4a3c-9a4e-1f2a3b4c5d6e";
    let register = CvmCommand::Register {
        cvm_id: cvm.into(),
        position: here,
        creator: "ref-a".into(),
        throttled: false,
    };
    cvms.execute(cvm, register, &meta("ref-a", 10)).await.unwrap();
    let upvote = CvmCommand::Upvote {
        voter: "ref-b".into(),
        origin: VoteOrigin::At(here),
        now: at(20),
    };
    cvms.execute(cvm, upvote, &meta("ref-b", 20)).await.unwrap();
    let own = CvmCommand::Downvote {
        voter: "ref-a".into(),
        voter_position: here,
        now: at(30),
    };
    cvms.execute(cvm, own, &meta("ref-a", 30)).await.unwrap();
    let report = CvmCommand::Report {
        reporter: "ref-c".into(),
        reporter_position: here,
        report_type: ReportType::Spam,
        now: at(40),
    };
    cvms.execute(cvm, report, &meta("ref-c", 40)).await.unwrap();
    let stranger = CvmCommand::Upvote {
        voter: "ref-unknown".into(),
        origin: VoteOrigin::At(here),
        now: at(50),
    };
    cvms.execute(cvm, stranger, &meta("ref-unknown", 50)).await.unwrap();
    idents
        .execute("ref-c", IdentCommand::Erase, &meta("ref-c", 60))
        .await
        .unwrap();

    let build = |projection: Arc<dyn projections::Projection>| {
        Projector::new(
            projection,
            store.clone(),
            Arc::new(repo.clone()),
            ProjectorConfig::default(),
        )
    };
    let karma_projector = build(Arc::new(karma::Karma));
    let credibility_projector = build(Arc::new(credibility::Credibility));
    karma_projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    credibility_projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();

    let active = |name: &'static str| {
        let store = store.clone();
        async move { Namespace::new(name, store.active(name).await.unwrap().unwrap().generation) }
    };
    let ns = active(karma::NAME).await;
    let doc = |r: &'static str| {
        let (store, ns) = (store.clone(), ns.clone());
        async move { store.get_doc(&ns, karma::KARMA, r).await.unwrap() }
    };
    let a = doc("ref-a").await.unwrap();
    // +5 registration, +15 upvote received, 0 for the own downvote (both sides), 0 report received.
    assert_eq!(a["amount"], 100 + 5 + 15 + 15);
    let types: Vec<&str> = a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "registration",
            "upvote_received",
            "downvote_cast",
            "downvote_received",
            "report_received",
            "upvote_received"
        ]
    );
    assert_eq!(a["history"][2]["delta"], 0, "self-interaction");
    assert_eq!(a["history"][0]["occurredAt"], "2026-11-01T10:10:00.000Z");
    assert_eq!(a["history"][0]["cvmId"], cvm);
    assert_eq!(doc("ref-b").await.unwrap()["amount"], 102);
    assert!(doc("ref-c").await.is_none(), "erased");
    assert!(
        doc("ref-unknown").await.is_none(),
        "no karma documents for unknown identities"
    );
    let board = store.zrange_asc(&ns, karma::LEADERBOARD, 0, 10).await.unwrap();
    assert_eq!(board, vec![("ref-a".to_owned(), -135.0), ("ref-b".to_owned(), -102.0)]);

    let cns = active(credibility::NAME).await;
    let b = store
        .get_doc(&cns, credibility::CREDIBILITY, "ref-b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b["behaviour"]["voting"]["totalCount"], 1);
    assert_eq!(b["behaviour"]["voting"]["upvoteCount"], 1);
    let a_credibility = store
        .get_doc(&cns, credibility::CREDIBILITY, "ref-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_credibility["behaviour"]["registration"]["totalCount"], 1);
    assert_eq!(a_credibility["behaviour"]["voting"]["downvoteCount"], 1);
    assert!(store
        .get_doc(&cns, credibility::CREDIBILITY, "ref-c")
        .await
        .unwrap()
        .is_none());

    // Replays give exactly the same models (event times, not the wall clock).
    let karma_before = store.list_docs(&ns, karma::KARMA).await.unwrap();
    let credibility_before = store.list_docs(&cns, credibility::CREDIBILITY).await.unwrap();
    karma_projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    credibility_projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    assert_eq!(
        store.list_docs(&active(karma::NAME).await, karma::KARMA).await.unwrap(),
        karma_before
    );
    assert_eq!(
        store
            .list_docs(&active(credibility::NAME).await, credibility::CREDIBILITY)
            .await
            .unwrap(),
        credibility_before
    );
}

async fn score_of(api: &Api, id: &str) -> i64 {
    api.get(&format!("/api/v1/cvms/{id}"), &[]).await.1["score"]
        .as_i64()
        .unwrap_or(i64::MIN)
}

/// Responses of the read endpoints, to compare before and after a replay.
async fn machine_views(api: &Api, id: &str, token: &str) -> Vec<Value> {
    let mut views = Vec::new();
    for path in [
        format!("/api/v1/cvms/{id}"),
        "/api/v1/cvms?perPage=50".to_owned(),
        "/api/v1/cvms/within?bottomLeft=48.9,8.3&topRight=49.1,8.5&zoom=12".to_owned(),
        "/api/v1/cvms/within?bottomLeft=48.0,7.0&topRight=50.0,9.5&zoom=8".to_owned(),
        "/api/v1/cvms/within?bottomLeft=49.005,8.40&topRight=49.013,8.408&zoom=18".to_owned(),
    ] {
        let (status, body) = api.get(&path, &[("x-ident", token)]).await;
        views.push(json!({"path": path, "status": status.as_u16(), "body": body}));
    }
    views
}

on_both_backends!(
    machine_flow_from_registration_to_removal_and_replay,
    machine_flow_from_registration_to_removal_and_replay_on_mongodb,
    machine_flow_from_registration_to_removal_and_replay_on
);

async fn machine_flow_from_registration_to_removal_and_replay_on(api: &Api) {
    let (_, _, alice) = api.identity().await;
    let (_, _, bob) = api.identity().await;
    let auth = format!("Bearer {}", admin_token());
    let here = json!({"longitude": 8.40395, "latitude": 49.0092});

    let created = api.post("/api/v1/cvms", &[("x-ident", &alice)], here.clone()).await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1, Value::Null);
    let list = eventually(Duration::from_secs(10), || async {
        let list = api.get("/api/v1/cvms", &[]).await.1;
        (list["info"]["totalElements"] == 1).then_some(list)
    })
    .await;
    let machine = list["content"][0].clone();
    let id = machine["id"].as_str().unwrap().to_owned();
    let keys: Vec<&str> = machine.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "longitude",
            "latitude",
            "score",
            "imported",
            "recentlyReported",
            "createdAt",
            "updatedAt"
        ]
    );
    assert_eq!(
        (machine["score"].as_i64(), machine["imported"].as_bool()),
        (Some(0), Some(false))
    );

    // The map: a one-element cluster below zoom 12, the machine itself from 12 on.
    let (api_ref, bob_ref) = (api, bob.as_str());
    let within = move |zoom: u8, bl: &str, tr: &str| {
        let path = format!("/api/v1/cvms/within?bottomLeft={bl}&topRight={tr}&zoom={zoom}");
        async move { api_ref.get(&path, &[("x-ident", bob_ref)]).await }
    };
    let z8 = eventually(Duration::from_secs(10), || async {
        let r = within(8, "48.0,7.0", "50.0,9.5").await;
        (r.1.as_array().is_some_and(|a| !a.is_empty())).then_some(r)
    })
    .await;
    assert_eq!(
        z8.1,
        json!([{"cluster": true, "longitude": 8.40395, "latitude": 49.0092, "count": 1}])
    );
    let z12 = within(12, "48.9,8.3", "49.1,8.5").await.1;
    assert_eq!(z12[0]["id"], id.as_str());
    let z18 = within(18, "49.005,8.40", "49.013,8.408").await.1;
    assert_eq!(z18[0]["id"], id.as_str());
    let too_big = within(18, "48.0,7.0", "50.0,9.5").await;
    assert_error(&too_big, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(too_big.1["details"][0]["constraint"], "IsBBoxValid");

    // A second registration within 50 m is an upvote of the same machine.
    let near = json!({"longitude": 8.4042, "latitude": 49.0093});
    assert_eq!(
        api.post("/api/v1/cvms", &[("x-ident", &bob)], near.clone()).await.0,
        201
    );
    eventually(Duration::from_secs(10), || async {
        (score_of(api, &id).await == 1).then_some(())
    })
    .await;
    // Voting again within 7 days is ignored (201, nothing changes).
    let again = api
        .post(&format!("/api/v1/cvms/{id}/upvote"), &[("x-ident", &bob)], near.clone())
        .await;
    assert_eq!(again.0, 201);
    let seen = api.get(&format!("/api/v1/cvms/{id}"), &[("x-ident", &bob)]).await.1;
    assert_eq!(seen["score"], 1);
    assert_eq!(seen["alreadyVoted"], "upvote");
    let far = json!({"longitude": 8.42, "latitude": 49.02});
    let out_of_reach = api
        .post(
            &format!("/api/v1/cvms/{id}/downvote"),
            &[("x-ident", &alice)],
            far.clone(),
        )
        .await;
    assert_error(&out_of_reach, 403, "OUT_OF_REACH_ERROR", "Out of reach");

    // Report, then reposition within 25 m, then too far.
    let report = json!({"longitude": 8.40395, "latitude": 49.0092, "type": "spam"});
    assert_eq!(
        api.post(&format!("/api/v1/cvms/{id}/report"), &[("x-ident", &bob)], report)
            .await
            .0,
        201
    );
    eventually(Duration::from_secs(10), || async {
        let m = api.get(&format!("/api/v1/cvms/{id}"), &[]).await.1;
        (m["recentlyReported"]["spam"] == 1).then_some(())
    })
    .await;
    let moved = json!({"repositionedLongitude": 8.4041, "repositionedLatitude": 49.0093,
        "editorLongitude": 8.40395, "editorLatitude": 49.0092});
    let repositioned = api
        .patch(&format!("/api/v1/cvms/{id}"), &[("x-ident", &alice)], moved)
        .await;
    assert_eq!(repositioned.0, 200, "{}", repositioned.1);
    let too_far = json!({"repositionedLongitude": 8.4060, "repositionedLatitude": 49.0093,
        "editorLongitude": 8.4041, "editorLatitude": 49.0093});
    let conflict = api
        .patch(&format!("/api/v1/cvms/{id}"), &[("x-ident", &alice)], too_far)
        .await;
    assert_error(&conflict, 409, "ALTERATION_CONFLICT_ERROR", "Alteration conflict");
    // Both read models (documents and map tiles) show the new position.
    eventually(Duration::from_secs(10), || async {
        let views = machine_views(api, &id, &bob).await;
        let moved = views[0]["body"]["longitude"] == 8.4041 && views[4]["body"][0]["longitude"] == 8.4041;
        moved.then_some(())
    })
    .await;

    // Replay: every read endpoint answers the same before and after.
    let before = machine_views(api, &id, &bob).await;
    api.replay();
    assert_eq!(machine_views(api, &id, &bob).await, before);

    // KMC removal: gone everywhere, no ghost on the map.
    let admin = [("Authorization", auth.as_str())];
    assert_eq!(api.get(&format!("/api/v1/kmc/cvms/{id}"), &admin).await.0, 200);
    let removed = api
        .call(Method::DELETE, &format!("/api/v1/kmc/cvms/{id}"), &admin, None)
        .await;
    assert_eq!(removed.0, 200, "{}", removed.1);
    let again = api
        .call(Method::DELETE, &format!("/api/v1/kmc/cvms/{id}"), &admin, None)
        .await;
    assert_error(&again, 404, "NOT_FOUND_ERROR", "Resource not found");
    eventually(Duration::from_secs(10), || async {
        let gone = api.get(&format!("/api/v1/cvms/{id}"), &[]).await.0 == 404;
        let maps: Vec<Value> = machine_views(api, &id, &bob).await;
        let empty = maps[2..].iter().all(|m| m["body"] == json!([]));
        (gone && empty).then_some(())
    })
    .await;
}

on_both_backends!(
    racing_registrations_within_50_m_create_exactly_one_machine,
    racing_registrations_within_50_m_create_exactly_one_machine_on_mongodb,
    racing_registrations_within_50_m_create_exactly_one_machine_on
);

async fn racing_registrations_within_50_m_create_exactly_one_machine_on(api: &Api) {
    let mut tokens = Vec::new();
    for _ in 0..50 {
        tokens.push(api.identity().await.2);
    }
    let attempts = tokens.iter().enumerate().map(|(i, token)| {
        // Spread over ~40 m, across geohash cell borders.
        let body =
            json!({"longitude": 8.40395 + (i % 10) as f64 * 0.00004, "latitude": 49.0092 + (i / 10) as f64 * 0.00004});
        async move { api.post("/api/v1/cvms", &[("x-ident", token)], body).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    assert!(
        results.iter().all(|r| r.0 == 201 || r.0 == 429 || r.0 == 409),
        "{results:?}"
    );
    let list = eventually(Duration::from_secs(20), || async {
        let list = api.get("/api/v1/cvms", &[]).await.1;
        (list["info"]["totalElements"].as_u64() >= Some(1)).then_some(list)
    })
    .await;
    assert_eq!(list["info"]["totalElements"], 1, "{list}");
    // The log agrees: one registration, the others became upvotes (at most 10
    // change the score, which is capped) or were refused.
    let repo = api.events().await;
    let events = repo.read_raw(0, 100_000).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.event.event_type == kind).count();
    assert_eq!(count("cvm-registered"), 1);
    assert!(count("cvm-upvoted") <= 49);
    let accepted = results.iter().filter(|r| r.0 == 201).count();
    assert!(accepted >= 40, "most racing requests succeed as upvotes: {accepted}");
}

on_both_backends!(
    machine_endpoints_validate_and_the_kmc_imports_and_filters,
    machine_endpoints_validate_and_the_kmc_imports_and_filters_on_mongodb,
    machine_endpoints_validate_and_the_kmc_imports_and_filters_on
);

async fn machine_endpoints_validate_and_the_kmc_imports_and_filters_on(api: &Api) {
    let (alice_identity, _, alice) = api.identity().await;
    let auth = format!("Bearer {}", admin_token());
    let admin = [("Authorization", auth.as_str())];

    // Validation (2.4, 4.10, 4.12, 4.16): one violation per property, 4xx, nothing written.
    let missing = api.post("/api/v1/cvms", &[("x-ident", &alice)], json!({})).await;
    assert_error(&missing, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    assert_eq!(
        missing.1["details"],
        json!([
            {"property": "longitude", "constraint": "isDefined", "message": "longitude should not be null or undefined"},
            {"property": "latitude", "constraint": "isDefined", "message": "latitude should not be null or undefined"}
        ])
    );
    let wrong = api
        .post(
            "/api/v1/cvms",
            &[("x-ident", &alice)],
            json!({"longitude": 200, "latitude": "49.1"}),
        )
        .await;
    assert_eq!(wrong.1["details"][0]["constraint"], "isLongitude");
    assert_eq!(wrong.1["details"][1]["constraint"], "isNumber");
    let anonymous = api
        .post("/api/v1/cvms", &[], json!({"longitude": 8.4, "latitude": 49.0}))
        .await;
    assert_error(&anonymous, 401, "INVALID_IDENT_TOKEN_ERROR", "Invalid ident token");
    let bad_type = api
        .post(
            "/api/v1/cvms/00000000-0000-4000-8000-000000000000/report",
            &[("x-ident", &alice)],
            json!({"longitude": 8.4, "latitude": 49.0, "type": "ugly"}),
        )
        .await;
    assert_eq!(bad_type.1["details"][0]["constraint"], "isEnum");
    let unknown = api
        .post(
            "/api/v1/cvms/not-a-uuid/upvote",
            &[("x-ident", &alice)],
            json!({"longitude": 8.4, "latitude": 49.0}),
        )
        .await;
    assert_error(&unknown, 404, "NOT_FOUND_ERROR", "Resource not found");
    for path in [
        "/api/v1/cvms/within?topRight=49.1,8.5&zoom=12",
        "/api/v1/cvms/within?bottomLeft=(48.9,8.3&topRight=49.1,8.5&zoom=12",
        "/api/v1/cvms/within?bottomLeft=48.9,8.3&topRight=49.1,8.5&zoom=19",
        "/api/v1/cvms/within?bottomLeft=48.9,8.3&topRight=49.1,8.5",
    ] {
        let response = api.get(path, &[]).await;
        assert_error(&response, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    }
    let bad_filter = api.get("/api/v1/cvms?filter=score%3D%3D(", &[]).await;
    assert_error(&bad_filter, 400, "INVALID_FILTER_QUERY_ERROR", "Invalid filter query");
    let unsupported = api.get("/api/v1/cvms?filter=registeredBy==x", &[]).await;
    assert_error(
        &unsupported,
        400,
        "UNSUPPORTED_FILTER_FIELD_ERROR",
        "Unsupported filter field",
    );
    assert_eq!(
        unsupported.1["details"],
        json!([{"field": "registeredBy", "operator": "=="}])
    );
    assert_eq!(
        api.get("/api/v1/cvms", &[]).await.1["info"]["totalElements"],
        0,
        "nothing written"
    );

    // KMC import: three entries, one within 50 m of another → two machines.
    assert_error(
        &api.get("/api/v1/kmc/cvms", &[]).await,
        401,
        "UNAUTHENTICATED_ERROR",
        "Unauthenticated request",
    );
    let invalid = api
        .post(
            "/api/v1/kmc/cvms/import/manual",
            &admin,
            json!({"cvms": [{"longitude": 8.4}, {"longitude": 8.4, "latitude": 49.0, "score": 11}]}),
        )
        .await;
    assert_error(&invalid, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    let properties: Vec<&str> = invalid.1["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["property"].as_str().unwrap())
        .collect();
    assert_eq!(properties, ["cvms.0.latitude", "cvms.1.score"]);
    let import = json!({"cvms": [
        {"longitude": 13.4050, "latitude": 52.5200, "score": 5},
        {"longitude": 13.4052, "latitude": 52.5201, "score": 7},
        {"longitude": 11.5820, "latitude": 48.1351}
    ]});
    let imported = api.post("/api/v1/kmc/cvms/import/manual", &admin, import).await;
    assert_eq!(imported.0, 201, "{}", imported.1);
    // The import runs after the answer: first the new machines appear, then the match is synchronised.
    let list = eventually(Duration::from_secs(10), || async {
        let list = api.get("/api/v1/kmc/cvms?filter=imported==true", &admin).await.1;
        let synchronised = list["content"]
            .as_array()
            .is_some_and(|c| c.iter().any(|m| m["score"] == 7));
        (list["info"]["totalElements"] == 2 && synchronised).then_some(list)
    })
    .await;
    let scores: Vec<i64> = list["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["score"].as_i64().unwrap())
        .collect();
    assert!(
        scores.contains(&7) && scores.contains(&0),
        "the second entry synchronised the first: {scores:?}"
    );
    let high = api.get("/api/v1/cvms?filter=score%3E%3D7", &[]).await.1;
    assert_eq!(high["info"]["totalElements"], 1);
    let listed = api.get("/api/v1/cvms?filter=score=in=(0,7)", &[]).await.1;
    assert_eq!(listed["info"]["totalElements"], 2, "=in= on numbers works (bug 20)");

    // registeredBy filters by identity on the KMC side.
    assert_eq!(
        api.post(
            "/api/v1/cvms",
            &[("x-ident", &alice)],
            json!({"longitude": 9.18, "latitude": 48.78})
        )
        .await
        .0,
        201
    );
    let mine = eventually(Duration::from_secs(10), || async {
        let mine = api
            .get(
                &format!("/api/v1/kmc/cvms?filter=registeredBy=={alice_identity}"),
                &admin,
            )
            .await
            .1;
        (mine["info"]["totalElements"] == 1).then_some(mine)
    })
    .await;
    assert_eq!(mine["content"][0]["longitude"], 9.18);
    let viewport = "bottomLeft=48.7,9.1&topRight=48.9,9.3&zoom=12";
    let filtered = api
        .get(
            &format!("/api/v1/kmc/cvms/within?{viewport}&filter=registeredBy=={alice_identity}"),
            &admin,
        )
        .await;
    assert_eq!(filtered.1.as_array().map(Vec::len), Some(1), "{}", filtered.1);
    let public_dynamic = api
        .get(&format!("/api/v1/cvms/within?{viewport}&filter=imported==false"), &[])
        .await
        .1;
    assert_eq!(public_dynamic.as_array().map(Vec::len), Some(1));
    let none = api
        .get(&format!("/api/v1/cvms/within?{viewport}&filter=imported==true"), &[])
        .await
        .1;
    assert_eq!(none, json!([]));
}

/// A stand-in for Nominatim and Overpass on a local port, answering like
/// the public services do for one region.
async fn fake_osm() -> (String, tokio::task::JoinHandle<()>) {
    use poem::{get, handler, listener::TcpListener, post, web::Query, Route, Server};
    #[handler]
    fn search(Query(params): Query<std::collections::HashMap<String, String>>) -> poem::web::Json<Value> {
        if params.get("q").map(String::as_str) == Some("Karlsruhe")
            && params.get("format").map(String::as_str) == Some("json")
        {
            poem::web::Json(json!([{"osm_type": "relation", "osm_id": 62518, "display_name": "Karlsruhe"}]))
        } else {
            poem::web::Json(json!([]))
        }
    }
    #[handler]
    fn interpreter(body: String) -> poem::web::Json<Value> {
        let query = body.replace('+', " ");
        assert!(query.contains("3600062518"), "area id of the relation: {query}");
        poem::web::Json(json!({"elements": [
            {"type": "node", "id": 1, "lat": 49.0069, "lon": 8.4037},
            {"type": "node", "id": 2, "lat": 49.0140, "lon": 8.4044}
        ]}))
    }
    let port = free_port();
    let app = Route::new()
        .at("/search", get(search))
        .at("/interpreter", post(interpreter));
    let task = tokio::spawn(async move {
        let _ = Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
            .run(app)
            .await;
    });
    (format!("http://127.0.0.1:{port}"), task)
}

#[tokio::test]
async fn kmc_imports_from_a_file_and_from_openstreetmap() {
    let (osm, server) = fake_osm().await;
    let overpass = format!("{osm}/interpreter");
    let api = Api::start_with(
        None,
        &[("NOMINATIM_URL", osm.as_str()), ("OVERPASS_URL", overpass.as_str())],
    );
    let auth = format!("Bearer {}", admin_token());
    let admin = [("Authorization", auth.as_str())];

    let upload = |content: &str| {
        let boundary = "stummel-test-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cvms.json\"\r\nContent-Type: application/json\r\n\r\n{content}\r\n--{boundary}--\r\n"
        );
        api.http
            .post(api.service.url("/api/v1/kmc/cvms/import/file"))
            .header("Authorization", auth.clone())
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
    };
    let ok = upload(
        r#"[{"longitude": 9.1829, "latitude": 48.7758, "score": 3}, {"longitude": 6.9603, "latitude": 50.9375}]"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status(), 201);
    for bad in [
        "not json",
        r#"[{"longitude": 500, "latitude": 1}]"#,
        &format!("[{}]", "1,".repeat(6000) + "1"),
    ] {
        let response = upload(bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad:.40}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "INVALID_IMPORT_FILE_ERROR");
        assert_eq!(body["message"], "Invalid import file");
    }
    // Imports run after the answer.
    let list = eventually(Duration::from_secs(10), || async {
        let list = api.get("/api/v1/kmc/cvms", &admin).await.1;
        (list["info"]["totalElements"] == 2).then_some(list)
    })
    .await;
    assert_eq!(list["info"]["totalElements"], 2, "{list}");

    let missing = api.post("/api/v1/kmc/cvms/import/osm", &admin, json!({})).await;
    assert_error(&missing, 422, "INVALID_PAYLOAD_ERROR", "Payload validation failed");
    let accepted = api
        .post("/api/v1/kmc/cvms/import/osm", &admin, json!({"region": "Karlsruhe"}))
        .await;
    assert_eq!(accepted.0, 201, "{}", accepted.1);
    eventually(Duration::from_secs(20), || async {
        let list = api.get("/api/v1/kmc/cvms?filter=imported==true", &admin).await.1;
        (list["info"]["totalElements"] == 4).then_some(())
    })
    .await;
    server.abort();
}

/// The weekly cleanup removes machines marked for deletion more than 7 days
/// ago, and only those (the original removed nothing: bug 1).
#[tokio::test]
async fn cleanup_removes_machines_marked_more_than_a_week_ago() {
    use aggregates::kippenstummel::cvm::CvmCommand;
    use aggregates::kippenstummel::geo::Position;
    use stummel::config::{Config, Source};
    use stummel::event_store::CommandMetadata;

    let dir = tempfile::tempdir().unwrap();
    let source = Source::from_map([("DATA_DIR".to_owned(), dir.path().to_str().unwrap().to_owned())].into());
    let engine = stummel::engine::Engine::start(Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let service = engine.kippenstummel.clone();
    let now = chrono::Utc::now();
    let mark = |id: &'static str, lng: f64, days_ago: i64| {
        let service = service.clone();
        async move {
            let at = now - chrono::Duration::days(days_ago);
            let meta = CommandMetadata::new("test", None, at);
            let position = Position::new(lng, 49.0);
            let import = CvmCommand::Import {
                cvm_id: id.into(),
                position,
                score: Some(-7),
            };
            service.cvm_commands.execute(id, import, &meta).await.unwrap();
            let downvote = CvmCommand::Downvote {
                voter: "someone".into(),
                voter_position: position,
                now: at,
            };
            service.cvm_commands.execute(id, downvote, &meta).await.unwrap();
        }
    };
    mark("8a3d3f8e-9f7b-4c1e-9a55-000000000001", 8.40, 10).await;
    mark("8a3d3f8e-9f7b-4c1e-9a55-000000000002", 8.50, 2).await;
    engine
        .projector("cvms")
        .unwrap()
        .rebuild(0, &[], &mut |_, _| {})
        .await
        .unwrap();
    let marked = service
        .machines_matching(&projections::DocQuery::all(None))
        .await
        .unwrap();
    assert_eq!(marked.len(), 2);
    assert!(marked.iter().all(|m| m["markedForDeletion"] == true), "{marked:?}");

    assert_eq!(service.cleanup(now).await.unwrap(), 1);
    engine
        .projector("cvms")
        .unwrap()
        .rebuild(0, &[], &mut |_, _| {})
        .await
        .unwrap();
    let left: Vec<String> = service
        .machines_matching(&projections::DocQuery::all(None))
        .await
        .unwrap()
        .iter()
        .map(|m| m["aggregateId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["8a3d3f8e-9f7b-4c1e-9a55-000000000002"]);
    assert_eq!(service.cleanup(now).await.unwrap(), 0, "nothing else is due");
}

#[path = "kippenstummel/hardening.rs"]
mod hardening;

#[path = "kippenstummel/imports.rs"]
mod imports;

#[path = "kippenstummel/equivalence.rs"]
mod equivalence;

#[path = "kippenstummel/operations.rs"]
mod operations;
