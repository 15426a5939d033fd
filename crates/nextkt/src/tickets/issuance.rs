//! Issuing tickets for a paid order and voiding them for a refund, in the caller's
//! transaction; and the one-off fill of the search text.

use super::store::{self, NewTicket};
use super::{TicketRow, TicketStatus, holder_search, new_code, signing};
use crate::ids::{EventId, OrderId, OrgId, TicketId};
use crate::inventory::convert::Claimed;
use crate::platform::clock::{Clock, Millis, SystemClock};
use crate::platform::db::{Db, Tx};

/// Fills in the search text of tickets issued before it existed; run after migrating. Done
/// once: later calls only read the note that it was.
#[tracing::instrument(skip_all)]
pub async fn backfill_search(db: &Db) -> Result<u64, sqlx::Error> {
    const FIX: &str = "tickets.holder_search";
    if store::fix_done(db, FIX).await? {
        return Ok(0);
    }
    let mut filled = 0;
    loop {
        let rows = store::without_search(db).await?;
        if rows.is_empty() {
            store::note_fix(db, FIX, SystemClock.now_ms()).await?;
            return Ok(filled);
        }
        let mut tx = db.begin().await?;
        for (id, name, email) in rows {
            store::set_search(&mut tx, &id, &holder_search(&name, &email)).await?;
            filled += 1;
        }
        tx.commit().await?;
    }
}

/// Whose tickets, for which order.
pub struct Issue<'a> {
    pub org_id: &'a OrgId,
    pub event_id: &'a EventId,
    pub order_id: &'a OrderId,
    pub holder_name: &'a str,
    pub holder_email: &'a str,
    /// False for a test order's tickets (no real money moved).
    pub livemode: bool,
}

/// Issues one ticket per claimed unit or seat, in the caller's transaction.
#[tracing::instrument(skip_all, fields(order_id = %to.order_id, tickets = claimed.len()))]
pub async fn issue(
    db: &Db,
    tx: &mut Tx,
    to: Issue<'_>,
    claimed: &[Claimed],
    now: Millis,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    let Issue {
        org_id,
        event_id,
        order_id,
        holder_name,
        holder_email,
        livemode,
    } = to;
    let livemode = i64::from(livemode);
    let key = signing::current(db, tx, org_id, event_id, now).await?;
    let search = holder_search(holder_name, holder_email);
    let mut tickets = Vec::with_capacity(claimed.len());
    for claim in claimed {
        let ticket = TicketRow {
            id: TicketId::generate(),
            organization_id: org_id.to_string(),
            event_id: event_id.clone(),
            order_id: order_id.to_string(),
            ticket_type_id: claim.ticket_type_id.clone(),
            seat_id: claim.seat_id.clone(),
            code: new_code(),
            holder_name: holder_name.to_string(),
            holder_email: holder_email.to_string(),
            key_id: key.id.clone(),
            qr_payload: String::new(),
            status: TicketStatus::Valid,
            created_at: now,
            voided_at: None,
            transferred_at: None,
            livemode,
        };
        let ticket = TicketRow {
            qr_payload: key.sign(event_id, &ticket.id, &ticket.code),
            ..ticket
        };
        store::insert(
            tx,
            NewTicket {
                ticket: &ticket,
                holder_search: &search,
            },
        )
        .await?;
        tickets.push(ticket);
    }
    Ok(tickets)
}

/// Voids a valid ticket for a refund, in the caller's transaction. `released` notes that its
/// unit or seat goes back on sale (the inventory auditor then stops counting it as issued).
/// False when the ticket is no longer valid.
#[tracing::instrument(skip_all, fields(ticket_id = %ticket_id, refund_id = %refund_id))]
pub async fn void(
    tx: &mut Tx,
    ticket_id: &TicketId,
    refund_id: &str,
    released: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    store::void_valid(tx, ticket_id, refund_id, released, now).await
}
