//! Online scans. A device sends what it read (a ticket code, or the QR's signed text) with a
//! nonce; the answer is decided and recorded in one transaction. The first entry of a ticket
//! on a list is a row keyed by (ticket, list), so of two gates scanning one code at the same
//! instant exactly one gets `valid`; the same scan again under its nonce gets the first
//! answer, and another scan under a used nonce is refused.
//!
//! `handlers` parses the requests, `service` resolves scans and hands them to the scan
//! writers (`super::writer`), which decide and record them; `store` holds the SQL of the
//! reads.

mod handlers;
mod result;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::devices::GateDevice;
use super::lists::ListRow;
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::validate;
use crate::tickets::{TicketRow, TicketStatus};

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;
pub use result::ScanResult;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScannedTicket {
    pub holder_name: String,
    pub ticket_type: String,
    pub seat: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FirstScan {
    pub at: String,
    pub gate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanAnswer {
    /// `valid`, `already_used`, `not_on_this_list`, `revoked`, `not_yet_valid`,
    /// `list_closed`, `wrong_event`, `unknown`; for exits `exited` or `not_inside`.
    #[schema(value_type = String)]
    pub result: ScanResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<ScannedTicket>,
    /// For `already_used`: when and where the ticket went in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_scan: Option<FirstScan>,
    /// Set on an uploaded offline scan that let in someone the server refuses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
    pub scan_id: String,
}

/// What a scanned code is.
pub enum Found {
    Ticket(Box<(TicketRow, ScannedTicket)>),
    /// A code that no longer admits anyone (transferred away): the ticket's id.
    Revoked(String),
    /// Not a code of this organization, or a QR whose signature does not check.
    Unknown,
}

impl Found {
    pub fn ticket_id(&self) -> Option<&str> {
        match self {
            Found::Ticket(found) => Some(&found.0.id),
            Found::Revoked(id) => Some(id),
            Found::Unknown => None,
        }
    }
}

/// What a scan of `ticket` on `list` says, before any entry is recorded.
pub fn refusal(ticket: &TicketRow, list: &ListRow, now: Millis) -> Option<ScanResult> {
    if ticket.status != TicketStatus::Valid {
        Some(ScanResult::Revoked)
    } else if ticket.event_id != list.event_id {
        Some(ScanResult::WrongEvent)
    } else if !list.admits(&ticket.ticket_type_id) {
        Some(ScanResult::NotOnThisList)
    } else if list.starts_at.is_some_and(|at| now < at) {
        Some(ScanResult::NotYetValid)
    } else if list.ends_at.is_some_and(|at| now >= at) {
        Some(ScanResult::ListClosed)
    } else {
        None
    }
}

/// A scan, checked, ready to be decided.
pub struct Scan {
    pub nonce: String,
    /// What the scan asked (`request_hash`): a nonce used again must ask the same.
    pub request_hash: String,
    pub code: String,
    pub list_id: String,
    pub gate: String,
    pub direction: String,
    /// When it happened (the device's clock for offline scans).
    pub at: Millis,
    /// For an offline scan: what the device answered the guest then.
    pub device_result: Option<String>,
}

/// What a scan asks, hashed: the code, the list (as named, or the device's only one), the
/// gate and the direction. A retry asks the same; another scan under the same nonce does not.
pub fn request_hash(
    device: &GateDevice,
    code: &str,
    list_id: Option<&str>,
    gate: &str,
    direction: &str,
) -> String {
    let list = match (list_id, device.list_ids.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => only.as_str(),
        (None, _) => "",
    };
    let mut hasher = Sha256::new();
    for part in [code.trim(), list, gate, direction] {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// 409: the device used a nonce again for a different scan (a fault of the device; the
/// first answer is not for this scan).
pub fn nonce_reused() -> ApiError {
    let mut err = ApiError::conflict(
        "nonce_reused",
        "this nonce was used for a different scan; give every scan its own nonce",
    );
    err.field = Some("nonce".into());
    err
}

/// The scan's own fields: nonce, gate, direction (the code is only bounded in size).
pub fn check_fields(
    nonce: &str,
    code: &str,
    gate: Option<&str>,
    direction: Option<&str>,
) -> ApiResult<(String, String, String)> {
    let nonce = validate::text("nonce", nonce, 100)?;
    let gate = validate::text("gate", gate.unwrap_or("main"), 100)?;
    let direction = match direction.unwrap_or("in") {
        d @ ("in" | "out") => d.to_string(),
        _ => return Err(ApiError::invalid("direction", "must be in or out")),
    };
    if code.len() > 2000 {
        return Err(ApiError::invalid("code", "too long"));
    }
    Ok((nonce, gate, direction))
}

/// The list a scan is for: named, or the device's only one; and the device must scan for it.
pub fn check_list(device: &GateDevice, list_id: Option<&str>) -> ApiResult<String> {
    let list_id = match (list_id, device.list_ids.as_slice()) {
        (Some(id), _) => id.to_string(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::invalid(
                "list_id",
                "required: this device scans for several lists",
            ));
        }
    };
    if !device.list_ids.contains(&list_id) {
        return Err(ApiError::forbidden_code(
            "list_not_allowed",
            "this device does not scan for that list",
        ));
    }
    Ok(list_id)
}
