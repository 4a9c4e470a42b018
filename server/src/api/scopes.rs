//! Scopes of API tokens, and the scope each admin route needs.
//!
//! The organisation's admin token may call every `/admin/v1` route. A scoped API token (created
//! by an HR administrator on the console's API tokens page, `daka_at_…`) may call a route only
//! when it holds the route's scope: otherwise 403 `insufficient_scope`, naming the scope. A
//! route listed with no scope ([`Need::AdminToken`]) takes the admin token only, and so does
//! an admin route missing from [`ADMIN_ROUTES`]: a new route is closed to API tokens until it
//! is given a scope here. The OpenAPI document lists each route's scope from the same table.

use axum::http::Method;

/// The scopes an API token can hold, with what each allows.
pub const SCOPES: &[(&str, &str)] = &[
    ("policy:read", "read the policy and check a draft"),
    ("policy:write", "publish a policy"),
    ("devices:read", "list devices and verify their chains"),
    ("devices:write", "issue enrolment codes and revoke devices"),
    (
        "attendance:read",
        "read punches, days, months, locks and late changes",
    ),
    ("attendance:lock", "lock and unlock months"),
    ("reports:read", "download the monthly attendance export"),
    ("requests:read", "read requests and corrections"),
    (
        "console:admin",
        "create console accounts and read the console audit",
    ),
];

/// What an admin route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The admin token, or an API token with this scope.
    Scope(&'static str),
    /// The organisation's admin token only.
    AdminToken,
}

/// Every admin route (method, path as the router writes it) and what it needs.
pub const ADMIN_ROUTES: &[(&str, &str, Need)] = &[
    (
        "GET",
        "/admin/v1/requests/{request_id}",
        Need::Scope("requests:read"),
    ),
    ("GET", "/admin/v1/corrections", Need::Scope("requests:read")),
    ("PUT", "/admin/v1/policy", Need::Scope("policy:write")),
    ("GET", "/admin/v1/policy", Need::Scope("policy:read")),
    ("POST", "/admin/v1/policy/check", Need::Scope("policy:read")),
    (
        "POST",
        "/admin/v1/enrollment-codes",
        Need::Scope("devices:write"),
    ),
    ("GET", "/admin/v1/devices", Need::Scope("devices:read")),
    (
        "POST",
        "/admin/v1/devices/{device_id}/revoke",
        Need::Scope("devices:write"),
    ),
    ("GET", "/admin/v1/punches", Need::Scope("attendance:read")),
    (
        "GET",
        "/admin/v1/chains/verify",
        Need::Scope("devices:read"),
    ),
    (
        "GET",
        "/admin/v1/attendance/days",
        Need::Scope("attendance:read"),
    ),
    (
        "GET",
        "/admin/v1/attendance/month",
        Need::Scope("attendance:read"),
    ),
    (
        "GET",
        "/admin/v1/attendance/roster-warnings",
        Need::Scope("attendance:read"),
    ),
    (
        "POST",
        "/admin/v1/attendance/locks",
        Need::Scope("attendance:lock"),
    ),
    (
        "GET",
        "/admin/v1/attendance/locks",
        Need::Scope("attendance:read"),
    ),
    (
        "DELETE",
        "/admin/v1/attendance/locks/{month}",
        Need::Scope("attendance:lock"),
    ),
    (
        "GET",
        "/admin/v1/attendance/late-changes",
        Need::Scope("attendance:read"),
    ),
    (
        "GET",
        "/admin/v1/reports/attendance",
        Need::Scope("reports:read"),
    ),
    (
        "POST",
        "/admin/v1/console/accounts",
        Need::Scope("console:admin"),
    ),
    (
        "GET",
        "/admin/v1/console/audit",
        Need::Scope("console:admin"),
    ),
    ("POST", "/admin/v1/admin-token/rotate", Need::AdminToken),
];

/// What the route `path` (as matched, e.g. `/admin/v1/attendance/locks/{month}`) needs for
/// `method`; the admin token only when the table does not list it.
pub fn need(method: &Method, path: &str) -> Need {
    ADMIN_ROUTES
        .iter()
        .find(|(m, p, _)| *p == path && method.as_str() == *m)
        .map_or(Need::AdminToken, |(_, _, n)| *n)
}

/// What a request to `path` (e.g. `/admin/v1/attendance/locks/2026-11`) needs for `method`:
/// the route whose pattern matches it segment by segment (`{…}` matches any one segment);
/// the admin token only when none does.
pub fn need_of_request(method: &Method, path: &str) -> Need {
    let matches = |pattern: &str| {
        let mut want = pattern.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w == g || (w.starts_with('{') && !g.is_empty()) => {}
                _ => return false,
            }
        }
    };
    ADMIN_ROUTES
        .iter()
        .find(|(m, p, _)| method.as_str() == *m && matches(p))
        .map_or(Need::AdminToken, |(_, _, n)| *n)
}

/// Whether `scope` is one of [`SCOPES`].
pub fn known(scope: &str) -> bool {
    SCOPES.iter().any(|(s, _)| *s == scope)
}
