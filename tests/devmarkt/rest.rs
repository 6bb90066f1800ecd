//! The REST endpoints under `/api/devmarkt`: same auth, rules and data as
//! GraphQL, the standard error body, documented in `/openapi.json`.

use crate::rig::*;
use serde_json::{json, Value};

struct Rest<'a>(&'a Devmarkt);

impl Rest<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .0
            .http
            .request(method, self.0.service.url(&format!("/api/devmarkt{path}")))
            .header("Authorization", auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str, auth: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, auth, None).await
    }

    async fn post(&self, path: &str, auth: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, auth, Some(body)).await
    }
}

fn codes(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_backends!(#[tokio::test] rest_queries_with_each_role_on: rest_queries_with_each_role, rest_queries_with_each_role_on_mongodb);

async fn rest_queries_with_each_role_on() {
    let dm = Devmarkt::start().await;
    let rest = Rest(&dm);
    let (status, body) = rest.get("/templates", "").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHENTICATED_ERROR")));
    let (status, body) = rest.get("/templates", &no_role()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("ACCESS_DENIED_ERROR")));
    assert_eq!(body["details"], json!([{"requiredRole": "USER"}]));
    for auth in [user(), admin(), foreign_admin(), foreign("internal:1", "testuser:2")] {
        let (status, body) = rest.get("/templates", &auth).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Dev offered", "Dev searched", "Empty template"]);
    }
    let (status, body) = rest.get("/templates/Dev%20offered", &user()).await;
    assert_eq!(status, 200);
    assert_eq!(body["questions"][2]["minAnswerLength"], 500);
    let (status, body) = rest.get("/templates/Nope", &user()).await;
    assert_eq!((status, codes(&body)), (404, vec!["NOT_FOUND".to_owned()]));

    let (status, body) = rest.get("/applications/4", &user()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ACCEPTED")));
    assert_eq!(body["user"], json!({"type": "testuser", "number": 2}));
    let (status, _) = rest.get("/applications/1", &user()).await;
    assert_eq!(status, 404);
    let (status, _) = rest.get("/applications/1", &no_role()).await;
    assert_eq!(status, 403);
    let (status, _) = rest.get("/applications/1", &admin()).await;
    assert_eq!(status, 200);

    let (status, body) = rest.get("/users/testuser/1", &admin()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": {"type": "testuser", "number": 1}, "role": "NONE", "currentApplication": 1, "applications": [1, 3, 2]})
    );
    let (status, body) = rest.get("/users/testuser/2/applications", &admin()).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [4, 5]);
    let (status, _) = rest.get("/users/testuser/2", &user()).await;
    assert_eq!(status, 403);
    let (status, _) = rest.get("/users/nobody/1", &admin()).await;
    assert_eq!(status, 404);

    let (status, spec) = (200, dm.http.get(dm.service.url("/openapi.json")).send().await.unwrap());
    assert_eq!(spec.status(), status);
    let spec: Value = spec.json().await.unwrap();
    for path in [
        "/api/devmarkt/templates",
        "/api/devmarkt/templates/{name}/update",
        "/api/devmarkt/applications/{id}/process",
        "/api/devmarkt/users/{type}/{number}/delete",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
}

on_both_backends!(#[tokio::test] rest_commands_with_failures_and_validation_on: rest_commands_with_failures_and_validation, rest_commands_with_failures_and_validation_on_mongodb);

async fn rest_commands_with_failures_and_validation_on() {
    let dm = Devmarkt::start().await;
    let rest = Rest(&dm);
    let template = json!({"name": "Rest", "questions": [{"number": 0, "question": "Why?", "multiline": false}]});
    let (status, _) = rest.post("/templates", &user(), template.clone()).await;
    assert_eq!(status, 403);
    let (status, body) = rest.post("/templates", &admin(), template.clone()).await;
    assert_eq!(
        (status, body["questions"][0]["minAnswerLength"].as_i64()),
        (200, Some(1))
    );
    let (status, body) = rest.post("/templates", &admin(), template).await;
    assert_eq!((status, codes(&body)), (409, vec!["DUPLICATED".to_owned()]));
    let bad = json!({"name": " ", "questions": []});
    let (status, body) = rest.post("/templates", &admin(), bad).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("INVALID_PAYLOAD_ERROR")));
    assert_eq!(body["details"].as_array().unwrap().len(), 2);

    let update = json!({"name": "Rest 2", "questions": [{"number": 0, "question": "More?", "multiline": true, "updateAction": "APPEND"}]});
    let (status, body) = rest.post("/templates/Rest/update", &admin(), update).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Rest 2")));
    assert_eq!(body["questions"][1]["question"], "More?");
    let (status, body) = rest.post("/templates/Rest/delete", &admin(), json!({})).await;
    assert_eq!((status, body), (200, json!({"done": false})));

    let answers =
        json!({"templateName": "Rest 2", "answers": [{"number": 0, "answer": "a"}, {"number": 1, "answer": "b"}]});
    let (status, _) = rest.post("/applications", &no_role(), answers.clone()).await;
    assert_eq!(status, 403);
    let short = json!({"templateName": "Dev offered", "answers": [{"number": 2, "answer": "short"}]});
    let (status, body) = rest.post("/applications", &user(), short).await;
    assert_eq!(status, 422);
    assert_eq!(
        codes(&body),
        [
            "ANSWER_TOO_SHORT",
            "QUESTION_UNANSWERED",
            "QUESTION_UNANSWERED",
            "QUESTION_UNANSWERED"
        ]
    );
    let (status, body) = rest.post("/applications", &user(), answers.clone()).await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(7)));
    let (status, body) = rest.post("/applications", &user(), answers).await;
    assert_eq!(
        (status, codes(&body)),
        (409, vec!["HAS_UNPROCESSED_APPLICATION".to_owned()])
    );
    let (status, body) = rest
        .post(
            "/applications/7/update",
            &user(),
            json!({"answers": [{"number": 1, "answer": "changed"}]}),
        )
        .await;
    assert_eq!((status, body["answers"][1]["answer"].as_str()), (200, Some("changed")));
    let (status, _) = rest
        .post("/applications/7/update", &user3(), json!({"answers": []}))
        .await;
    assert_eq!(status, 404);
    let (status, body) = rest
        .post("/applications/7/process", &user(), json!({"status": "ACCEPTED"}))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("ACCESS_DENIED_ERROR")));
    let (status, body) = rest
        .post("/applications/7/process", &admin(), json!({"status": "ACCEPTED"}))
        .await;
    assert_eq!((status, body), (200, json!({"done": true})));
    let (status, body) = rest
        .post("/applications/7/update", &user(), json!({"answers": []}))
        .await;
    assert_eq!((status, codes(&body)), (409, vec!["ALREADY_ACCEPTED".to_owned()]));
    let (status, body) = rest.post("/applications/6/delete", &user(), json!({})).await;
    assert_eq!((status, body), (200, json!({"done": false})));
    let (status, body) = rest.post("/applications/7/delete", &user(), json!({})).await;
    assert_eq!((status, body), (200, json!({"done": true})));

    let new_user = json!({"userId": {"type": "rest", "number": 1}, "role": "USER"});
    let (status, body) = rest.post("/users", &admin(), new_user.clone()).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("USER")));
    let (status, body) = rest.post("/users", &admin(), new_user).await;
    assert_eq!((status, codes(&body)), (409, vec!["DUPLICATED".to_owned()]));
    let (status, body) = rest
        .post("/users/rest/1/update", &admin(), json!({"role": "ADMIN"}))
        .await;
    assert_eq!((status, body["role"].as_str()), (200, Some("ADMIN")));
    let (status, body) = rest
        .post("/users/internal/1/update", &admin(), json!({"role": "USER"}))
        .await;
    assert_eq!(
        (status, codes(&body)),
        (409, vec!["ADMIN_USER_CANT_BE_MODIFIED".to_owned()])
    );
    let (status, body) = rest.post("/users/internal/1/delete", &admin(), json!({})).await;
    assert_eq!((status, body), (200, json!({"done": false})));
    let (status, body) = rest.post("/users/rest/1/delete", &admin(), json!({})).await;
    assert_eq!((status, body), (200, json!({"done": true})));
    let (status, _) = rest.post("/users/rest/1/delete", &user(), json!({})).await;
    assert_eq!(status, 403);
}
