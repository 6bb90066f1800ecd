//! Spec 8: the QA authentication matrix, exact error shapes, `Foreign`.

use crate::rig::*;
use serde_json::json;

on_both_backends!(#[tokio::test] the_qa_matrix_of_roles_and_templates_on: the_qa_matrix_of_roles_and_templates, the_qa_matrix_of_roles_and_templates_on_mongodb);

async fn the_qa_matrix_of_roles_and_templates_on() {
    let dm = Devmarkt::start().await;
    let templates =
        json!({"templates": [{"name": "Dev offered"}, {"name": "Dev searched"}, {"name": "Empty template"}]});
    let roles = json!({"roles": ["ADMIN", "USER", "NONE"]});
    let admin_token = token("internal:1");
    enum Expect {
        Unauthorized,
        Forbidden,
        Ok,
    }
    use Expect::*;
    let cases: Vec<(&str, String, Expect, Expect)> = vec![
        ("NONE", String::new(), Unauthorized, Unauthorized),
        (
            "INVALID_METHOD",
            format!("SpongeBob {admin_token}"),
            Unauthorized,
            Unauthorized,
        ),
        ("NO_METHOD", admin_token.clone(), Unauthorized, Unauthorized),
        ("WRONG_FORMAT_USERID", own("wrong_format"), Unauthorized, Unauthorized),
        (
            "WRONG_FORMAT_FOREIGN",
            format!("Foreign {admin_token}"),
            Unauthorized,
            Unauthorized,
        ),
        (
            "WRONG_FORMAT_SELF",
            format!("Self {admin_token} test:123"),
            Unauthorized,
            Unauthorized,
        ),
        (
            "FOREIGN_UNAUTHORIZED_SUDOER",
            foreign("testuser:2", "testuser:1"),
            Unauthorized,
            Unauthorized,
        ),
        (
            "FOREIGN_WRONG_TOKEN_USERID_FORMAT",
            foreign("testuser2", "testuser:1"),
            Unauthorized,
            Unauthorized,
        ),
        ("UNKNOWN_SELF", own("notKnown:2"), Unauthorized, Unauthorized),
        ("USER", user(), Forbidden, Ok),
        ("FOREIGN_USER_ROLE", foreign("internal:1", "testuser:2"), Forbidden, Ok),
        (
            "FOREIGN_NOT_KNOWN_USER",
            foreign("internal:1", "notKnown:1"),
            Forbidden,
            Ok,
        ),
        (
            "FOREIGN_NO_ROLE",
            foreign("internal:1", "testuser:1"),
            Forbidden,
            Forbidden,
        ),
        ("ADMIN", admin(), Ok, Ok),
        ("FOREIGN_ADMIN", foreign_admin(), Ok, Ok),
    ];
    for (key, auth, on_roles, on_templates) in cases {
        let body = dm.gql(&auth, "{ roles }", json!({})).await;
        let expected = match on_roles {
            Unauthorized => unauthorized("roles"),
            Forbidden => forbidden("Query", "roles"),
            Ok => json!({"data": roles}),
        };
        assert_eq!(body, expected, "roles with {key}");
        // Extra variables are ignored (spec 1.1).
        let body = dm
            .gql(&auth, "{ templates { name } }", json!({"name": "x", "updated": 1}))
            .await;
        let expected = match on_templates {
            Unauthorized => unauthorized("templates"),
            Forbidden => forbidden("Query", "templates"),
            Ok => json!({"data": templates}),
        };
        assert_eq!(body, expected, "templates with {key}");
    }
}

on_both_backends!(#[tokio::test] foreign_creates_unknown_users_with_the_user_role_and_expired_tokens_fail_on: foreign_creates_unknown_users_with_the_user_role_and_expired_tokens_fail, foreign_creates_unknown_users_with_the_user_role_and_expired_tokens_fail_on_mongodb);

async fn foreign_creates_unknown_users_with_the_user_role_and_expired_tokens_fail_on() {
    let dm = Devmarkt::start().await;
    let query = "query($id: UserIdInput!) { user(id: $id) { __typename ... on User { id { type number } role applications { id } currentApplication { id } } } }";
    let unknown = json!({"id": {"type": "notKnown", "number": 5}});
    let before = dm.data(&admin(), query, unknown.clone()).await;
    assert_eq!(before["user"]["__typename"], "Failure");
    // Only a Foreign request by an admin sudoer creates the target.
    dm.gql(
        &foreign("testuser:2", "notKnown:5"),
        "{ templates { name } }",
        json!({}),
    )
    .await;
    assert_eq!(dm.data(&admin(), query, unknown.clone()).await, before);
    let body = dm
        .gql(
            &foreign("internal:1", "notKnown:5"),
            "{ templates { name } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        dm.data(&admin(), query, unknown).await,
        json!({"user": {"__typename": "User", "id": {"type": "notKnown", "number": 5}, "role": "USER", "applications": [], "currentApplication": null}})
    );

    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "internal:1", "exp": 1_000_000_000}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        dm.gql(&format!("Self {expired}"), "{ roles }", json!({})).await,
        unauthorized("roles")
    );
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "internal:1"}),
        &jsonwebtoken::EncodingKey::from_secret(b"another secret of enough length"),
    )
    .unwrap();
    assert_eq!(
        dm.gql(&format!("Self {wrong_key}"), "{ roles }", json!({})).await,
        unauthorized("roles")
    );
}

