//! What a pushed item is and which stream it travels in: the `kind` and `stream` words of
//! `POST /v1/push`, defined once for the device that queues items and the server that takes
//! them in.
//!
//! A stream is the ordering scope of the outbox: items of one stream leave, and are applied,
//! in order, while a permanently refused item blocks no other stream. A device's punches form
//! one stream (its hash chain); every item about one approval request (its submissions and
//! the decisions on it) forms another.

use serde::{Deserialize, Serialize};

/// The kind of a pushed item (`PushItem::kind` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A signed punch record, in the device's [`punch_stream`].
    Punch,
    /// A signed request submission (or resubmission), in the request's [`request_stream`].
    Request,
    /// A signed decision on a request, in the request's [`request_stream`].
    Decision,
}

impl ItemKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ItemKind] = &[ItemKind::Punch, ItemKind::Request, ItemKind::Decision];

    /// The wire word, e.g. `"punch"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ItemKind::Punch => "punch",
            ItemKind::Request => "request",
            ItemKind::Decision => "decision",
        }
    }

    /// Reads the wire word; `None` for a kind this build does not know.
    pub fn parse(text: &str) -> Option<ItemKind> {
        ItemKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// Whether items of this kind are about an approval request (a submission or a decision).
    pub fn is_approval(self) -> bool {
        matches!(self, ItemKind::Request | ItemKind::Decision)
    }
}

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stream of a device's punches: `punch:{device_id}`.
pub fn punch_stream(device_id: &str) -> String {
    format!("punch:{device_id}")
}

/// The stream of the items about one request: `request:{request_id}`.
pub fn request_stream(request_id: &str) -> String {
    format!("request:{request_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire words; renaming one breaks every device and server already deployed.
    #[test]
    fn wire_words_are_pinned() {
        let words: Vec<&str> = ItemKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words, ["punch", "request", "decision"]);
        assert_eq!(punch_stream("dev-1"), "punch:dev-1");
        assert_eq!(request_stream("019a-r"), "request:019a-r");
    }

    #[test]
    fn kinds_round_trip_through_text_and_json() {
        for &kind in ItemKind::ALL {
            assert_eq!(ItemKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<ItemKind>(&json).unwrap(), kind);
        }
        assert_eq!(ItemKind::parse("Punch"), None);
        assert_eq!(ItemKind::parse(""), None);
    }
}
