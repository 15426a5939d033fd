//! What `tickets.status` holds.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A ticket's status: `valid` admits, `void` (refunded) never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Valid,
    Void,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Valid => "valid",
            TicketStatus::Void => "void",
        }
    }

    /// The status as stored; `None` for anything else.
    pub fn parse(stored: &str) -> Option<TicketStatus> {
        match stored {
            "valid" => Some(TicketStatus::Valid),
            "void" => Some(TicketStatus::Void),
            _ => None,
        }
    }

    pub fn is_valid(self) -> bool {
        self == TicketStatus::Valid
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How rows decode it (`#[sqlx(try_from = "String")]`): a value outside the set is a
/// decode error rather than a silently wrong status.
impl TryFrom<String> for TicketStatus {
    type Error = UnknownStatus;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        TicketStatus::parse(&stored).ok_or(UnknownStatus(stored))
    }
}

// Lets code outside the context keep comparing with the stored text.
impl PartialEq<&str> for TicketStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for TicketStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// A stored status outside the known set.
#[derive(Debug)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown ticket status {:?}", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        for status in [TicketStatus::Valid, TicketStatus::Void] {
            assert_eq!(TicketStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
        assert_eq!(TicketStatus::parse("used"), None);
    }
}
