//! Spec 9.5, 9.12–9.16 and the ownership gate of 8.5.

use crate::rig::*;
use serde_json::{json, Value};

fn create_query() -> String {
    format!(
        "mutation($templateName: TemplateName!, $answers: [AnswerInput!]!) {{ \
         createApplication(templateName: $templateName, answers: $answers) {{ {FAILURE} ... on Application {{ {APPLICATION} }} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ApplicationId!, $answers: [AnswerInput!]!) {{ \
         updateApplication(id: $id, updatedAnswers: $answers) {{ {FAILURE} ... on Application {{ {APPLICATION} }} }} }}"
    )
}

fn application_query() -> String {
    format!(
        "query($id: ApplicationId!) {{ application(id: $id) {{ {FAILURE} ... on Application {{ {APPLICATION} }} }} }}"
    )
}

fn answers(list: &[(u32, &str)]) -> Value {
    Value::Array(list.iter().map(|(n, a)| json!({"number": n, "answer": a})).collect())
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

on_both_backends!(#[tokio::test] seeded_applications_and_the_ownership_gate_on: seeded_applications_and_the_ownership_gate, seeded_applications_and_the_ownership_gate_on_mongodb);

async fn seeded_applications_and_the_ownership_gate_on() {
    let dm = Devmarkt::start().await;
    let one = dm.data(&admin(), &application_query(), json!({"id": 1})).await;
    let app = &one["application"];
    assert_eq!(app["__typename"], "Application");
    assert_eq!(app["processTime"], Value::Null);
    assert_eq!(app["status"], "UNPROCESSED");
    assert_eq!(
        app["user"],
        json!({"id": {"type": "testuser", "number": 1}, "role": "NONE"})
    );
    assert_eq!(app["template"]["name"], "Dev offered");
    let third = app["answers"][2]["answer"].as_str().unwrap();
    assert_eq!(third.encode_utf16().count(), 506);
    assert!(third.ends_with("\n N2"));
    assert_eq!(
        app["answers"][0],
        json!({"number": 0, "answer": "Lorem ipsum dolor sit amet, co N0", "question": {"number": 0, "question": "Who am I?"}})
    );

    // Own application with role NONE: the ownership gate passes, the role gate refuses.
    assert_eq!(
        dm.gql(&no_role(), &application_query(), json!({"id": 1})).await,
        forbidden("Query", "application")
    );
    // Someone else's: NOT_FOUND before any role check.
    let foreign_app = dm.data(&no_role(), &application_query(), json!({"id": 4})).await;
    assert_eq!(foreign_app["application"], failure(json!([code("NOT_FOUND")])));
    let foreign_app = dm.data(&user(), &application_query(), json!({"id": 1})).await;
    assert_eq!(foreign_app["application"], failure(json!([code("NOT_FOUND")])));
    let own_app = dm.data(&user(), &application_query(), json!({"id": 4})).await;
    assert_eq!(own_app["application"]["status"], "ACCEPTED");
    let missing = dm.data(&admin(), &application_query(), json!({"id": 99})).await;
    assert_eq!(missing["application"], failure(json!([code("NOT_FOUND")])));

    let delete = "mutation($id: ApplicationId!) { deleteApplication(id: $id) }";
    assert_eq!(
        dm.data(&user(), delete, json!({"id": 1})).await,
        json!({"deleteApplication": false})
    );
    assert_eq!(
        dm.data(&no_role(), delete, json!({"id": 4})).await,
        json!({"deleteApplication": false})
    );
    assert_eq!(
        dm.gql(&no_role(), delete, json!({"id": 1})).await,
        forbidden("Mutation", "deleteApplication")
    );
    assert_eq!(
        dm.data(&admin(), delete, json!({"id": 99})).await,
        json!({"deleteApplication": false})
    );
    assert_eq!(
        dm.data(&user(), delete, json!({"id": 5})).await,
        json!({"deleteApplication": true})
    );
    assert_eq!(
        dm.data(&admin(), delete, json!({"id": 5})).await,
        json!({"deleteApplication": false})
    );
    // A bad ApplicationId variable fails the request as a whole.
    let body = dm.gql(&admin(), &application_query(), json!({"id": -1})).await;
    assert!(body.get("data").is_none(), "{body}");
}

on_both_backends!(#[tokio::test] create_application_checks_in_the_spec_order_on: create_application_checks_in_the_spec_order, create_application_checks_in_the_spec_order_on_mongodb);

async fn create_application_checks_in_the_spec_order_on() {
    let dm = Devmarkt::start().await;
    let q = create_query();
    let blocked = dm
        .data(&user3(), &q, json!({"templateName": "Nope", "answers": []}))
        .await;
    assert_eq!(
        blocked["createApplication"],
        failure(json!([code("HAS_UNPROCESSED_APPLICATION")]))
    );
    let no_template = dm
        .data(&user(), &q, json!({"templateName": "Nope", "answers": []}))
        .await;
    assert_eq!(
        no_template["createApplication"],
        failure(json!([code("TEMPLATE_NOT_FOUND")]))
    );

    let ok = |n| (n, "fine");
    let cases: Vec<(Value, Value)> = vec![
        (
            answers(&[ok(0), ok(1), (0, "fsdfsdf")]),
            json!([{"code": "AMBIGUOUS_ANSWER_NUMBER", "data": {"number": 0}}, {"code": "QUESTION_UNANSWERED", "data": {"number": 2}}]),
        ),
        (
            answers(&[ok(0), ok(1), (6, "x")]),
            json!([{"code": "NO_QUESTION", "data": {"number": 6}}, {"code": "QUESTION_UNANSWERED", "data": {"number": 2}}]),
        ),
        (
            answers(&[ok(0), ok(1), (2, "Lilly the Datawitch")]),
            json!([{"code": "ANSWER_TOO_SHORT", "data": {"answerLength": 19, "minimumLength": 500, "number": 2}},
                   {"code": "QUESTION_UNANSWERED", "data": {"number": 2}}]),
        ),
        (
            answers(&[ok(0), ok(1)]),
            json!([{"code": "QUESTION_UNANSWERED", "data": {"number": 2}}]),
        ),
    ];
    for (submitted, expected) in cases {
        let body = dm
            .data(
                &user(),
                &q,
                json!({"templateName": "Dev offered", "answers": submitted}),
            )
            .await;
        assert_eq!(body["createApplication"], failure(expected), "{submitted}");
    }
    let huge: Vec<(u32, String)> = (0..6).map(|n| (0, long(1000 - n))).collect();
    let huge: Vec<(u32, &str)> = huge.iter().map(|(n, a)| (*n, a.as_str())).collect();
    let too_large = dm
        .data(
            &user(),
            &q,
            json!({"templateName": "Dev offered", "answers": answers(&huge)}),
        )
        .await;
    assert_eq!(too_large["createApplication"]["errors"][0]["code"], "TOO_LARGE");
    let size = too_large["createApplication"]["errors"][0]["data"]["size"]
        .as_u64()
        .unwrap();
    assert!(size > 5800, "{size}");

    // Constraint errors: nothing written.
    let blank = dm
        .gql(
            &user(),
            &q,
            json!({"templateName": "Dev offered", "answers": answers(&[(0, " ")])}),
        )
        .await;
    assert_eq!(
        blank["errors"][0]["message"],
        "/createApplication/answers[0]/answer must not be blank"
    );
    assert_eq!(blank["data"], json!({"createApplication": null}));

    // Nothing was written by any of that: the next id is 7.
    let valid = answers(&[(0, "me"), (1, "Rust"), (2, &long(500))]);
    let created = dm
        .data(&user(), &q, json!({"templateName": "Dev offered", "answers": valid}))
        .await;
    let app = &created["createApplication"];
    assert_eq!(app["__typename"], "Application");
    assert_eq!(app["id"], 7);
    assert_eq!(app["status"], "UNPROCESSED");
    assert_eq!(app["processTime"], Value::Null);
    assert_eq!(app["user"]["id"], json!({"type": "testuser", "number": 2}));
    let again = dm
        .data(&user(), &q, json!({"templateName": "Empty template", "answers": []}))
        .await;
    assert_eq!(
        again["createApplication"],
        failure(json!([code("HAS_UNPROCESSED_APPLICATION")]))
    );
    let me = dm
        .data(
            &admin(),
            "{ user(id: {type: \"testuser\", number: 2}) { ... on User { currentApplication { id } applications { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["user"],
        json!({"currentApplication": {"id": 7}, "applications": [{"id": 4}, {"id": 7}, {"id": 5}]})
    );

    // Processing frees the slot; the next application gets the next id.
    let process =
        "mutation($id: ApplicationId!, $status: ApplicationStatus!) { processApplication(id: $id, status: $status) }";
    let processed = |id, status: &str| json!({"id": id, "status": status});
    assert_eq!(
        dm.data(&admin(), process, processed(7, "UNPROCESSED")).await,
        json!({"processApplication": false})
    );
    assert_eq!(
        dm.data(&admin(), process, processed(7, "ACCEPTED")).await,
        json!({"processApplication": true})
    );
    assert_eq!(
        dm.data(&admin(), process, processed(7, "ACCEPTED")).await,
        json!({"processApplication": false})
    );
    assert_eq!(
        dm.data(&admin(), process, processed(7, "REJECTED")).await,
        json!({"processApplication": true})
    );
    assert_eq!(
        dm.data(&admin(), process, processed(99, "REJECTED")).await,
        json!({"processApplication": false})
    );
    let next = dm
        .data(
            &foreign("internal:1", "testuser:2"),
            &q,
            json!({"templateName": "Empty template", "answers": []}),
        )
        .await;
    assert_eq!(next["createApplication"]["id"], 8);
}

on_both_backends!(#[tokio::test] update_application_outcomes_on: update_application_outcomes, update_application_outcomes_on_mongodb);

async fn update_application_outcomes_on() {
    let dm = Devmarkt::start().await;
    let q = update_query();
    let ambiguous = dm
        .data(&no_role(), &q, json!({"id": 4, "answers": answers(&[(0, "a")])}))
        .await;
    assert_eq!(ambiguous["updateApplication"], failure(json!([code("NOT_FOUND")])));
    let cases = [
        (
            answers(&[(0, "a"), (0, "b")]),
            json!([{"code": "AMBIGUOUS_ANSWER_NUMBER", "data": {"number": 0}}]),
        ),
        (
            answers(&[(2, "fsfs")]),
            json!([{"code": "ANSWER_TOO_SHORT", "data": {"answerLength": 4, "minimumLength": 500, "number": 2}}]),
        ),
    ];
    for (submitted, expected) in cases {
        let body = dm.data(&admin(), &q, json!({"id": 3, "answers": submitted})).await;
        assert_eq!(body["updateApplication"], failure(expected));
    }
    let accepted = dm.data(&admin(), &q, json!({"id": 4, "answers": []})).await;
    assert_eq!(
        accepted["updateApplication"],
        failure(json!([code("ALREADY_ACCEPTED")]))
    );
    let missing = dm.data(&admin(), &q, json!({"id": 42, "answers": []})).await;
    assert_eq!(missing["updateApplication"], failure(json!([code("NOT_FOUND")])));
    // The owner (role USER via Foreign) edits a rejected application; it stays rejected.
    let updated = dm
        .data(
            &foreign("internal:1", "testuser:2"),
            &q,
            json!({"id": 5, "answers": []}),
        )
        .await;
    assert_eq!(updated["updateApplication"]["status"], "REJECTED");
    let edited = dm
        .data(
            &admin(),
            &q,
            json!({"id": 3, "answers": answers(&[(1, "Rust and more")])}),
        )
        .await;
    let app = &edited["updateApplication"];
    assert_eq!(app["status"], "REJECTED");
    assert_eq!(app["answers"][1]["answer"], "Rust and more");
    assert_eq!(app["answers"][0]["answer"], "Lorem ipsum dolor sit amet, co N0");
}

on_both_backends!(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] concurrent_creations_by_one_user_yield_exactly_one_application_on: concurrent_creations_by_one_user_yield_exactly_one_application, concurrent_creations_by_one_user_yield_exactly_one_application_on_mongodb);

/// "One current unprocessed application per user" under concurrency: many
/// simultaneous creations by one user, exactly one succeeds.
async fn concurrent_creations_by_one_user_yield_exactly_one_application_on() {
    let dm = std::sync::Arc::new(Devmarkt::start().await);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let dm = dm.clone();
        tasks.push(tokio::spawn(async move {
            dm.data(
                &user(),
                &create_query(),
                json!({"templateName": "Empty template", "answers": []}),
            )
            .await["createApplication"]
                .clone()
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        let result = task.await.unwrap();
        match result["__typename"].as_str() {
            Some("Application") => created.push(result["id"].clone()),
            _ => assert_eq!(result, failure(json!([code("HAS_UNPROCESSED_APPLICATION")]))),
        }
    }
    assert_eq!(created, vec![json!(7)]);
    let me = dm
        .data(
            &admin(),
            "{ user(id: {type: \"testuser\", number: 2}) { ... on User { applications { id status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["user"]["applications"],
        json!([{"id": 4, "status": "ACCEPTED"}, {"id": 5, "status": "REJECTED"}, {"id": 7, "status": "UNPROCESSED"}])
    );
}
