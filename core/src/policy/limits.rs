//! Hard limits a policy document must stay within, so that loading one cannot exhaust a phone's
//! memory or CPU, whatever the document contains.
//!
//! They are generous for real organisations (a 100,000-site chain with simple fences fits) and
//! are part of the format: `docs/policy.md` lists them, and a document over any of them is
//! rejected with a [`PolicyError`](super::PolicyError) naming where.

/// Largest accepted document, in bytes of UTF-8 text (32 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024 * 1024;
/// Most JSON values (objects, arrays, strings, numbers, booleans, nulls) in one document. Bounds
/// the memory of the parsed tree to roughly 200 MB even for a document built to be costly.
pub const MAX_JSON_VALUES: usize = 8_000_000;
/// Deepest nesting of arrays and objects, the document's own object included (serde_json's
/// recursion limit of 128 refuses the 128th level); a policy needs 7.
pub const MAX_DEPTH: usize = 127;

/// Longest id (org, site, employee, key `kid`), in Unicode characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest display name, in Unicode characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest face-matcher issuer (`iss`), in Unicode characters.
pub const MAX_ISSUER_CHARS: usize = 512;

/// Most entries in the document's `sites` list.
pub const MAX_SITES: usize = 100_000;
/// Most entries in the document's `employees` list.
pub const MAX_EMPLOYEES: usize = 1_000_000;
/// Most sites one employee may be allowed at (a regional manager may cover every shop).
pub const MAX_SITES_PER_EMPLOYEE: usize = MAX_SITES;
/// Most trusted keys in the document's `face_matchers` list.
pub const MAX_FACE_MATCHERS: usize = 100;
/// Most entries in one site's `fences` list.
pub const MAX_FENCES_PER_SITE: usize = 100;
/// Most polygons in one MultiPolygon fence.
pub const MAX_POLYGONS_PER_MULTIPOLYGON: usize = 1_000;
/// Most rings (exterior plus holes) in one polygon.
pub const MAX_RINGS_PER_POLYGON: usize = 101;
/// Most positions in one ring, the closing repeat included.
pub const MAX_POSITIONS_PER_RING: usize = 10_000;
/// Most positions in one polygon, all its rings together; bounds the cost of checking holes
/// against the exterior and against each other.
pub const MAX_POSITIONS_PER_POLYGON: usize = 20_000;
/// Most edge pairs the ring-simplicity check may compare in one document. Real outlines need
/// a few per edge (a 100,000-site policy uses a few million); only rings crafted so that every
/// edge overlaps every other in longitude come near it.
pub const MAX_EDGE_PAIR_CHECKS: u64 = 50_000_000;
/// Most ring positions the hole checks may compare in one document: each comparison of a
/// hole with its exterior ring or with an overlapping hole costs both rings' positions. A
/// 10,000-position outline with 100 holes uses about 1,000,000.
pub const MAX_HOLE_CHECK_POSITIONS: u64 = 10_000_000;
/// Most Wi-Fi BSSIDs in one site's allow-list.
pub const MAX_BSSIDS_PER_SITE: usize = 1_000;

/// Widest fence, as the diagonal of its bounding box in metres. The geofence engine's local
/// tangent-plane approximation is accurate to 0.5 m up to 5 km; 50 km is the hard cap.
pub const MAX_FENCE_ACROSS_M: f64 = 50_000.0;
/// Largest circle radius in metres.
pub const MAX_CIRCLE_RADIUS_M: f64 = 20_000.0;
/// Smallest area a ring must enclose, in square metres.
pub const MIN_RING_AREA_M2: f64 = 1.0;

/// Largest `version`: 2^53 − 1, so JavaScript tooling reads it exactly.
pub const MAX_VERSION: u64 = (1 << 53) - 1;
/// Largest `tolerance_m` a site may set, metres.
pub const MAX_TOLERANCE_M: f64 = 200.0;
/// Default `thresholds.presence.accept_probability` under the probability rule.
pub const DEFAULT_ACCEPT_PROBABILITY: f64 = 0.6;
/// Default `thresholds.presence.reject_probability` under the probability rule.
pub const DEFAULT_REJECT_PROBABILITY: f64 = 0.001;
