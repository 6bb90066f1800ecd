//! Hostile but well-formed requests: each gets a clear answer (a 4xx, or a
//! cheap correct result) instead of work proportional to a number in it.
//! Speed is not asserted; a regression shows as a client timeout (the test
//! client gives up after 20 s) or a dead server.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The answer of `/cvms/within` with these raw query parameters.
async fn within(
    api: &Api,
    bottom_left: &str,
    top_right: &str,
    zoom: &str,
    filter: Option<&str>,
) -> (StatusCode, Value) {
    let mut query = vec![("bottomLeft", bottom_left), ("topRight", top_right), ("zoom", zoom)];
    if let Some(filter) = filter {
        query.push(("filter", filter));
    }
    let response = api
        .http
        .get(api.service.url("/api/v1/cvms/within"))
        .query(&query)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn constraints(body: &Value) -> Vec<(String, String)> {
    body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["property"].as_str().unwrap_or_default().to_owned(),
                d["constraint"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn hostile_viewports_pages_and_filters_get_cheap_answers() {
    let api = Api::start();
    let (_, _, token) = api.identity().await;
    let registered = api
        .post(
            "/api/v1/cvms",
            &[("x-ident", &token)],
            json!({"longitude": 8.40395, "latitude": 49.0092}),
        )
        .await;
    assert_eq!(registered.0, 201, "{}", registered.1);

    // Near the pole the km rule admits a box of billions of tiles at zoom 18.
    let polar = within(&api, "89.95,-25", "89.99,25", "18", None).await;
    assert_eq!(polar.0, 422, "{}", polar.1);
    assert_eq!(
        constraints(&polar.1),
        [
            ("bottomLeft".to_owned(), "IsBBoxValid".to_owned()),
            ("topRight".to_owned(), "IsBBoxValid".to_owned())
        ]
    );
    // The whole world from pole to pole, inverted: the rule applies to the normalised box.
    let world = within(&api, "90,180", "-90,-180", "18", None).await;
    assert_eq!(world.0, 422, "{}", world.1);
    // A small inverted box is its normalised form.
    let normal = within(&api, "49.00,8.39", "49.02,8.42", "14", None).await;
    let inverted = within(&api, "49.02,8.42", "49.00,8.39", "14", None).await;
    assert_eq!(normal.0, 200, "{}", normal.1);
    assert_eq!(normal.1.as_array().map(Vec::len), Some(1), "{}", normal.1);
    assert_eq!(inverted, normal);
    let filtered = within(&api, "49.02,8.42", "49.00,8.39", "14", Some("score>=0")).await;
    assert_eq!(filtered.1.as_array().map(Vec::len), Some(1), "{}", filtered.1);
    // Parenthesised corners pass validation and become NaN: nothing (spec 19.5).
    for filter in [None, Some("score>=0")] {
        let nan = within(&api, "(49.00, 8.39)", "(49.02, 8.42)", "14", filter).await;
        assert_eq!(nan, (StatusCode::OK, json!([])), "{filter:?}");
    }
    // Zooms: huge, negative, fractional, not a number.
    for (zoom, constraint) in [("1e308", "max"), ("-1e308", "min"), ("Infinity", "max"), ("x", "max")] {
        let answer = within(&api, "49.00,8.39", "49.02,8.42", zoom, None).await;
        assert_eq!(answer.0, 422, "{zoom}: {}", answer.1);
        // (At zoom 1e308 the size rule allows 0 km, so the corners are reported too, as in the original.)
        assert!(
            constraints(&answer.1).contains(&("zoom".to_owned(), constraint.to_owned())),
            "{zoom}: {}",
            answer.1
        );
    }
    let fractional = within(&api, "49.00,8.39", "49.02,8.42", "14.5", None).await;
    assert_eq!(fractional, (StatusCode::OK, json!([])));

    // Pages past 2^63 and 2^64: an empty page, not an overflow.
    for page in ["9223372036854775808", "18446744073709551616", "1e300"] {
        let (status, body) = api.get(&format!("/api/v1/cvms?page={page}&perPage=50"), &[]).await;
        assert_eq!(status, 200, "{page}: {body}");
        assert_eq!(body["content"], json!([]), "{page}");
        assert_eq!(body["info"]["totalElements"], 1, "{page}");
    }

    // Filters: too long, too many terms, too deep; each refused before any document is read.
    let long = format!("id=='{}'", "x".repeat(5000));
    let many = vec!["score>=0"; 200].join(",");
    let deep = format!("{}score>=0{}", "(".repeat(500), ")".repeat(500));
    for filter in [long, many, deep] {
        let (status, body) = api
            .get(&format!("/api/v1/cvms?filter={}", urlencode(&filter)), &[])
            .await;
        assert_error(
            &(status, body),
            400,
            "INVALID_FILTER_QUERY_ERROR",
            "Invalid filter query",
        );
    }

    // Deeply nested JSON is a payload error, not a stack overflow.
    let nested = format!("{{\"cvms\": {}{}}}", "[".repeat(50_000), "]".repeat(50_000));
    let response = api
        .http
        .post(api.service.url("/api/v1/kmc/cvms/import/manual"))
        .header("Authorization", format!("Bearer {}", admin_token()))
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);

    // The service is still there and still right.
    let after = within(&api, "49.00,8.39", "49.02,8.42", "14", None).await;
    assert_eq!(after, normal);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /ident` (a bcrypt per call) is limited per client, and behind a
/// trusted proxy the client is the address the proxy forwarded.
#[tokio::test]
async fn login_attempts_are_limited_per_client_behind_a_trusted_proxy() {
    let api = Api::start_with(None, &[("LOGIN_LIMIT_PER_MINUTE", "3"), ("TRUST_PROXY", "loopback")]);
    let attempt = |client: &'static str| {
        let request = api
            .http
            .post(api.service.url("/api/v1/ident"))
            .header("x-forwarded-for", client)
            .json(&json!({"identity": "3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f01", "secret": "wrong"}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    for _ in 0..3 {
        let refused = attempt("198.51.100.1").await;
        assert_error(&refused, 401, "UNKNOWN_IDENTITY_ERROR", "Unknown identity");
    }
    let throttled = attempt("198.51.100.1").await;
    assert_error(&throttled, 429, "THROTTLED_ERROR", "The action was throttled");
    // Another client behind the same proxy has its own allowance.
    let other = attempt("198.51.100.2").await;
    assert_error(&other, 401, "UNKNOWN_IDENTITY_ERROR", "Unknown identity");
}

/// Without TRUST_PROXY a client cannot choose its own rate-limit key.
#[tokio::test]
async fn forwarded_headers_are_ignored_without_trust_proxy() {
    let api = Api::start_with(None, &[("LOGIN_LIMIT_PER_MINUTE", "2")]);
    let mut statuses = Vec::new();
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = api
            .http
            .post(api.service.url("/api/v1/ident"))
            .header("x-forwarded-for", client)
            .json(&json!({"identity": "3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f01", "secret": "wrong"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}

/// A body that trickles in slower than REQUEST_TIMEOUT_MS is cut off with
/// 408, and the service keeps answering others meanwhile.
#[tokio::test]
async fn slow_bodies_are_cut_off_at_the_request_timeout() {
    let api = Api::start_with(None, &[("REQUEST_TIMEOUT_MS", "1000")]);
    let address = api.service.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/ident HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"identity\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Meanwhile another request is served.
    let (status, _) = api.get("/api/v1/cvms", &[]).await;
    assert_eq!(status, 200);
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    if String::from_utf8_lossy(&answer).contains("REQUEST_TIMEOUT_ERROR") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to the stalled request");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT_ERROR"), "{answer}");
}
