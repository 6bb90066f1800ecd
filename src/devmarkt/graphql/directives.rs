//! The schema's directive declarations (spec 6.1), applied where the spec
//! applies them so introspection and the SDL show them. They declare only:
//! the checks that give them meaning run in `gate` (the reference's
//! directives were checked by wiring, too).

use async_graphql::TypeDirective;

#[TypeDirective(name = "Auth", location = "FieldDefinition")]
pub fn auth(role: String) {}

#[TypeDirective(name = "AuthOwnApplication", location = "FieldDefinition")]
pub fn auth_own_application(id_field: String) {}

#[TypeDirective(
    name = "NotBlank",
    location = "ArgumentDefinition",
    location = "InputFieldDefinition"
)]
pub fn not_blank(#[graphql(default = "graphql.validation.NotBlank.message")] message: String) {}

#[TypeDirective(name = "Size", location = "ArgumentDefinition", location = "InputFieldDefinition")]
pub fn size(
    #[graphql(default = 0)] min: i32,
    #[graphql(default = 2147483647)] max: i32,
    #[graphql(default = "graphql.validation.Size.message")] message: String,
) {
}

#[TypeDirective(name = "Range", location = "ArgumentDefinition", location = "InputFieldDefinition")]
pub fn range(
    #[graphql(default = 0)] min: i32,
    #[graphql(default = 2147483647)] max: i32,
    #[graphql(default = "graphql.validation.Range.message")] message: String,
) {
}

#[TypeDirective(
    name = "ContainerSize",
    location = "ArgumentDefinition",
    location = "InputFieldDefinition"
)]
pub fn container_size(
    #[graphql(default = 0)] min: i32,
    #[graphql(default = 2147483647)] max: i32,
    #[graphql(default = "graphql.validation.ContainerSize.message")] message: String,
) {
}

pub fn user() -> String {
    "user".to_owned()
}

pub fn admin() -> String {
    "admin".to_owned()
}
