//! A small Kippenstummel client for the engine-level black-box tests
//! (outages, several instances): identities, machine registrations,
//! listings. The product's own suite is tests/kippenstummel.rs.

use serde_json::{json, Value};
use std::time::Duration;

pub const IDENT_SECRET: &str = "test-ident-secret-0123456789";
pub const JWT_SECRET: &str = "test-admin-secret-0123456789";

/// The secrets every instance of one test must share.
pub fn secrets() -> [(&'static str, &'static str); 2] {
    [("IDENT_SECRET", IDENT_SECRET), ("JWT_SECRET", JWT_SECRET)]
}

/// A client whose timeout bounds every request: a request that hangs (as
/// they did during a Redis outage) fails the test instead of stalling it.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

pub fn admin_token() -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "admin", "username": "admin"}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// Status and JSON body (Null when empty or not JSON).
pub async fn call(request: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The text of captcha `id`, read from Redis by the documented key (spec 16.3).
pub async fn captcha_text(redis_uri: &str, id: &str) -> String {
    let client = redis::Client::open(redis_uri).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw: String = redis::cmd("GET")
        .arg(format!("captcha:{id}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(&raw).unwrap();
    stored["value"]["text"].as_str().unwrap().to_owned()
}

/// A new trusted identity (never throttled) on the service at `base`:
/// (identity, ident token).
pub async fn trusted_identity(http: &reqwest::Client, base: &str, redis_uri: &str) -> (String, String) {
    let (status, captcha) = call(http.get(format!("{base}/api/v1/captcha?scope=registration")))
        .await
        .unwrap();
    assert_eq!(status, 200, "{captcha}");
    let id = captcha["id"].as_str().unwrap();
    let stamp = format!("{id}:{}", captcha_text(redis_uri, id).await);
    let (status, body) = call(http.get(format!("{base}/api/v1/ident")).header("x-captcha", stamp))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let identity = body["identity"].as_str().unwrap().to_owned();
    let credentials = json!({"identity": identity, "secret": body["secret"]});
    let (status, body) = call(http.post(format!("{base}/api/v1/ident")).json(&credentials))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = call(
        http.patch(format!("{base}/api/v1/kmc/ident/{identity}"))
            .bearer_auth(admin_token())
            .json(&json!({"trusted": true})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    (identity, token)
}

/// Where the `n`-th test machine stands: ~1.1 km apart, far beyond the 50 m rule.
pub fn position(n: u64) -> (f64, f64) {
    let (row, column) = (n / 50, n % 50);
    (48.0 + row as f64 * 0.01, 8.0 + column as f64 * 0.015)
}

/// Registers machine `n`; the answer's status (201 = acknowledged), or
/// None when no answer came at all.
pub async fn register(http: &reqwest::Client, base: &str, token: &str, n: u64) -> Option<u16> {
    let (latitude, longitude) = position(n);
    call(
        http.post(format!("{base}/api/v1/cvms"))
            .header("x-ident", token)
            .json(&json!({"latitude": latitude, "longitude": longitude})),
    )
    .await
    .ok()
    .map(|(status, _)| status)
}

/// Every listed machine as (latitude, longitude) rounded to 1e-6, sorted.
pub async fn machine_positions(http: &reqwest::Client, base: &str) -> Result<Vec<(i64, i64)>, String> {
    let mut found = Vec::new();
    for page in 0.. {
        let (status, body) = call(http.get(format!("{base}/api/v1/cvms?page={page}&perPage=50")))
            .await
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{status} {body}"));
        }
        let content = body["content"].as_array().cloned().unwrap_or_default();
        for machine in &content {
            found.push(rounded(
                machine["latitude"].as_f64().unwrap(),
                machine["longitude"].as_f64().unwrap(),
            ));
        }
        if content.len() < 50 {
            break;
        }
    }
    found.sort();
    Ok(found)
}

pub fn rounded(latitude: f64, longitude: f64) -> (i64, i64) {
    ((latitude * 1e6).round() as i64, (longitude * 1e6).round() as i64)
}

/// The error body every failure carries (spec 2.3).
pub fn assert_unavailable(status: u16, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE_ERROR", "{body}");
    assert!(body["timestamp"].is_string() && body["path"].is_string(), "{body}");
}