on_both_backends!(#[tokio::test] every_mutation_is_gated_by_role_on: every_mutation_is_gated_by_role, every_mutation_is_gated_by_role_on_mongodb);

async fn every_mutation_is_gated_by_role_on() {
    let dm = Devmarkt::start().await;
    let admin_only = [
        (
            "createTemplate",
            r#"mutation { createTemplate(name: "X", questions: [{question: "q", number: 0, multiline: false}]) { __typename } }"#,
        ),
        ("deleteTemplate", r#"mutation { deleteTemplate(name: "Dev offered") }"#),
        (
            "updateTemplate",
            r#"mutation { updateTemplate(name: "Dev offered", updated: {questions: []}) { __typename } }"#,
        ),
        (
            "createUser",
            r#"mutation { createUser(userId: {type: "a", number: 1}, role: USER) { __typename } }"#,
        ),
        (
            "deleteUser",
            r#"mutation { deleteUser(userId: {type: "testuser", number: 1}) }"#,
        ),
        (
            "updateUserRole",
            r#"mutation { updateUserRole(userId: {type: "testuser", number: 1}, role: USER) { __typename } }"#,
        ),
        (
            "processApplication",
            r#"mutation { processApplication(id: 1, status: ACCEPTED) }"#,
        ),
    ];
    for (field, query) in admin_only {
        assert_eq!(
            dm.gql("", query, json!({})).await,
            unauthorized(field),
            "{field} anonymous"
        );
        assert_eq!(
            dm.gql(&user(), query, json!({})).await,
            forbidden("Mutation", field),
            "{field} as user"
        );
        assert_eq!(
            dm.gql(&foreign("internal:1", "testuser:2"), query, json!({})).await,
            forbidden("Mutation", field),
            "{field} as Foreign user"
        );
        assert_eq!(
            dm.gql(&foreign("testuser:2", "internal:1"), query, json!({})).await,
            unauthorized(field),
            "{field} with a non-admin sudoer"
        );
    }
    // Nothing of the refused mutations happened.
    let names = dm.data(&admin(), "{ templates { name } }", json!({})).await;
    assert_eq!(names["templates"].as_array().unwrap().len(), 3);
    let app = dm
        .data(
            &admin(),
            "{ application(id: 1) { ... on Application { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(app["application"]["status"], "UNPROCESSED");

    let create = r#"mutation { createApplication(templateName: "Empty template", answers: []) { __typename } }"#;
    assert_eq!(dm.gql("", create, json!({})).await, unauthorized("createApplication"));
    assert_eq!(
        dm.gql(&no_role(), create, json!({})).await,
        forbidden("Mutation", "createApplication")
    );
    assert_eq!(
        dm.gql("", "{ application(id: 1) { __typename } }", json!({})).await,
        unauthorized("application")
    );
}

on_both_backends!(#[tokio::test] the_schema_declares_the_spec_directives_scalars_and_enums_on: the_schema_declares_the_spec_directives_scalars_and_enums, the_schema_declares_the_spec_directives_scalars_and_enums_on_mongodb);

async fn the_schema_declares_the_spec_directives_scalars_and_enums_on() {
    let dm = Devmarkt::start().await;
    let query = "{ __schema { directives { name args { name } } types { name kind enumValues { name } } } }";
    let schema = dm.data("", query, json!({})).await;
    let directive = |name: &str| {
        schema["__schema"]["directives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| {
                d["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["name"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(directive("Auth"), Some(vec!["role".to_owned()]));
    assert_eq!(directive("AuthOwnApplication"), Some(vec!["idField".to_owned()]));
    assert_eq!(directive("NotBlank"), Some(vec!["message".to_owned()]));
    for name in ["Size", "Range", "ContainerSize"] {
        assert_eq!(
            directive(name),
            Some(vec!["min".to_owned(), "max".to_owned(), "message".to_owned()]),
            "{name}"
        );
    }
    let types = schema["__schema"]["types"].as_array().unwrap();
    let kind = |name: &str| {
        types
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["kind"].as_str().unwrap().to_owned())
    };
    for scalar in [
        "Long",
        "NonNegativeInt",
        "PositiveInt",
        "DateTime",
        "ApplicationId",
        "TemplateName",
    ] {
        assert_eq!(kind(scalar).as_deref(), Some("SCALAR"), "{scalar}");
    }
    for union in ["TemplateResponse", "ApplicationResponse", "UserResponse", "FailureData"] {
        assert_eq!(kind(union).as_deref(), Some("UNION"), "{union}");
    }
    let values = |name: &str| {
        types.iter().find(|t| t["name"] == name).unwrap()["enumValues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(values("Role"), ["USER", "ADMIN", "NONE"]);
    assert_eq!(values("ApplicationStatus"), ["UNPROCESSED", "REJECTED", "ACCEPTED"]);
    assert_eq!(values("UpdateAction"), ["INSERT", "REPLACE", "DELETE", "APPEND"]);
}
