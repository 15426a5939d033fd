//! A hold's status, as stored in `holds.status`: a hold is `active` until it is released by
//! the buyer or an operator, expires, or is converted into sold inventory.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Released,
    Expired,
    Converted,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Active => "active",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
            HoldStatus::Converted => "converted",
        }
    }
}

/// An unknown hold status read from the database.
#[derive(Debug)]
pub struct UnknownHoldStatus(pub String);

impl fmt::Display for UnknownHoldStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown hold status {:?}", self.0)
    }
}

impl std::error::Error for UnknownHoldStatus {}

impl FromStr for HoldStatus {
    type Err = UnknownHoldStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(HoldStatus::Active),
            "released" => Ok(HoldStatus::Released),
            "expired" => Ok(HoldStatus::Expired),
            "converted" => Ok(HoldStatus::Converted),
            _ => Err(UnknownHoldStatus(s.to_string())),
        }
    }
}

// Lets rows decode the column with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for HoldStatus {
    type Error = UnknownHoldStatus;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Code elsewhere compares a hold's status with the stored string.
impl PartialEq<&str> for HoldStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::HoldStatus;

    #[test]
    fn strings_round_trip() {
        for s in [
            HoldStatus::Active,
            HoldStatus::Released,
            HoldStatus::Expired,
            HoldStatus::Converted,
        ] {
            assert_eq!(s.as_str().parse::<HoldStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("ACTIVE".parse::<HoldStatus>().is_err());
    }
}
