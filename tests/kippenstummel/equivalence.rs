//! The same events give the same answers on the embedded store and on
//! MongoDB: every machine read endpoint, byte for byte (as JSON values).

use super::*;
use std::sync::LazyLock;

static ADMIN: LazyLock<String> = LazyLock::new(|| format!("Bearer {}", admin_token()));

/// The machine read endpoints' answers worth comparing.
fn read_paths() -> Vec<String> {
    let mut paths = Vec::new();
    for filter in [
        "",
        "&filter=score>=0",
        "&filter=imported==true;score>2",
        "&filter=score<0,imported==false",
    ] {
        for page in 0..3 {
            paths.push(format!("/api/v1/cvms?perPage=50&page={page}{filter}"));
            paths.push(format!("/api/v1/kmc/cvms?perPage=50&page={page}{filter}"));
        }
    }
    paths.push("/api/v1/cvms?filter=bbox=='8.3,48.9,8.5,49.1'&perPage=50".into());
    paths.push("/api/v1/cvms?filter=lastVotedAt>2000-01-01T00:00:00Z".into());
    for (zoom, half) in [(8, 2.0), (12, 0.15), (14, 0.04), (18, 0.002)] {
        let (bl, tr) = (
            format!("{},{}", 49.0 - half / 2.0, 8.4 - half),
            format!("{},{}", 49.0 + half / 2.0, 8.4 + half),
        );
        for filter in ["", "&filter=score>=0", "&filter=imported==true"] {
            paths.push(format!(
                "/api/v1/cvms/within?bottomLeft={bl}&topRight={tr}&zoom={zoom}{filter}"
            ));
        }
    }
    paths
}

/// Items of a `/cvms/within` answer in a fixed order (the endpoint promises none).
fn normalised(path: &str, mut body: Value) -> Value {
    if path.contains("/within") {
        if let Some(items) = body.as_array_mut() {
            items.sort_by_key(|i| i.to_string());
        }
    }
    body
}

#[tokio::test]
#[ignore = "needs STUMMEL_TEST_MONGO_URI"]
async fn the_same_events_answer_the_same_on_embedded_and_mongodb() {
    let embedded = Api::start();
    let admin = [("Authorization", ADMIN.as_str())];
    // Some history: registrations, votes, a report, and an import around Karlsruhe.
    let (_, _, token) = embedded.identity().await;
    let registered = embedded
        .post(
            "/api/v1/cvms",
            &[("x-ident", &token)],
            json!({"longitude": 8.40395, "latitude": 49.0092}),
        )
        .await;
    assert_eq!(registered.0, 201, "{}", registered.1);
    let cvms: Vec<Value> = (0..300)
        .map(|i| {
            json!({"longitude": 8.3 + f64::from(i % 20) * 0.01, "latitude": 48.95 + f64::from(i / 20) * 0.007,
                   "score": (i % 21) - 10})
        })
        .collect();
    let imported = embedded
        .post("/api/v1/kmc/cvms/import/manual", &admin, json!({"cvms": cvms}))
        .await;
    assert_eq!(imported.0, 201, "{}", imported.1);
    let all = eventually(Duration::from_secs(30), || async {
        let page = embedded.get("/api/v1/cvms?perPage=1", &[]).await.1;
        (page["info"]["totalElements"] == 301).then_some(page)
    })
    .await;
    assert_eq!(all["info"]["totalElements"], 301);
    let near = embedded
        .get("/api/v1/cvms?filter=bbox=='8.403,49.009,8.405,49.010'", &[])
        .await
        .1;
    let id = near["content"][0]["id"].as_str().unwrap().to_owned();
    let (_, _, voter) = embedded.identity().await;
    let vote = embedded
        .post(
            &format!("/api/v1/cvms/{id}/downvote"),
            &[("x-ident", &voter)],
            json!({"longitude": 8.40395, "latitude": 49.0092}),
        )
        .await;
    assert_eq!(vote.0, 201, "{}", vote.1);
    let report = embedded
        .post(
            &format!("/api/v1/cvms/{id}/report"),
            &[("x-ident", &voter)],
            json!({"longitude": 8.40395, "latitude": 49.0092, "type": "spam"}),
        )
        .await;
    assert_eq!(report.0, 201, "{}", report.1);

    // The same log, event for event, into a fresh MongoDB database.
    let source = embedded.events().await;
    let log = source.read_raw(0, 100_000).await.unwrap();
    let mongo = MongoDb::fresh().await;
    let target = mongo_events(&mongo).await;
    for stored in &log {
        let aggregate_type = stored.event.aggregate_type.clone();
        target
            .append(&aggregate_type, std::slice::from_ref(&stored.event), None)
            .await
            .unwrap();
    }
    let uri = mongo_uri_for(&mongo);
    let on_mongo = Api::start_with(Some((mongo, uri)), &[]);
    // Both instances project asynchronously: compare once every answer agrees, or
    // after a minute, when the first difference fails the test.
    let answers = |api: &'static Api| async move {
        let mut all = Vec::new();
        for path in read_paths() {
            let (status, body) = api.get(&path, &[("Authorization", ADMIN.as_str())]).await;
            all.push((path.clone(), status.as_u16(), normalised(&path, body)));
        }
        all
    };
    let embedded: &'static Api = Box::leak(Box::new(embedded));
    let on_mongo: &'static Api = Box::leak(Box::new(on_mongo));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (a, b) = loop {
        let (a, b) = (answers(embedded).await, answers(on_mongo).await);
        if a == b || std::time::Instant::now() > deadline {
            break (a, b);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for ((path, status_a, body_a), (_, status_b, body_b)) in a.iter().zip(&b) {
        assert_eq!(*status_a, 200, "{path}: {body_a}");
        assert_eq!((status_a, body_a), (status_b, body_b), "{path}");
    }
    assert!(a
        .iter()
        .any(|(path, _, body)| path.contains("within") && body.as_array().is_some_and(|i| !i.is_empty())));
    let one = format!("/api/v1/cvms/{id}");
    assert_eq!(embedded.get(&one, &[]).await, on_mongo.get(&one, &[]).await);
    if let Some((mongo, _)) = &on_mongo.mongo {
        mongo.drop_database().await;
    }
}
