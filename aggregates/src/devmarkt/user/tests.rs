//! Given events, when a command, then events or an error; plus replay and
//! the event contract. Users follow the QA seed (spec 12.1).

use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::*;

type UserTest = TestFramework<User>;

fn testuser(number: i64) -> UserId {
    UserId::new("testuser", number)
}

fn created(user_id: UserId, role: Role) -> UserEvent {
    UserEvent::Created(UserCreated { user_id, role })
}

fn admin_created() -> UserEvent {
    created(UserId::built_in_admin(), Role::Admin)
}

fn claimed(application_id: u32) -> UserEvent {
    UserEvent::CurrentApplicationClaimed(CurrentApplicationClaimed { application_id })
}

fn released(application_id: u32) -> UserEvent {
    UserEvent::CurrentApplicationReleased(CurrentApplicationReleased { application_id })
}

fn deleted() -> UserEvent {
    UserEvent::Deleted(UserDeleted {})
}

fn rejected(error: FailureError) -> UserError {
    UserError::Rejected(error.into())
}

// --- createUser (9.9) ---

#[test]
fn create_stores_id_and_role() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::Create {
            user_id: testuser(2),
            role: Role::User,
        })
        .then_expect_events(vec![created(testuser(2), Role::User)]);
}

#[test]
fn create_is_duplicated_for_an_existing_user() {
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None)])
        .when(UserCommand::Create {
            user_id: testuser(1),
            role: Role::Admin,
        })
        .then_expect_error(rejected(FailureError::Duplicated));
}

#[test]
fn create_is_duplicated_for_the_built_in_admin_even_before_provisioning() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::Create {
            user_id: UserId::built_in_admin(),
            role: Role::User,
        })
        .then_expect_error(rejected(FailureError::Duplicated));
}

#[test]
fn create_accepts_other_internal_ids_and_odd_types() {
    for user_id in [UserId::new("internal", 2), UserId::new("the_answer_of_all", 42)] {
        UserTest::with(())
            .given_no_previous_events()
            .when(UserCommand::Create {
                user_id: user_id.clone(),
                role: Role::Admin,
            })
            .then_expect_events(vec![created(user_id, Role::Admin)]);
    }
}

#[test]
fn create_refuses_a_blank_type() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::Create {
            user_id: UserId::new(" ", 1),
            role: Role::User,
        })
        .then_expect_error(UserError::InvalidInput(vec![InputViolation::UserTypeBlank]));
}

#[test]
fn create_after_delete_starts_afresh() {
    UserTest::with(())
        .given(vec![created(testuser(3), Role::Admin), claimed(6), deleted()])
        .when(UserCommand::Create {
            user_id: testuser(3),
            role: Role::User,
        })
        .then_expect_events(vec![created(testuser(3), Role::User)]);
}

// --- the built-in admin ---

#[test]
fn provisioning_creates_the_built_in_admin() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::ProvisionBuiltInAdmin)
        .then_expect_events(vec![admin_created()]);
}

#[test]
fn provisioning_again_changes_nothing() {
    UserTest::with(())
        .given(vec![admin_created()])
        .when(UserCommand::ProvisionBuiltInAdmin)
        .then_expect_events(vec![]);
}

// --- updateUserRole (9.11) ---

#[test]
fn update_role_sets_the_role() {
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None)])
        .when(UserCommand::UpdateRole { role: Role::User })
        .then_expect_events(vec![UserEvent::RoleUpdated(UserRoleUpdated { role: Role::User })]);
}

#[test]
fn update_role_writes_an_unchanged_role_too() {
    UserTest::with(())
        .given(vec![created(testuser(2), Role::User)])
        .when(UserCommand::UpdateRole { role: Role::User })
        .then_expect_events(vec![UserEvent::RoleUpdated(UserRoleUpdated { role: Role::User })]);
}

#[test]
fn update_role_of_the_built_in_admin_cannot_be_modified() {
    UserTest::with(())
        .given(vec![admin_created()])
        .when(UserCommand::UpdateRole { role: Role::Admin })
        .then_expect_error(rejected(FailureError::AdminUserCantBeModified));
}

#[test]
fn update_role_is_not_found_for_unknown_or_deleted_users() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::UpdateRole { role: Role::User })
        .then_expect_error(rejected(FailureError::NotFound));
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None), deleted()])
        .when(UserCommand::UpdateRole { role: Role::User })
        .then_expect_error(rejected(FailureError::NotFound));
}

// --- deleteUser (9.10) ---

#[test]
fn delete_removes_the_user() {
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None), claimed(1)])
        .when(UserCommand::Delete)
        .then_expect_events(vec![deleted()]);
}

#[test]
fn delete_refuses_the_built_in_admin() {
    UserTest::with(())
        .given(vec![admin_created()])
        .when(UserCommand::Delete)
        .then_expect_error(rejected(FailureError::AdminUserCantBeModified));
}

#[test]
fn delete_is_not_found_for_unknown_or_deleted_users() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::Delete)
        .then_expect_error(rejected(FailureError::NotFound));
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None), deleted()])
        .when(UserCommand::Delete)
        .then_expect_error(rejected(FailureError::NotFound));
}

