//! QA mode (spec 12): `POST /qa/seedDatabase` starts a new epoch holding
//! exactly the seed, with application ids from 1 again. Only with
//! `DEVMARKT_QA=true` (never in production); otherwise the route does not
//! exist (404). In QA mode the first request seeds when nothing was seeded.
//!
//! The seed goes through the same commands as the API, so it is in the
//! log and `stummel replay` rebuilds it like any other data.

use super::service::ServiceError;
use super::Devmarkt;
use crate::event_store::CommandMetadata;
use aggregates::devmarkt::application::{Answer, ApplicationCommand, ApplicationId, Decision};
use aggregates::devmarkt::template::{Question, QuestionUpdate, TemplateCommand, UpdateAction};
use aggregates::devmarkt::user::{Role, UserCommand, UserId};
use cqrs_es::EventStore;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, post, EndpointExt, Route};
use projections::devmarkt::keys;
use std::sync::Arc;

pub fn routes(devmarkt: Arc<Devmarkt>, route: Route) -> Route {
    if !devmarkt.qa {
        return route;
    }
    route.at("/qa/seedDatabase", post(seed_database).data(devmarkt))
}

/// Answers 200 with an empty body once the seed is in the read model.
#[handler]
async fn seed_database(devmarkt: Data<&Arc<Devmarkt>>) -> poem::Result<StatusCode> {
    devmarkt
        .reseed()
        .await
        .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::INTERNAL_SERVER_ERROR))?;
    Ok(StatusCode::OK)
}

/// The 506-character third answer of answer set A.
pub const LONG_ANSWER: &str = "Lorem ipsum dolor sit amet, consetetur sadipscing elitr, sed diam nonumy eirmod tempor invidunt ut labore\net dolore magna aliquyam erat, sed diam voluptua. At vero eos et accusam et justo duo dolores et ea rebum. Stet c\nlita kasd gubergren, no sea takimata sanctus est Lorem ipsum dolor sit amet. Lorem ipsum dolor sit amet, consetetur sadipscing elitr, se\nd diam nonumy eirmod tempor invidunt ut labore et dolore magna aliquyam erat, sed diam voluptua. At vero eos et accusam et justo duo dolores et e\n N2";

fn question(number: u32, text: &str, multiline: bool, min_answer_length: u32) -> Question {
    Question {
        number,
        question: text.to_owned(),
        multiline,
        min_answer_length,
    }
}

fn answers_a() -> Vec<Answer> {
    vec![
        Answer::new(0, "Lorem ipsum dolor sit amet, co N0"),
        Answer::new(1, "Lorem ipsum dolor sit amet, co N1"),
        Answer::new(2, LONG_ANSWER),
    ]
}

fn seed_failed(what: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(format!("seeding {what}: {error}"))
}

/// Writes the seed of spec 12.1 into `epoch` (which must be empty).
pub async fn seed(devmarkt: &Devmarkt, epoch: u64) -> Result<(), ServiceError> {
    let meta = CommandMetadata::new("qa-seed", None, chrono::Utc::now());
    let user = |id: &UserId| keys::aggregate_id(epoch, id);
    let admin = UserId::built_in_admin();
    devmarkt
        .users
        .commands
        .execute(&user(&admin), UserCommand::ProvisionBuiltInAdmin, &meta)
        .await
        .map_err(|e| seed_failed("the admin", e))?;
    let testuser = |n| UserId::new("testuser", n);
    for (id, role) in [
        (testuser(1), Role::None),
        (testuser(2), Role::User),
        (testuser(3), Role::User),
    ] {
        devmarkt
            .users
            .commands
            .execute(
                &user(&id),
                UserCommand::Create {
                    user_id: id.clone(),
                    role,
                },
                &meta,
            )
            .await
            .map_err(|e| seed_failed("users", e))?;
    }

    let templates = [
        (
            "Dev searched",
            vec![
                question(0, "Who are we?", false, 1),
                question(1, "Why should you join us?", true, 100),
                question(2, "What programming languages should you know?", false, 1),
                question(3, "Custom text:", true, 30),
            ],
        ),
        (
            "Dev offered",
            vec![
                question(0, "Who am I?", false, 1),
                question(1, "What programming language do I know?", false, 1),
                question(2, "Why should you choose me?", true, 500),
            ],
        ),
    ];
    for (name, questions) in templates {
        let command = TemplateCommand::Create {
            name: name.to_owned(),
            questions,
        };
        devmarkt
            .templates
            .commands
            .execute(&keys::aggregate_id(epoch, name), command, &meta)
            .await
            .map_err(|e| seed_failed("templates", e))?;
    }
    // `createTemplate` needs at least one question; an update may empty a
    // template (spec 4.3), which is how an empty one comes about.
    let empty = keys::aggregate_id(epoch, "Empty template");
    let placeholder = question(0, "placeholder", false, 1);
    for command in [
        TemplateCommand::Create {
            name: "Empty template".to_owned(),
            questions: vec![placeholder.clone()],
        },
        TemplateCommand::Update {
            updates: vec![QuestionUpdate {
                action: Some(UpdateAction::Delete),
                question: placeholder,
            }],
        },
    ] {
        devmarkt
            .templates
            .commands
            .execute(&empty, command, &meta)
            .await
            .map_err(|e| seed_failed("the empty template", e))?;
    }

    let applications: [(ApplicationId, UserId, &str, Option<Decision>); 6] = [
        (1, testuser(1), "Dev offered", None),
        (2, testuser(1), "Empty template", Some(Decision::Accepted)),
        (3, testuser(1), "Dev offered", Some(Decision::Rejected)),
        (4, testuser(2), "Dev offered", Some(Decision::Accepted)),
        (5, testuser(2), "Empty template", Some(Decision::Rejected)),
        (6, testuser(3), "Empty template", None),
    ];
    for (id, owner, template, decision) in applications {
        let snapshot = devmarkt
            .templates
            .loader
            .load_aggregate(&keys::aggregate_id(epoch, template))
            .await
            .map_err(|e| seed_failed("applications", e))?
            .aggregate
            .snapshot()
            .ok_or_else(|| seed_failed("applications", "template missing"))?;
        let answers = if snapshot.questions.is_empty() {
            Vec::new()
        } else {
            answers_a()
        };
        let application = keys::aggregate_id(epoch, id);
        let create = ApplicationCommand::Create {
            id,
            owner: owner.clone(),
            template: snapshot,
            answers,
        };
        devmarkt
            .applications
            .commands
            .execute(&application, create, &meta)
            .await
            .map_err(|e| seed_failed("applications", e))?;
        match decision {
            Some(decision) => devmarkt
                .applications
                .commands
                .execute(&application, ApplicationCommand::Process { decision }, &meta)
                .await
                .map_err(|e| seed_failed("applications", e))?,
            // Unprocessed: it holds its owner's current-application slot.
            None => devmarkt
                .users
                .commands
                .execute(
                    &user(&owner),
                    UserCommand::ClaimCurrentApplication { application_id: id },
                    &meta,
                )
                .await
                .map_err(|e| seed_failed("applications", e))?,
        }
    }
    Ok(())
}
