//! Devmarkt's domain: templates, applications, users.
