//! The OpenAPI 3.1 document of the server, generated from the handlers' `#[utoipa::path]`
//! annotations and the protocol types of `daka_core::protocol`.
//!
//! The server serves it at `GET /openapi.json`; the same text is committed as
//! `docs/openapi.json`, and a test fails when the two differ (regenerate with
//! `DAKA_UPDATE_OPENAPI=1 cargo test -p daka-server --test openapi`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{admin, attachments, attendance, console, device, health, requests, scopes};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The device's bearer token from `POST /v1/enroll` or `POST /v1/token`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The organisation's admin token (from the seed file, or the last \
                         `POST /admin/v1/admin-token/rotate`), which may call every admin \
                         route; or a scoped API token (`daka_at_…`, created on the console's \
                         API tokens page), which may call the routes whose scope it holds: each \
                         operation's `security` names its scope. Without it: 403 \
                         `insufficient_scope`; a revoked or expired API token: 401.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The server's metrics token (`ServerOptions::metrics_token`, \
                         `daka serve --metrics-token`), required by `GET /metrics` only when \
                         one is set.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Sets each admin operation's `security` to the scope [`scopes::ADMIN_ROUTES`] gives it
/// (none for the routes that take the admin token only).
struct Scopes;

impl Modify for Scopes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::HttpMethod;
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/admin/") {
                continue;
            }
            let ops = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let method = match method {
                    HttpMethod::Get => axum::http::Method::GET,
                    HttpMethod::Put => axum::http::Method::PUT,
                    HttpMethod::Post => axum::http::Method::POST,
                    HttpMethod::Delete => axum::http::Method::DELETE,
                    _ => axum::http::Method::PATCH,
                };
                let scopes: Vec<&str> = match scopes::need(&method, path) {
                    scopes::Need::Scope(s) => vec![s],
                    scopes::Need::AdminToken => Vec::new(),
                };
                if let Some(scope) = scopes.first() {
                    op.responses
                        .responses
                        .entry("403".to_owned())
                        .or_insert_with(|| {
                            utoipa::openapi::ResponseBuilder::new()
                                .description(format!(
                                    "`insufficient_scope`: an API token without `{scope}`"
                                ))
                                .content(
                                    "application/json",
                                    utoipa::openapi::ContentBuilder::new()
                                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                            "ApiError",
                                        )))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
                op.security = Some(vec![SecurityRequirement::new("admin_token", scopes)]);
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "daka sync protocol",
        description = "The HTTP/JSON protocol between the daka SDK and a daka server (protocol version 1 under `/v1`), \
            and the reference server's admin API (`/admin/v1`). Every response carries the server time; \
            every error is an `ApiError` with a stable `code`. 429 and 503 carry `Retry-After`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        device::enroll,
        device::enroll_challenge,
        device::token,
        device::policy,
        device::push,
        device::push_turn,
        device::changes,
        requests::mine,
        requests::request,
        requests::inbox,
        requests::leave_balances,
        attachments::put_attachment,
        attachments::get_attachment,
        requests::admin_request,
        requests::admin_corrections,
        admin::publish_policy,
        admin::check_policy,
        admin::current_policy,
        admin::issue_code,
        admin::devices,
        admin::revoke_device,
        admin::punches,
        admin::verify_chains,
        attendance::days,
        attendance::month,
        attendance::report,
        attendance::roster_warnings,
        attendance::lock,
        attendance::locks,
        attendance::unlock,
        attendance::late_changes,
        console::create_account,
        console::audit,
        console::rotate_admin_token,
        health::health,
        health::ready,
        crate::api::metrics::metrics,
    ),
    modifiers(&Security, &Scopes),
    tags(
        (name = "device", description = "What devices call (daka-core's `SyncClient`)"),
        (name = "admin", description = "Organisation administration, with the admin token"),
        (name = "attendance", description = "Attendance for administrators, with the admin token: confirmed day results, months, the payroll export, roster warnings, month locks"),
        (name = "console", description = "The web console's accounts and audit, with the admin token"),
        (name = "operations", description = "Liveness, readiness and metrics, for load balancers and monitoring"),
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document as pretty JSON, with a final newline (the form committed in
/// `docs/openapi.json`).
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
