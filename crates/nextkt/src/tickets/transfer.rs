//! Transfer (reassign): a ticket moves to a new holder. The ticket keeps its id and its
//! inventory claim (so it works on a sold-out event); its code and QR change, the old code
//! is revoked at once (online scans answer `revoked`, the next offline bundle lists it), the
//! new holder is emailed, and every move is kept in `ticket_transfers`. Buyers may transfer
//! when the event allows it, until its cutoff, and not once the ticket has been used;
//! operators always may.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{TICKET_COLUMNS, Ticket, TicketRow, new_code, signing};
use crate::buyers::access::BuyerAccess;
use crate::catalog::events;
use crate::gate::revocations::{self, Revocation};
use crate::gate::sealing;
use crate::notify::outbox::{self, Email};
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The new holder's name.
    pub name: String,
    /// Where the new ticket is emailed.
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TransferRecord {
    pub id: String,
    pub from_name: String,
    pub from_email: String,
    pub to_name: String,
    pub to_email: String,
    /// `operator`, `api_key`, `partner` or `buyer`.
    pub by_kind: String,
    pub by_id: String,
    #[serde(skip)]
    pub created_at: i64,
    #[sqlx(skip)]
    pub at: String,
}

/// Who asks for the move.
enum By<'a> {
    Buyer(&'a str),
    Admin(&'a AdminAccess),
}

async fn transfer(
    state: &AppState,
    org_id: &str,
    ticket_id: &str,
    body: TransferRequest,
    by: By<'_>,
) -> ApiResult<Ticket> {
    let name = validate::text("name", &body.name, 200)?;
    let email = validate::email("email", &body.email)?;
    let now = state.clock.now_ms();
    let db = &state.db;
    let mut tx = db.begin().await?;
    let ticket: TicketRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 AND organization_id = $2{}",
        db.for_update()
    )))
    .bind(ticket_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("ticket"))?;
    let event = events::find(db, org_id, &ticket.event_id).await?;
    if let By::Buyer(buyer_id) = by {
        let owner: Option<String> = sqlx::query_scalar("SELECT buyer_id FROM orders WHERE id = $1")
            .bind(ticket.order_id.clone())
            .fetch_one(&mut *tx)
            .await?;
        // A ticket given away is no longer the buyer's to move.
        if owner.as_deref() != Some(buyer_id) || ticket.transferred_at.is_some() {
            return Err(ApiError::not_found("ticket"));
        }
        buyer_may_transfer(&mut tx, &event, &ticket, now).await?;
    }
    if ticket.status != "valid" {
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
    sqlx::query(
        "UPDATE tickets SET code = $1, qr_payload = $2, key_id = $3, holder_name = $4, holder_email = $5, \
         transferred_at = $6, holder_search = $8 WHERE id = $7",
    )
    .bind(code.clone())
    .bind(qr_payload.clone())
    .bind(key.id.clone())
    .bind(name.clone())
    .bind(email.clone())
    .bind(now)
    .bind(ticket.id.clone())
    .bind(super::holder_search(&name, &email))
    .execute(&mut *tx)
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
        By::Admin(access) => (access.actor.kind.as_str(), access.actor.id.clone()),
    };
    sqlx::query(
        "INSERT INTO ticket_transfers (id, organization_id, ticket_id, from_name, from_email, to_name, to_email, \
         old_code_hash, by_kind, by_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(org_id.to_string())
    .bind(ticket.id.clone())
    .bind(ticket.holder_name.clone())
    .bind(ticket.holder_email.clone())
    .bind(name.clone())
    .bind(email.clone())
    .bind(old_hash)
    .bind(by_kind)
    .bind(by_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let locale: String = sqlx::query_scalar("SELECT locale FROM orders WHERE id = $1")
        .bind(ticket.order_id.clone())
        .fetch_one(&mut *tx)
        .await?;
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
    if let By::Admin(access) = by {
        audit::record(
            &mut tx,
            Change {
                org_id: Some(org_id),
                actor: &access.actor,
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
    let moved = TicketRow {
        code,
        qr_payload,
        key_id: key.id,
        holder_name: name,
        holder_email: email,
        transferred_at: Some(now),
        ..ticket
    };
    // The new code goes to the new holder by email; a buyer giving the ticket away does
    // not get it, an operator does.
    Ok(match by {
        By::Buyer(_) => moved.to_api(&state.base_url),
        By::Admin(_) => moved.to_holder_api(&state.base_url),
    })
}

async fn buyer_may_transfer(
    tx: &mut crate::platform::db::Tx,
    event: &events::EventRow,
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
    let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_checkins WHERE ticket_id = $1")
        .bind(ticket.id.clone())
        .fetch_one(&mut **tx)
        .await?;
    if used > 0 {
        return Err(ApiError::rule(
            "ticket_already_used",
            "a ticket that has been scanned in cannot be transferred",
        ));
    }
    Ok(())
}

/// Transfer one of the logged-in buyer's tickets to someone else.
#[utoipa::path(
    post, path = "/consumer/tickets/{ticket_id}/transfer", tag = "checkout",
    params(("ticket_id" = String, Path)),
    request_body = TransferRequest,
    responses((status = 200, description = "The ticket with its new code", body = Ticket),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "`transfers_not_allowed`, `transfer_closed`, `ticket_already_used`, `ticket_not_valid`, `same_holder`", body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn by_buyer(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    Path(ticket_id): Path<String>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<ApiJson<Ticket>> {
    let ticket = transfer(
        &state,
        &buyer.org.id,
        &ticket_id,
        body,
        By::Buyer(&buyer.buyer_id),
    )
    .await?;
    Ok(ApiJson(ticket))
}

/// Transfer a ticket to a new holder (operators may at any time).
#[utoipa::path(
    post, path = "/admin/tickets/{ticket_id}/transfer", tag = "orders",
    params(("ticket_id" = String, Path)),
    request_body = TransferRequest,
    responses((status = 200, description = "The ticket with its new code", body = Ticket),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "`ticket_not_valid`, `same_holder`", body = Problem)),
    security(("bearer" = []))
)]
pub async fn by_operator(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(ticket_id): Path<String>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<ApiJson<Ticket>> {
    access.require(Permission::ManageOrders)?;
    let org_id = access.org_id.clone();
    let ticket = transfer(&state, &org_id, &ticket_id, body, By::Admin(&access)).await?;
    Ok(ApiJson(ticket))
}

/// A ticket's transfers, oldest first.
#[utoipa::path(
    get, path = "/admin/tickets/{ticket_id}/transfers", tag = "orders",
    params(("ticket_id" = String, Path), PageParams),
    responses((status = 200, body = Page<TransferRecord>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn history(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(ticket_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<TransferRecord>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1 AND organization_id = $2")
            .bind(ticket_id.clone())
            .bind(access.org_id.clone())
            .fetch_optional(&state.db.pool)
            .await?;
    exists.ok_or_else(|| ApiError::not_found("ticket"))?;
    let mut records: Vec<TransferRecord> = sqlx::query_as(
        "SELECT id, from_name, from_email, to_name, to_email, by_kind, by_id, created_at \
         FROM ticket_transfers WHERE ticket_id = $1 AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(ticket_id)
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    for r in &mut records {
        r.at = rfc3339(r.created_at);
    }
    Ok(ApiJson(page.finish(records, |r| &r.id)))
}
