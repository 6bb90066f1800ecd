//! Spec 9.1, 9.2, 9.6–9.8 and the input constraints of 6.2.

use crate::rig::*;
use serde_json::{json, Value};

const TEMPLATE: &str = "query($name: TemplateName!) { template(name: $name) { __typename \
    ... on Template { name questions { number question multiline minAnswerLength } } \
    ... on Failure { errors { code data { ... on NumberTemplateErrorData { number } } } } } }";

const CREATE: &str = "mutation($name: TemplateName!, $questions: [QuestionInput!]!) { \
    createTemplate(name: $name, questions: $questions) { __typename \
    ... on Template { name questions { number question multiline minAnswerLength } } \
    ... on Failure { errors { code data { ... on NumberTemplateErrorData { number } } } } } }";

const UPDATE: &str = "mutation($name: TemplateName!, $updated: TemplateInput!) { \
    updateTemplate(name: $name, updated: $updated) { __typename \
    ... on Template { name questions { number question multiline minAnswerLength } } \
    ... on Failure { errors { code } } } }";

fn q(number: u32, question: &str, multiline: bool, min: u32) -> Value {
    json!({"number": number, "question": question, "multiline": multiline, "minAnswerLength": min})
}

on_both_backends!(#[tokio::test] template_queries_for_users_and_admins_on: template_queries_for_users_and_admins, template_queries_for_users_and_admins_on_mongodb);

async fn template_queries_for_users_and_admins_on() {
    let dm = Devmarkt::start().await;
    for auth in [user(), admin(), foreign_admin(), foreign("internal:1", "testuser:2")] {
        let found = dm.data(&auth, TEMPLATE, json!({"name": "Dev offered"})).await;
        assert_eq!(
            found["template"],
            json!({"__typename": "Template", "name": "Dev offered", "questions": [
                q(0, "Who am I?", false, 1),
                q(1, "What programming language do I know?", false, 1),
                q(2, "Why should you choose me?", true, 500)
            ]})
        );
        let missing = dm.data(&auth, TEMPLATE, json!({"name": "Nope"})).await;
        assert_eq!(
            missing["template"],
            json!({"__typename": "Failure", "errors": [code("NOT_FOUND")]})
        );
    }
    assert_eq!(
        dm.gql(&no_role(), TEMPLATE, json!({"name": "Dev offered"})).await,
        forbidden("Query", "template")
    );
    assert_eq!(
        dm.gql("", TEMPLATE, json!({"name": "Dev offered"})).await,
        unauthorized("template")
    );
    // A TemplateName variable that breaks the scalar fails the whole request.
    let body = dm.gql(&admin(), TEMPLATE, json!({"name": "   "})).await;
    assert!(
        body.get("data").is_none() && body["errors"].as_array().unwrap().len() == 1,
        "{body}"
    );
}

on_both_backends!(#[tokio::test] create_template_outcomes_on: create_template_outcomes, create_template_outcomes_on_mongodb);

async fn create_template_outcomes_on() {
    let dm = Devmarkt::start().await;
    let questions = json!([
        {"question": "One", "number": 1, "multiline": false},
        {"question": "Zero", "number": 0, "multiline": true, "minAnswerLength": 7, "updateAction": "DELETE"}
    ]);
    let created = dm
        .data(&admin(), CREATE, json!({"name": "New", "questions": questions}))
        .await;
    assert_eq!(
        created["createTemplate"],
        json!({"__typename": "Template", "name": "New", "questions": [q(0, "Zero", true, 7), q(1, "One", false, 1)]})
    );
    let again = dm
        .data(&admin(), CREATE, json!({"name": "New", "questions": questions}))
        .await;
    assert_eq!(
        again["createTemplate"],
        json!({"__typename": "Failure", "errors": [code("DUPLICATED")]})
    );

    let ambiguous = json!([
        {"question": "a", "number": 3, "multiline": false},
        {"question": "b", "number": 1, "multiline": false},
        {"question": "c", "number": 3, "multiline": false},
        {"question": "d", "number": 1, "multiline": false}
    ]);
    let refused = dm
        .data(&admin(), CREATE, json!({"name": "Amb", "questions": ambiguous}))
        .await;
    assert_eq!(
        refused["createTemplate"],
        json!({"__typename": "Failure", "errors": [
            {"code": "AMBIGUOUS_NUMBER", "data": {"number": 1}},
            {"code": "AMBIGUOUS_NUMBER", "data": {"number": 3}}
        ]})
    );
    let missing = dm.data(&admin(), TEMPLATE, json!({"name": "Amb"})).await;
    assert_eq!(missing["template"]["__typename"], "Failure");
}

on_both_backends!(#[tokio::test] constraint_violations_answer_null_and_write_nothing_on: constraint_violations_answer_null_and_write_nothing, constraint_violations_answer_null_and_write_nothing_on_mongodb);

async fn constraint_violations_answer_null_and_write_nothing_on() {
    let dm = Devmarkt::start().await;
    let none = dm
        .gql(&admin(), CREATE, json!({"name": "Empty", "questions": []}))
        .await;
    assert_eq!(
        none,
        json!({
            "errors": [{
                "message": "/createTemplate/questions size must be between 1 and 25",
                "locations": [{"line": 1, "column": 65}],
                "path": ["createTemplate"],
                "extensions": {"classification": {
                    "type": "ExtendedValidationError",
                    "validatedPath": ["createTemplate", "questions"],
                    "constraint": "@ContainerSize"
                }}
            }],
            "data": {"createTemplate": null}
        })
    );
    let blank = json!([{"question": "", "number": 0, "multiline": false, "minAnswerLength": 0}]);
    let body = dm
        .gql(&admin(), CREATE, json!({"name": "Blank", "questions": blank}))
        .await;
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        vec![
            "/createTemplate/questions[0]/question must not be blank",
            "/createTemplate/questions[0]/question size must be between 1 and 256",
            "/createTemplate/questions[0]/minAnswerLength range must be between 1 and 1024",
        ]
    );
    assert_eq!(body["data"], json!({"createTemplate": null}));
    assert_eq!(
        body["errors"][0]["extensions"]["classification"]["validatedPath"],
        json!(["createTemplate", "questions", 0, "question"])
    );
    // Constraints come before authentication (spec 8.5).
    let anonymous = dm.gql("", CREATE, json!({"name": "Empty", "questions": []})).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["classification"]["constraint"],
        "@ContainerSize"
    );
    let templates = dm.data(&admin(), "{ templates { name } }", json!({})).await;
    assert_eq!(templates["templates"].as_array().unwrap().len(), 3);
}

on_both_backends!(#[tokio::test] update_template_all_actions_together_and_delete_on: update_template_all_actions_together_and_delete, update_template_all_actions_together_and_delete_on_mongodb);

async fn update_template_all_actions_together_and_delete_on() {
    let dm = Devmarkt::start().await;
    let updated = json!({"name": "All updated", "questions": [
        {"question": "Inserted Question NUM: 1", "number": 2, "multiline": false, "minAnswerLength": 10, "updateAction": "INSERT"},
        {"question": "Appened Question NUM: 4", "number": 99, "multiline": true, "minAnswerLength": 100, "updateAction": "APPEND"},
        {"question": "ignored", "number": 0, "multiline": false, "updateAction": "DELETE"},
        {"question": "Replaced Question NUM: 2", "number": 2, "multiline": false, "minAnswerLength": 44, "updateAction": "REPLACE"},
        {"question": "skipped", "number": 1, "multiline": false}
    ]});
    let body = dm
        .data(&admin(), UPDATE, json!({"name": "Dev searched", "updated": updated}))
        .await;
    assert_eq!(
        body["updateTemplate"],
        json!({"__typename": "Template", "name": "All updated", "questions": [
            q(0, "Why should you join us?", true, 100),
            q(1, "Inserted Question NUM: 1", false, 10),
            q(2, "Replaced Question NUM: 2", false, 44),
            q(3, "Custom text:", true, 30),
            q(4, "Appened Question NUM: 4", true, 100)
        ]})
    );
    let old = dm.data(&admin(), TEMPLATE, json!({"name": "Dev searched"})).await;
    assert_eq!(old["template"]["__typename"], "Failure");
    let missing = dm
        .data(&admin(), UPDATE, json!({"name": "Nope", "updated": {"questions": []}}))
        .await;
    assert_eq!(
        missing["updateTemplate"],
        json!({"__typename": "Failure", "errors": [{"code": "NOT_FOUND"}]})
    );

    // Same name: a no-op update answers the old content.
    let same = dm
        .data(
            &admin(),
            UPDATE,
            json!({"name": "Dev offered", "updated": {"questions": []}}),
        )
        .await;
    assert_eq!(same["updateTemplate"]["questions"].as_array().unwrap().len(), 3);

    let delete = "mutation($name: TemplateName!) { deleteTemplate(name: $name) }";
    assert_eq!(
        dm.data(&admin(), delete, json!({"name": "Dev offered"})).await,
        json!({"deleteTemplate": true})
    );
    assert_eq!(
        dm.data(&admin(), delete, json!({"name": "Dev offered"})).await,
        json!({"deleteTemplate": false})
    );
    // The name is free again.
    let questions = json!([{"question": "q", "number": 0, "multiline": false}]);
    let again = dm
        .data(&admin(), CREATE, json!({"name": "Dev offered", "questions": questions}))
        .await;
    assert_eq!(again["createTemplate"]["__typename"], "Template");
    // Applications keep the template they were created from (spec 9.17).
    let app = dm
        .data(
            &admin(),
            "{ application(id: 4) { ... on Application { template { name questions { number } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(app["application"]["template"]["questions"].as_array().unwrap().len(), 3);
    let names = dm.data(&user(), "{ templates { name } }", json!({})).await;
    assert_eq!(
        names,
        json!({"templates": [{"name": "All updated"}, {"name": "Dev offered"}, {"name": "Empty template"}]})
    );
}
