//! The statuses payments keeps, as stored in `payments.status` and `refunds.status`. The
//! strings are what the database, the API and the SQL literals use; these types keep Rust
//! code from comparing strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An unknown status string read from the database.
#[derive(Debug)]
pub struct UnknownStatus {
    kind: &'static str,
    value: String,
}

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} status {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownStatus {}

macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus {
                        kind: $kind,
                        value: s.to_string(),
                    }),
                }
            }
        }

        // Lets rows decode the column with `#[sqlx(try_from = "String")]`.
        impl TryFrom<String> for $name {
            type Error = UnknownStatus;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = UnknownStatus;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Code elsewhere compares a row's status with the stored string.
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

status_enum! {
    /// A payment's status (`payments.status`).
    PaymentStatus, "payment" {
        /// Opened; waiting for the buyer.
        Pending => "pending",
        Paid => "paid",
        Failed => "failed",
        /// The order lapsed before the buyer paid.
        Expired => "expired",
    }
}

status_enum! {
    /// A refund's status (`refunds.status`): requested → pending → succeeded | failed.
    RefundStatus, "refund" {
        /// Recorded; to be sent to the provider.
        Requested => "requested",
        /// The provider is working on it.
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for s in [
            PaymentStatus::Pending,
            PaymentStatus::Paid,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
        ] {
            assert_eq!(s.as_str().parse::<PaymentStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [
            RefundStatus::Requested,
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<RefundStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("PAID".parse::<PaymentStatus>().is_err());
    }
}
