//! Spec 9.4, 9.9–9.11, 9.17 (user side).

use crate::rig::*;
use serde_json::json;

const USER: &str = "query($id: UserIdInput!) { user(id: $id) { __typename \
    ... on User { id { type number } role currentApplication { id } applications { id status } } \
    ... on Failure { errors { code data { __typename } } } } }";

const CREATE: &str =
    "mutation($userId: UserIdInput!, $role: Role!) { createUser(userId: $userId, role: $role) { __typename \
    ... on User { id { type number } role currentApplication { id } applications { id } } \
    ... on Failure { errors { code } } } }";

const UPDATE_ROLE: &str =
    "mutation($userId: UserIdInput!, $role: Role!) { updateUserRole(userId: $userId, role: $role) { __typename \
    ... on User { id { type number } role applications { id } } \
    ... on Failure { errors { code } } } }";

const DELETE: &str = "mutation($userId: UserIdInput!) { deleteUser(userId: $userId) }";

on_both_backends!(#[tokio::test] user_query_shows_applications_in_the_reference_order_on: user_query_shows_applications_in_the_reference_order, user_query_shows_applications_in_the_reference_order_on_mongodb);

async fn user_query_shows_applications_in_the_reference_order_on() {
    let dm = Devmarkt::start().await;
    let one = dm
        .data(&admin(), USER, json!({"id": {"type": "testuser", "number": 1}}))
        .await;
    assert_eq!(
        one["user"],
        json!({"__typename": "User", "id": {"type": "testuser", "number": 1}, "role": "NONE",
            "currentApplication": {"id": 1},
            "applications": [{"id": 1, "status": "UNPROCESSED"}, {"id": 3, "status": "REJECTED"}, {"id": 2, "status": "ACCEPTED"}]})
    );
    let two = dm
        .data(&foreign_admin(), USER, json!({"id": {"type": "testuser", "number": 2}}))
        .await;
    assert_eq!(
        two["user"],
        json!({"__typename": "User", "id": {"type": "testuser", "number": 2}, "role": "USER",
            "currentApplication": null,
            "applications": [{"id": 4, "status": "ACCEPTED"}, {"id": 5, "status": "REJECTED"}]})
    );
    let admin_user = dm
        .data(&admin(), USER, json!({"id": {"type": "internal", "number": 1}}))
        .await;
    assert_eq!(admin_user["user"]["role"], "ADMIN");
    assert_eq!(admin_user["user"]["applications"], json!([]));
    let missing = dm.data(&admin(), USER, json!({"id": {"type": "nobody"}})).await;
    assert_eq!(
        missing["user"],
        json!({"__typename": "Failure", "errors": [{"code": "NOT_FOUND", "data": null}]})
    );
    assert_eq!(
        dm.gql(&user(), USER, json!({"id": {"type": "testuser", "number": 1}}))
            .await,
        forbidden("Query", "user")
    );
    let blank = dm.gql(&admin(), USER, json!({"id": {"type": " ", "number": 1}})).await;
    assert_eq!(blank["errors"][0]["message"], "/user/id/type must not be blank");
    assert_eq!(blank["data"], json!({"user": null}));
}

on_both_backends!(#[tokio::test] create_update_and_delete_users_on: create_update_and_delete_users, create_update_and_delete_users_on_mongodb);

async fn create_update_and_delete_users_on() {
    let dm = Devmarkt::start().await;
    let id = json!({"type": "the_answer_of_all", "number": 42});
    let created = dm.data(&admin(), CREATE, json!({"userId": id, "role": "ADMIN"})).await;
    assert_eq!(
        created["createUser"],
        json!({"__typename": "User", "id": id, "role": "ADMIN", "currentApplication": null, "applications": []})
    );
    let again = dm.data(&admin(), CREATE, json!({"userId": id, "role": "USER"})).await;
    assert_eq!(
        again["createUser"],
        json!({"__typename": "Failure", "errors": [{"code": "DUPLICATED"}]})
    );
    let builtin = json!({"type": "internal", "number": 1});
    let again = dm
        .data(&admin(), CREATE, json!({"userId": builtin, "role": "USER"}))
        .await;
    assert_eq!(again["createUser"]["errors"][0]["code"], "DUPLICATED");

    let updated = dm
        .data(
            &admin(),
            UPDATE_ROLE,
            json!({"userId": {"type": "testuser", "number": 2}, "role": "NONE"}),
        )
        .await;
    assert_eq!(
        updated["updateUserRole"],
        json!({"__typename": "User", "id": {"type": "testuser", "number": 2}, "role": "NONE", "applications": [{"id": 4}, {"id": 5}]})
    );
    assert_eq!(
        dm.gql(&user(), "{ templates { name } }", json!({})).await,
        forbidden("Query", "templates")
    );
    let protected = dm
        .data(&admin(), UPDATE_ROLE, json!({"userId": builtin, "role": "USER"}))
        .await;
    assert_eq!(
        protected["updateUserRole"]["errors"][0]["code"],
        "ADMIN_USER_CANT_BE_MODIFIED"
    );
    let missing = dm
        .data(
            &admin(),
            UPDATE_ROLE,
            json!({"userId": {"type": "nobody", "number": 1}, "role": "USER"}),
        )
        .await;
    assert_eq!(missing["updateUserRole"]["errors"][0]["code"], "NOT_FOUND");

    assert_eq!(
        dm.data(&admin(), DELETE, json!({"userId": builtin})).await,
        json!({"deleteUser": false})
    );
    assert_eq!(
        dm.data(&admin(), DELETE, json!({"userId": {"type": "testuser", "number": 1}}))
            .await,
        json!({"deleteUser": true})
    );
    assert_eq!(
        dm.data(&admin(), DELETE, json!({"userId": {"type": "testuser", "number": 1}}))
            .await,
        json!({"deleteUser": false})
    );
    // The cascade took the user's applications along.
    let gone = dm
        .data(
            &admin(),
            "{ application(id: 3) { __typename ... on Failure { errors { code } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        gone["application"],
        json!({"__typename": "Failure", "errors": [{"code": "NOT_FOUND"}]})
    );
    assert_eq!(dm.gql(&no_role(), "{ roles }", json!({})).await, unauthorized("roles"));
    let process = "mutation { processApplication(id: 1, status: ACCEPTED) }";
    assert_eq!(
        dm.data(&admin(), process, json!({})).await,
        json!({"processApplication": false})
    );
    // The admin still works after all of it.
    assert_eq!(
        dm.data(&admin(), "{ roles }", json!({})).await,
        json!({"roles": ["ADMIN", "USER", "NONE"]})
    );
}
