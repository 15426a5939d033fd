//! Moving a ticket to a new holder: the buyer's rules, the new code and signature, the old
//! code revoked, the record, the new holder's email and (for operators) the audit entry, in
//! one transaction.

use serde_json::json;

use super::store::{self, NewTransfer, Reassign};
use crate::catalog::events::{self, EventRow};
use crate::gate::revocations::{self, Revocation};
use crate::gate::sealing;
use crate::ids::{OrgId, TicketId};
use crate::notify::outbox::{self, Email};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};
use crate::tickets::{TicketRow, TicketStatus, holder_search, new_code, signing};

/// Who asks for the move.
pub enum By<'a> {
    /// The buyer of the ticket's order (their id).
    Buyer(&'a str),
    Operator(&'a Actor),
}

/// The new holder (already validated).
pub struct NewHolder {
    pub name: String,
    pub email: String,
}

/// Moves the ticket; the ticket as moved.
#[tracing::instrument(skip_all, fields(org_id = %org_id, ticket_id = %ticket_id))]
pub async fn transfer(
    state: &AppState,
    org_id: &OrgId,
    ticket_id: &TicketId,
    to: NewHolder,
    by: By<'_>,
) -> ApiResult<TicketRow> {
    let NewHolder { name, email } = to;
    let now = state.clock.now_ms();
    let db = &state.db;
    let mut tx = db.begin().await?;
    let ticket = store::lock_of_org(db, &mut tx, org_id, ticket_id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let event = events::find(db, org_id, &ticket.event_id).await?;
    if let By::Buyer(buyer_id) = by {
        let owner = store::order_buyer(&mut tx, &ticket.order_id).await?;
        // A ticket given away is no longer the buyer's to move.
        if owner.as_deref() != Some(buyer_id) || ticket.transferred_at.is_some() {
            return Err(ApiError::not_found("ticket"));
        }
        buyer_may_transfer(&mut tx, &event, &ticket, now).await?;
    }
    if ticket.status != TicketStatus::Valid {
        return Err(ApiError::rule(
            "ticket_not_valid",
            "only a valid ticket can be transferred",
        ));
    }
    if ticket.holder_email.eq_ignore_ascii_case(&email) && ticket.holder_name == name {
        return Err(ApiError::rule(
            "same_holder",
            "the ticket already belongs to that holder",
        ));
    }

    let code = new_code();
    let key = signing::current(db, &mut tx, org_id, &ticket.event_id, now).await?;
    let qr_payload = key.sign(&ticket.event_id, &ticket.id, &code);
    store::reassign(
        &mut tx,
        Reassign {
            ticket_id: &ticket.id,
            code: &code,
            qr_payload: &qr_payload,
            key_id: &key.id,
            name: &name,
            email: &email,
            holder_search: holder_search(&name, &email),
        },
        now,
    )
    .await?;
    let old_hash = sealing::lookup_hash(&ticket.code);
    let revocation = Revocation {
        code_hash: &old_hash,
        org_id,
        event_id: &ticket.event_id,
        ticket_id: &ticket.id,
        reason: "transferred",
    };
    revocations::revoke(&mut tx, revocation, now).await?;
    let (by_kind, by_id) = match &by {
        By::Buyer(id) => ("buyer", id.to_string()),
        By::Operator(actor) => (actor.kind.as_str(), actor.id.clone()),
    };
    store::record(
        &mut tx,
        NewTransfer {
            id: new_id(),
            org_id,
            ticket_id: &ticket.id,
            from_name: &ticket.holder_name,
            from_email: &ticket.holder_email,
            to_name: &name,
            to_email: &email,
            old_code_hash: old_hash,
            by_kind,
            by_id,
        },
        now,
    )
    .await?;
    let locale = store::order_locale(&mut tx, &ticket.order_id).await?;
    let mut payload = json!({ "name": name, "from": ticket.holder_name,
        "url": format!("{}/t/{code}", state.base_url), "qr_payload": qr_payload });
    if let Some(fields) = payload.as_object_mut() {
        fields.extend(event.email_details(&locale));
    }
    outbox::enqueue(
        &mut tx,
        Email {
            organization_id: Some(org_id),
            template: "ticket_transferred",
            locale: &locale,
            to: &email,
            payload,
        },
        now,
    )
    .await?;
    if let By::Operator(actor) = by {
        audit::record(
            &mut tx,
            Change {
                org_id: Some(org_id),
                actor,
                action: "ticket.transferred",
                target_kind: "ticket",
                target_id: &ticket.id,
                before: Some(json!({ "holder_name": ticket.holder_name, "holder_email": ticket.holder_email })),
                after: Some(json!({ "holder_name": name, "holder_email": email })),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("nextkt_ticket_transfers_total").increment(1);
    Ok(TicketRow {
        code,
        qr_payload,
        key_id: key.id,
        holder_name: name,
        holder_email: email,
        transferred_at: Some(now),
        ..ticket
    })
}

async fn buyer_may_transfer(
    tx: &mut Tx,
    event: &EventRow,
    ticket: &TicketRow,
    now: Millis,
) -> ApiResult<()> {
    if event.buyer_transfers == 0 {
        return Err(ApiError::rule(
            "transfers_not_allowed",
            "this event's tickets cannot be transferred by buyers",
        ));
    }
    if now >= event.starts_at - event.transfer_cutoff_seconds * 1000 {
        return Err(ApiError::rule(
            "transfer_closed",
            "transfers for this event have closed",
        ));
    }
    if store::entries(tx, &ticket.id).await? > 0 {
        return Err(ApiError::rule(
            "ticket_already_used",
            "a ticket that has been scanned in cannot be transferred",
        ));
    }
    Ok(())
}
