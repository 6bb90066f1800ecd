//! `stummel replay --all` rebuilds the Devmarkt read model to the same
//! answers; QA seeding only exists when configured; GraphiQL is served.

use crate::rig::*;
use crate::support::stummel;
use serde_json::{json, Value};
use std::time::Duration;

const SNAPSHOT: &str = "{ templates { name questions { number question multiline minAnswerLength } } \
    a: user(id: {type: \"testuser\", number: 1}) { ... on User { role currentApplication { id } applications { id status answers { number answer } template { name } } } } \
    b: user(id: {type: \"testuser\", number: 2}) { ... on User { role currentApplication { id } applications { id status answers { number answer } } } } \
    c: user(id: {type: \"notKnown\", number: 1}) { __typename ... on User { role } } \
    d: user(id: {type: \"testuser\", number: 3}) { __typename } }";

async fn snapshot(dm: &Devmarkt) -> Value {
    dm.data(&admin(), SNAPSHOT, json!({})).await
}

on_both_backends!(#[tokio::test] replay_all_reproduces_the_same_answers_on: replay_all_reproduces_the_same_answers, replay_all_reproduces_the_same_answers_on_mongodb);

async fn replay_all_reproduces_the_same_answers_on() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("DEVMARKT_QA", "true"), ("DEVMARKT_JWT_SECRET", SECRET)];
    let mut dm = Devmarkt::start_in(dir.path(), &env);
    dm.seed().await;
    // A reseed in between: the answers are the second seed's.
    dm.data(
        &admin(),
        "mutation { deleteTemplate(name: \"Dev offered\") }",
        json!({}),
    )
    .await;
    dm.seed().await;
    let steps = [
        "mutation { processApplication(id: 1, status: REJECTED) }",
        "mutation { deleteUser(userId: {type: \"testuser\", number: 3}) }",
        "mutation { updateTemplate(name: \"Dev searched\", updated: {name: \"Renamed\", questions: [{question: \"New\", number: 0, multiline: false, updateAction: APPEND}]}) { __typename } }",
        "mutation { updateApplication(id: 3, updatedAnswers: [{number: 0, answer: \"changed\"}]) { __typename } }",
    ];
    for step in steps {
        dm.data(&admin(), step, json!({})).await;
    }
    let create =
        r#"mutation { createApplication(templateName: "Empty template", answers: []) { ... on Application { id } } }"#;
    assert_eq!(
        dm.data(&user(), create, json!({})).await,
        json!({"createApplication": {"id": 7}})
    );
    dm.data(
        &foreign("internal:1", "notKnown:1"),
        "{ templates { name } }",
        json!({}),
    )
    .await;
    let before = snapshot(&dm).await;
    assert_eq!(before["d"], json!({"__typename": "Failure"}));
    assert_eq!(before["a"]["currentApplication"], Value::Null);

    dm.service.signal("TERM");
    assert!(dm.service.wait(Duration::from_secs(30)).success());
    let data_dir = dir.path().to_str().unwrap();
    let backend = backend_env();
    let mut cli_env = vec![("DATA_DIR", data_dir)];
    cli_env.extend(backend.iter().map(|(k, v)| (*k, v.as_str())));
    let replay = stummel(&["replay", "--all", "--quiet"], &cli_env).output().unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));

    let dm = Devmarkt::start_in(dir.path(), &env);
    assert_eq!(snapshot(&dm).await, before);
    // The id sequence continues after the replay.
    let create =
        r#"mutation { createApplication(templateName: "Empty template", answers: []) { ... on Application { id } } }"#;
    assert_eq!(
        dm.data(&foreign("internal:1", "notKnown:1"), create, json!({})).await,
        json!({"createApplication": {"id": 8}})
    );
}

on_both_backends!(#[tokio::test] qa_seeding_is_off_unless_configured_and_graphiql_is_served_on: qa_seeding_is_off_unless_configured_and_graphiql_is_served, qa_seeding_is_off_unless_configured_and_graphiql_is_served_on_mongodb);

async fn qa_seeding_is_off_unless_configured_and_graphiql_is_served_on() {
    let dir = tempfile::tempdir().unwrap();
    let dm = Devmarkt::start_in(dir.path(), &[]);
    let seed = dm.http.post(dm.service.url("/qa/seedDatabase")).send().await.unwrap();
    assert_eq!(seed.status(), 404);
    // Without QA data only the built-in admin exists.
    assert_eq!(
        dm.data(&admin(), "{ templates { name } roles }", json!({})).await,
        json!({"templates": [], "roles": ["ADMIN", "USER", "NONE"]})
    );
    assert_eq!(
        dm.gql(&user(), "{ templates { name } }", json!({})).await,
        unauthorized("templates")
    );
    let page = dm.http.get(dm.service.url("/graphiql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));
    // GET with the query string, and the health probe of the reference's CI.
    let get = dm
        .http
        .get(dm.service.url("/graphql?query=%7B%20roles%20%7D"))
        .header("Authorization", admin())
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.json::<Value>().await.unwrap(),
        json!({"data": {"roles": ["ADMIN", "USER", "NONE"]}})
    );
    let health = dm.http.get(dm.service.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // A request the parser refuses: HTTP 200, errors, no data.
    let body = dm.gql(&admin(), "{ templates { name ", json!({})).await;
    assert!(body.get("data").is_none() && body["errors"].is_array(), "{body}");
}