// --- the current-application slot (9.12 step 1) ---

#[test]
fn claim_takes_the_free_slot() {
    UserTest::with(())
        .given(vec![created(testuser(2), Role::User)])
        .when(UserCommand::ClaimCurrentApplication { application_id: 7 })
        .then_expect_events(vec![claimed(7)]);
}

#[test]
fn claim_has_unprocessed_application_while_another_holds_the_slot() {
    UserTest::with(())
        .given(vec![created(testuser(3), Role::User), claimed(6)])
        .when(UserCommand::ClaimCurrentApplication { application_id: 7 })
        .then_expect_error(rejected(FailureError::HasUnprocessedApplication));
}

#[test]
fn claim_again_for_the_same_application_changes_nothing() {
    UserTest::with(())
        .given(vec![created(testuser(3), Role::User), claimed(6)])
        .when(UserCommand::ClaimCurrentApplication { application_id: 6 })
        .then_expect_events(vec![]);
}

#[test]
fn claim_after_release_succeeds() {
    UserTest::with(())
        .given(vec![created(testuser(3), Role::User), claimed(6), released(6)])
        .when(UserCommand::ClaimCurrentApplication { application_id: 7 })
        .then_expect_events(vec![claimed(7)]);
}

#[test]
fn claim_is_not_found_for_unknown_or_deleted_users() {
    UserTest::with(())
        .given_no_previous_events()
        .when(UserCommand::ClaimCurrentApplication { application_id: 7 })
        .then_expect_error(rejected(FailureError::NotFound));
    UserTest::with(())
        .given(vec![created(testuser(2), Role::User), deleted()])
        .when(UserCommand::ClaimCurrentApplication { application_id: 7 })
        .then_expect_error(rejected(FailureError::NotFound));
}

#[test]
fn release_frees_the_slot_of_that_application() {
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None), claimed(1)])
        .when(UserCommand::ReleaseCurrentApplication { application_id: 1 })
        .then_expect_events(vec![released(1)]);
}

#[test]
fn release_of_another_application_or_a_free_slot_changes_nothing() {
    UserTest::with(())
        .given(vec![created(testuser(1), Role::None), claimed(1)])
        .when(UserCommand::ReleaseCurrentApplication { application_id: 3 })
        .then_expect_events(vec![]);
    UserTest::with(())
        .given(vec![created(testuser(2), Role::User)])
        .when(UserCommand::ReleaseCurrentApplication { application_id: 4 })
        .then_expect_events(vec![]);
}

// --- replay and contract ---

fn replay(events: Vec<UserEvent>) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event);
    }
    user
}

#[test]
fn replay_tracks_role_and_slot() {
    let user = replay(vec![
        created(testuser(1), Role::None),
        UserEvent::RoleUpdated(UserRoleUpdated { role: Role::User }),
        claimed(1),
    ]);
    assert_eq!(
        user,
        User {
            user_id: testuser(1),
            exists: true,
            role: Role::User,
            current_application: Some(1),
        }
    );
    assert_eq!(
        replay(vec![created(testuser(1), Role::None), claimed(1), released(1)]).current_application,
        None
    );
}

#[test]
fn replay_of_a_delete_keeps_only_the_id() {
    let user = replay(vec![created(testuser(1), Role::Admin), claimed(1), deleted()]);
    assert_eq!(
        user,
        User {
            user_id: testuser(1),
            exists: false,
            role: Role::None,
            current_application: None,
        }
    );
}

#[test]
fn state_survives_a_json_snapshot() {
    let user = replay(vec![created(UserId::new("a:b", -1), Role::User), claimed(9)]);
    let json = serde_json::to_string(&user).unwrap();
    assert_eq!(serde_json::from_str::<User>(&json).unwrap(), user);
}

#[test]
fn events_are_tagged_with_their_type_and_camel_case() {
    assert_eq!(
        serde_json::to_value(created(testuser(2), Role::User)).unwrap(),
        json!({"devmarkt-user-created": {"userId": {"type": "testuser", "number": 2}, "role": "USER"}})
    );
    assert_eq!(
        serde_json::to_value(claimed(7)).unwrap(),
        json!({"devmarkt-user-current-application-claimed": {"applicationId": 7}})
    );
    let stored = json!({"devmarkt-user-deleted": {}});
    assert_eq!(serde_json::from_value::<UserEvent>(stored).unwrap(), deleted());
}

#[test]
fn event_types_are_stable_and_version_1() {
    let events = [
        admin_created(),
        UserEvent::RoleUpdated(UserRoleUpdated { role: Role::None }),
        deleted(),
        claimed(1),
        released(1),
    ];
    let types: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        vec![
            "devmarkt-user-created",
            "devmarkt-user-role-updated",
            "devmarkt-user-deleted",
            "devmarkt-user-current-application-claimed",
            "devmarkt-user-current-application-released"
        ]
    );
    assert!(events.iter().all(|event| event.event_version() == "1"));
    assert_eq!(User::TYPE, "devmarkt-user");
}
