//! The transfer routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::TransferRecord;
use super::service::{self, By, NewHolder};
use super::store;
use crate::buyers::access::BuyerAccess;
use crate::ids::TicketId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;
use crate::tickets::Ticket;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The new holder's name.
    pub name: String,
    /// Where the new ticket is emailed.
    pub email: String,
}

fn new_holder(body: TransferRequest) -> ApiResult<NewHolder> {
    Ok(NewHolder {
        name: validate::text("name", &body.name, 200)?,
        email: validate::email("email", &body.email)?,
    })
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
    Path(ticket_id): Path<TicketId>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<ApiJson<Ticket>> {
    let to = new_holder(body)?;
    let moved = service::transfer(
        &state,
        &buyer.org.id,
        &ticket_id,
        to,
        By::Buyer(&buyer.buyer_id),
    )
    .await?;
    // The new code goes to the new holder by email; a buyer giving the ticket away does
    // not get it.
    Ok(ApiJson(moved.to_api(&state.base_url)))
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
    Path(ticket_id): Path<TicketId>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<ApiJson<Ticket>> {
    access.require(Permission::ManageOrders)?;
    let to = new_holder(body)?;
    let moved = service::transfer(
        &state,
        &access.org_id,
        &ticket_id,
        to,
        By::Operator(&access.actor),
    )
    .await?;
    // An operator gets the new code.
    Ok(ApiJson(moved.to_holder_api(&state.base_url)))
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
    Path(ticket_id): Path<TicketId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<TransferRecord>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    if !store::exists(&state.db, &access.org_id, &ticket_id).await? {
        return Err(ApiError::not_found("ticket"));
    }
    let mut records =
        store::history(&state.db, &ticket_id, &page.bound(), page.fetch_limit()).await?;
    for r in &mut records {
        r.at = rfc3339(r.created_at);
    }
    Ok(ApiJson(page.finish(records, |r| &r.id)))
}
