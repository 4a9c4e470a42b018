//! The chain-link rule, in one place: what a record must carry to continue a chain whose last
//! record is known.
//!
//! A [`ChainHead`] is the end of a device's chain: the seq and hash of its last record, or the
//! empty chain (seq 0, no hash). The record that continues it has seq `head.seq + 1` and
//! `prev_hash` equal to the head's hash; [`ChainHead::check_next`] names what else it is:
//!
//! | the record's seq        | [`ChainLinkError`] | [`code`](ChainLinkError::code) | [`push_code`](ChainLinkError::push_code) |
//! |-------------------------|--------------------|--------------------------------|------------------------------------------|
//! | at or before the head   | `Fork`             | `fork`                         | `fork`                                   |
//! | beyond the next one     | `Gap`              | `gap`                          | `chain_gap`                              |
//! | the next, wrong link    | `BrokenLink`       | `broken_link`                  | `broken_link`                            |
//!
//! The writer ([`PunchChain`](super::PunchChain)) keeps a head to make the next record from,
//! the verifier ([`verify_chain`](super::verify_chain)) checks each record it walks against
//! the head before it, and a server checks each pushed record against the head it stored for
//! the device. What a caller concludes from a `Fork` or a `Gap`
//! depends on what else it knows (the verifier looks at the rest of the log to tell a fork
//! from a duplicate or a reordering), so the rule only reports the facts.
//!
//! This file decides nothing about signatures or the format's other rules: `record.rs` does.

use std::fmt;

use super::record::PunchBody;
use crate::protocol::ItemCode;

/// The end of a chain: the seq and hash of its last record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// Seq of the last record; 0 for the empty chain.
    pub seq: u64,
    /// Hash of the last record; `None` for the empty chain.
    pub hash: Option<String>,
}

/// How a record fails to continue a [`ChainHead`], with the numbers to report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainLinkError {
    /// The record's seq is already used: at or before the head's.
    Fork {
        /// The head's seq: that of the chain's last record.
        head_seq: u64,
        /// The record's seq, at or before `head_seq`.
        found_seq: u64,
    },
    /// Records between the head and this one are missing.
    Gap {
        /// The seq the next record must have: `head_seq + 1`.
        expected_seq: u64,
        /// The record's seq, beyond it.
        found_seq: u64,
    },
    /// The next seq, but `prev_hash` is not the head's hash.
    BrokenLink {
        /// The head's hash (lower-case hex SHA-256); `None` for the empty chain.
        expected_hash: Option<String>,
        /// The record's `prev_hash`.
        found_hash: Option<String>,
    },
}

impl ChainHead {
    /// The head of the empty chain: the next record is seq 1, with no `prev_hash`.
    pub fn empty() -> ChainHead {
        ChainHead::default()
    }

    /// The head whose last record has `seq` and `hash`.
    pub fn at(seq: u64, hash: impl Into<String>) -> ChainHead {
        ChainHead {
            seq,
            hash: Some(hash.into()),
        }
    }

    /// The seq the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    /// Whether `record` is the record that continues this chain: seq one more than the head's,
    /// and `prev_hash` the head's hash.
    pub fn check_next(&self, record: &PunchBody) -> Result<(), ChainLinkError> {
        let found_seq = record.seq;
        if found_seq <= self.seq {
            return Err(ChainLinkError::Fork {
                head_seq: self.seq,
                found_seq,
            });
        }
        if found_seq > self.next_seq() {
            return Err(ChainLinkError::Gap {
                expected_seq: self.next_seq(),
                found_seq,
            });
        }
        if record.prev_hash != self.hash {
            return Err(ChainLinkError::BrokenLink {
                expected_hash: self.hash.clone(),
                found_hash: record.prev_hash.clone(),
            });
        }
        Ok(())
    }
}

impl ChainLinkError {
    /// The code [`verify_chain`](super::verify_chain) reports it with when nothing else in the
    /// log explains it: `fork`, `gap` or `broken_link`.
    pub fn code(&self) -> &'static str {
        match self {
            ChainLinkError::Fork { .. } => "fork",
            ChainLinkError::Gap { .. } => "gap",
            ChainLinkError::BrokenLink { .. } => "broken_link",
        }
    }

    /// The answer code of the sync protocol's push for a record that does not continue the
    /// device's stored head: `fork`, `chain_gap` or `broken_link`. The wire words differ from
    /// [`code`](ChainLinkError::code) for a gap only; both are stable, and this is the one
    /// place that maps one to the other.
    pub fn push_code(&self) -> ItemCode {
        match self {
            ChainLinkError::Fork { .. } => ItemCode::Fork,
            ChainLinkError::Gap { .. } => ItemCode::ChainGap,
            ChainLinkError::BrokenLink { .. } => ItemCode::BrokenLink,
        }
    }
}

impl fmt::Display for ChainLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainLinkError::Fork {
                head_seq,
                found_seq,
            } => write!(
                f,
                "seq {found_seq} is already used in the chain (which reaches seq {head_seq})"
            ),
            ChainLinkError::Gap {
                expected_seq,
                found_seq,
            } => write!(f, "expected seq {expected_seq}, found {found_seq}"),
            ChainLinkError::BrokenLink {
                expected_hash,
                found_hash,
            } => write!(
                f,
                "prev_hash is {} but the previous record hashes to {}",
                found_hash.as_deref().unwrap_or("null"),
                expected_hash.as_deref().unwrap_or("null")
            ),
        }
    }
}

impl std::error::Error for ChainLinkError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::punch::PunchRecord;

    /// The example record of `docs/punch-record.md` (seq 1), moved to `seq` after `prev_hash`.
    fn record(seq: u64, prev_hash: Option<&str>) -> PunchBody {
        let text = include_str!("../../../docs/punch-record.md")
            .lines()
            .find(|line| line.starts_with("{\"clock\""))
            .expect("the specification shows a record on one line");
        let mut body = PunchRecord::from_json(text).unwrap().body;
        body.seq = seq;
        body.prev_hash = prev_hash.map(str::to_owned);
        body
    }

    #[test]
    fn the_next_record_continues_the_head_and_others_are_named() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        assert_eq!(ChainHead::empty().check_next(&record(1, None)), Ok(()));
        let head = ChainHead::at(4, &a);
        assert_eq!(head.next_seq(), 5);
        assert_eq!(head.check_next(&record(5, Some(&a))), Ok(()));
        for seq in [1, 4] {
            let e = head.check_next(&record(seq, Some(&a))).unwrap_err();
            assert_eq!(
                e,
                ChainLinkError::Fork {
                    head_seq: 4,
                    found_seq: seq
                }
            );
            assert_eq!((e.code(), e.push_code().as_str()), ("fork", "fork"));
        }
        let e = head.check_next(&record(7, Some(&a))).unwrap_err();
        assert_eq!(
            e,
            ChainLinkError::Gap {
                expected_seq: 5,
                found_seq: 7
            }
        );
        assert_eq!((e.code(), e.push_code().as_str()), ("gap", "chain_gap"));
        let e = head.check_next(&record(5, Some(&b))).unwrap_err();
        assert_eq!(
            e,
            ChainLinkError::BrokenLink {
                expected_hash: Some(a.clone()),
                found_hash: Some(b.clone())
            }
        );
        assert_eq!(
            (e.code(), e.push_code().as_str()),
            ("broken_link", "broken_link")
        );
        // The empty chain: seq 1 must carry no link.
        let e = ChainHead::empty()
            .check_next(&record(1, Some(&a)))
            .unwrap_err();
        assert_eq!(e.code(), "broken_link");
    }
}
