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
    /// What is wrong with the value at `path`; match on it to react to one kind of problem.
    pub kind: PolicyErrorKind,
}

/// What was wrong with the value at [`PolicyError::path`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The text is not JSON (or nests too deeply / is too large to be a policy).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// The document, or one part of it, exceeds a size or work limit of
    /// [`limits`](super::limits): bytes of text or number of JSON values (path `$`), positions
    /// in one polygon, the work of checking fences, or the nesting of approval conditions.
    #[error("document exceeds the limit of {max} {what}")]
    TooLarge {
        /// What was counted, in words: `bytes`, `JSON values`, `positions in one polygon`, ….
        what: &'static str,
        /// The limit, counted in units of `what`.
        max: usize,
    },
    /// A required field is absent; the path names the field that should be there.
    #[error("required field is missing")]
    Missing,
    /// An object has a field this format does not define (often a typo of one it does).
    #[error("unknown field; expected one of: {}", allowed.join(", "))]
    UnknownField {
        /// The fields this object may have, in the order the format documents them.
        allowed: &'static [&'static str],
    },
    /// The same field appears twice in one object.
    #[error("field appears more than once in the same object")]
    DuplicateField,
    /// The value has another JSON type than the field takes (a string where a number goes,
    /// a number where an object goes, …).
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The type the field takes, in words: `string`, `number`, `non-negative integer`,
        /// `object`, `position [longitude, latitude]`, ….
        expected: &'static str,
        /// What the document has instead: its type and a shortened rendering, e.g.
        /// `string "120"` or `array of 3 elements`.
        found: String,
    },
    /// An empty string or list where at least one character or element is needed.
    #[error("must not be empty")]
    Empty,
    /// A string longer than its limit, counted in Unicode characters.
    #[error("too long: {len} characters, at most {max} allowed")]
    TooLong {
        /// The most characters allowed.
        max: usize,
        /// How many characters the string has.
        len: usize,
    },
    /// A list with more elements than its limit.
    #[error("too many elements: {len}, at most {max} allowed")]
    TooMany {
        /// The most elements allowed.
        max: usize,
        /// How many elements the list has.
        len: usize,
    },
    /// A value that must be unique already appeared at the path `first`.
    #[error("duplicate {value}, first used at {first}")]
    Duplicate {
        /// The repeated value, quoted as the document writes it.
        value: String,
        /// Path of the value's first occurrence, e.g. `sites[0].id`.
        first: String,
    },
    /// An id that refers to something the policy does not define.
    #[error("unknown {target} {value}")]
    UnknownReference {
        /// What the id should name, in words: `site`, `employee`, `role`, `leave type`,
        /// `punch kind` or `field of this template`.
        target: &'static str,
        /// The id, quoted as the document writes it.
        value: String,
    },
    /// A JWK carries private key material; a policy only ever holds public keys.
    #[error("JWK contains the private key member \"d\"; a policy must only contain public keys")]
    PrivateKey,
    /// A fence's geometry is not usable (see [`GeometryProblem`]).
    #[error("invalid geometry {value}: {problem}")]
    Geometry {
        /// The ring or polygon concerned, as shortened JSON.
        value: String,
        /// What is wrong with it.
        problem: GeometryProblem,
    },
    /// A value of the right type that the format still does not allow: out of its range, not
    /// an IANA time zone, not a BSSID, a management chain that loops, ….
    #[error("invalid value {value}: {reason}")]
    Invalid {
        /// The value as the document writes it, shortened (`[…]` when the problem is a whole
        /// list).
        value: String,
        /// Why it is refused and what would be accepted, in English for people.
        reason: String,
    },
}

/// What is wrong with a ring or a fence. Positions and edges are numbered by their index in the
/// ring's JSON array; edge `i` runs from position `i` to the next distinct position.
#[derive(Debug, Clone, PartialEq)]
pub enum GeometryProblem {
    /// A ring needs at least four positions, three of them distinct (the last repeats the first).
    TooFewPositions {
        /// How many distinct positions the ring has, the closing repeat not counted.
        distinct: usize,
    },
    /// The last position of a ring differs from the first.
    NotClosed,
    /// All positions of the ring lie on one line, or it encloses less than 1 m².
    ZeroArea,
    /// Two edges of the ring cross, touch or overlap (a bow-tie, a spike, a pinched ring).
    SelfIntersection {
        /// The lower-numbered of the two edges.
        edge: usize,
        /// The higher-numbered edge, the one `edge` meets.
        other_edge: usize,
        /// A point where they meet, `[longitude, latitude]` in degrees.
        at: [f64; 2],
    },
    /// A hole is not strictly inside its polygon's exterior ring.
    HoleOutsideShell,
    /// Two rings of one polygon share part of an edge; `other` is the other ring's index.
    RingsShareEdge {
        /// Index of the other ring in the polygon's list of rings (0 is the exterior).
        other: usize,
    },
    /// Two holes of one polygon overlap; `other` is the other hole's ring index.
    HolesOverlap {
        /// Index of the other hole in the polygon's list of rings (holes start at 1).
        other: usize,
    },
    /// The fence is wider than the geofence engine accepts (bounding-box diagonal, metres).
    TooWide {
        /// The diagonal of the fence's bounding box, in metres.
        across_m: f64,
        /// The limit, [`MAX_FENCE_ACROSS_M`](super::limits::MAX_FENCE_ACROSS_M), in metres.
        max_m: f64,
    },
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
