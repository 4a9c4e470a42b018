//! Typed policy errors that name the JSON path of the bad value.
//!
//! A [`PolicyError`] is always *where* ([`PolicyError::path`]) plus *what*
//! ([`PolicyErrorKind`]). Paths use the form `sites[2].fences[0].coordinates[0][3]`, with `$` for
//! the document itself; object keys that are not plain identifiers are quoted, as in
//! `org["time zone"]`. Values quoted inside a kind are shortened to at most 80 characters so an
//! error about a megabyte string stays small enough to log and show.
//!
//! The kinds are meant to be matched on by tools (an admin console highlighting the bad field)
//! and read by people (their `Display` says what is wrong in words, with the numbers).

use std::fmt;

/// A policy document failed to load. `path` is where, `kind` is what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct PolicyError {
    /// Path of the bad value, e.g. `sites[2].fences[0].coordinates[0][3]`; `$` for the root.
    pub path: String,
    pub kind: PolicyErrorKind,
}

/// What was wrong with the value at [`PolicyError::path`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The text is not JSON (or nests too deeply / is too large to be a policy).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// The document is larger than a policy may be (bytes of text or number of JSON values).
    #[error("document exceeds the limit of {max} {what}")]
    TooLarge { what: &'static str, max: usize },
    #[error("required field is missing")]
    Missing,
    /// An object has a field this format does not define (often a typo of one it does).
    #[error("unknown field; expected one of: {}", allowed.join(", "))]
    UnknownField { allowed: &'static [&'static str] },
    /// The same field appears twice in one object.
    #[error("field appears more than once in the same object")]
    DuplicateField,
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    /// An empty string or list where at least one character or element is needed.
    #[error("must not be empty")]
    Empty,
    /// A string longer than its limit, counted in Unicode characters.
    #[error("too long: {len} characters, at most {max} allowed")]
    TooLong { max: usize, len: usize },
    /// A list with more elements than its limit.
    #[error("too many elements: {len}, at most {max} allowed")]
    TooMany { max: usize, len: usize },
    /// A value that must be unique already appeared at the path `first`.
    #[error("duplicate {value}, first used at {first}")]
    Duplicate { value: String, first: String },
    /// An id that refers to something the policy does not define.
    #[error("unknown {target} {value}")]
    UnknownReference { target: &'static str, value: String },
    /// A JWK carries private key material; a policy only ever holds public keys.
    #[error("JWK contains the private key member \"d\"; a policy must only contain public keys")]
    PrivateKey,
    /// A fence's geometry is not usable (see [`GeometryProblem`]).
    #[error("invalid geometry {value}: {problem}")]
    Geometry {
        value: String,
        problem: GeometryProblem,
    },
    #[error("invalid value {value}: {reason}")]
    Invalid { value: String, reason: String },
}

/// What is wrong with a ring or a fence. Positions and edges are numbered by their index in the
/// ring's JSON array; edge `i` runs from position `i` to the next distinct position.
#[derive(Debug, Clone, PartialEq)]
pub enum GeometryProblem {
    /// A ring needs at least four positions, three of them distinct (the last repeats the first).
    TooFewPositions { distinct: usize },
    /// The last position of a ring differs from the first.
    NotClosed,
    /// All positions of the ring lie on one line, or it encloses less than 1 m².
    ZeroArea,
    /// Two edges of the ring cross, touch or overlap (a bow-tie, a spike, a pinched ring).
    SelfIntersection {
        edge: usize,
        other_edge: usize,
        at: [f64; 2],
    },
    /// A hole is not strictly inside its polygon's exterior ring.
    HoleOutsideShell,
    /// Two rings of one polygon share part of an edge; `other` is the other ring's index.
    RingsShareEdge { other: usize },
    /// Two holes of one polygon overlap; `other` is the other hole's ring index.
    HolesOverlap { other: usize },
    /// The fence is wider than the geofence engine accepts (bounding-box diagonal, metres).
    TooWide { across_m: f64, max_m: f64 },
}

impl fmt::Display for GeometryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryProblem::TooFewPositions { distinct } => write!(
                f,
                "a ring needs at least 4 positions with 3 distinct ones, found {distinct} distinct"
            ),
            GeometryProblem::NotClosed => {
                write!(
                    f,
                    "ring is not closed: the last position must equal the first"
                )
            }
            GeometryProblem::ZeroArea => write!(f, "ring encloses no area (under 1 m²)"),
            GeometryProblem::SelfIntersection {
                edge,
                other_edge,
                at,
            } => write!(
                f,
                "ring intersects itself: edge {edge} meets edge {other_edge} at [{}, {}]",
                at[0], at[1]
            ),
            GeometryProblem::HoleOutsideShell => {
                write!(f, "hole is not inside the polygon's exterior ring")
            }
            GeometryProblem::RingsShareEdge { other } => {
                write!(f, "ring shares part of an edge with ring {other}")
            }
            GeometryProblem::HolesOverlap { other } => write!(f, "hole overlaps hole {other}"),
            GeometryProblem::TooWide { across_m, max_m } => write!(
                f,
                "fence is {:.1} km across, at most {:.1} km allowed",
                across_m / 1000.0,
                max_m / 1000.0
            ),
        }
    }
}

impl PolicyError {
    pub(crate) fn new(path: impl Into<String>, kind: PolicyErrorKind) -> PolicyError {
        PolicyError {
            path: path.into(),
            kind,
        }
    }
}
