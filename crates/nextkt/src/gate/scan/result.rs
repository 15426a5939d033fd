//! What `scans.result` holds and a scan's answer says.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The closed set of scan results. `Pending` is only ever stored, while the writer holds
/// the scan's row; every answer is one of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanResult {
    Pending,
    /// Let in (or, for an offline scan, what the device says when it let someone in).
    Valid,
    AlreadyUsed,
    NotOnThisList,
    Revoked,
    NotYetValid,
    ListClosed,
    WrongEvent,
    Unknown,
    /// An exit of someone inside.
    Exited,
    /// An exit of someone not inside.
    NotInside,
}

impl ScanResult {
    pub const ALL: [ScanResult; 11] = [
        ScanResult::Pending,
        ScanResult::Valid,
        ScanResult::AlreadyUsed,
        ScanResult::NotOnThisList,
        ScanResult::Revoked,
        ScanResult::NotYetValid,
        ScanResult::ListClosed,
        ScanResult::WrongEvent,
        ScanResult::Unknown,
        ScanResult::Exited,
        ScanResult::NotInside,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanResult::Pending => "pending",
            ScanResult::Valid => "valid",
            ScanResult::AlreadyUsed => "already_used",
            ScanResult::NotOnThisList => "not_on_this_list",
            ScanResult::Revoked => "revoked",
            ScanResult::NotYetValid => "not_yet_valid",
            ScanResult::ListClosed => "list_closed",
            ScanResult::WrongEvent => "wrong_event",
            ScanResult::Unknown => "unknown",
            ScanResult::Exited => "exited",
            ScanResult::NotInside => "not_inside",
        }
    }

    /// The result as stored; `None` for anything else.
    pub fn parse(stored: &str) -> Option<ScanResult> {
        ScanResult::ALL.into_iter().find(|r| r.as_str() == stored)
    }
}

impl fmt::Display for ScanResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        for result in ScanResult::ALL {
            assert_eq!(ScanResult::parse(result.as_str()), Some(result));
            let json = serde_json::to_string(&result).unwrap();
            assert_eq!(json, format!("\"{}\"", result.as_str()));
            assert_eq!(serde_json::from_str::<ScanResult>(&json).unwrap(), result);
        }
        assert_eq!(ScanResult::parse("admitted"), None);
    }
}
