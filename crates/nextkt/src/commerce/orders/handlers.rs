//! The buyer's order routes: checkout, and the orders and tickets a buyer can see. Parse,
//! authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checkout::{self, Placed, Placement};
use super::views::{find, view, view_page};
use super::{Order, store};
use crate::buyers::access::{BuyerAccess, MaybeBuyer};
use crate::commerce::cart;
use crate::ids::OrderId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tickets::Ticket;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Where the confirmation goes; a logged-in buyer's own by default.
    pub email: Option<String>,
    /// The ticket holder's name; a logged-in buyer's own by default.
    pub name: Option<String>,
    /// Language of the emails (`en` or `id`); the organization's by default.
    pub locale: Option<String>,
    /// Where the buyer is sent after paying: the storefront's own page, an absolute https
    /// URL (http only for localhost). By default this server's status page of the payment.
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutAnswer {
    pub order: Order,
    /// Send the buyer here to pay; absent for free orders, which are paid at once.
    pub payment_url: Option<String>,
}

/// Turn the cart into an order and a payment. Everything is checked again (sale windows,
/// holds, discount code, points). Send `Idempotency-Key`: a retry gets the same answer.
#[utoipa::path(
    post, path = "/consumer/checkout", tag = "checkout",
    params(("x-cart-token" = String, Header)),
    request_body = CheckoutRequest,
    responses(
        (status = 201, body = CheckoutAnswer),
        (status = 400, body = Problem),
        (status = 409, description = "`cart_empty`, `cart_checked_out`, `hold_expired`", body = Problem),
        (status = 422, description = "`sale_ended`, `discount_not_applicable`, `not_enough_points`, ...", body = Problem),
        (status = 503, description = "`payment_provider_unavailable`: the invoice could not be created; the cart is kept", body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn checkout(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> ApiResult<(StatusCode, ApiJson<CheckoutAnswer>)> {
    let now = state.clock.now_ms();
    let cart = cart::checkout_view(&state, &caller, &headers, now).await?;
    let buyer = match &caller.buyer_id {
        Some(id) => Some(store::buyer_contact(&state.db, id).await?),
        None => None,
    };
    let email = match (&body.email, &buyer) {
        (Some(email), _) => validate::email("email", email)?,
        (None, Some((email, _))) => email.clone(),
        (None, None) => return Err(ApiError::invalid("email", "required")),
    };
    let name = match (&body.name, &buyer) {
        (Some(name), _) => validate::text("name", name, 200)?,
        (None, Some((_, name))) => name.clone(),
        (None, None) => return Err(ApiError::invalid("name", "required")),
    };
    let locale = match &body.locale {
        Some(l) => validate::locale("locale", l)?,
        None => caller.org.locale.clone(),
    };
    let return_url = body
        .return_url
        .as_deref()
        .map(|u| validate::return_url("return_url", u))
        .transpose()?;
    let Placed {
        order_id,
        payment_url,
    } = checkout::place(
        &state,
        Placement {
            org_id: &caller.org.id,
            buyer_id: caller.buyer_id.as_deref(),
            key_mode: caller.key_mode,
            cart: &cart,
            email: &email,
            name: &name,
            locale: &locale,
            return_url: return_url.as_deref(),
            now,
        },
    )
    .await?;
    let order = view(&state, find(&state, &caller.org.id, &order_id).await?).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CheckoutAnswer { order, payment_url }),
    ))
}

/// The logged-in buyer's orders, newest first.
#[utoipa::path(
    get, path = "/consumer/orders", tag = "checkout",
    params(PageParams),
    responses((status = 200, body = Page<Order>), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_orders(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Order>>> {
    let page = page.parse()?;
    let rows = store::of_buyer(
        &state.db,
        &buyer.org.id,
        &buyer.buyer_id,
        &page.bound(),
        page.fetch_limit(),
    )
    .await?;
    Ok(ApiJson(
        view_page(&state, page.finish(rows, |r| &r.id)).await?,
    ))
}

/// One of the logged-in buyer's orders.
#[utoipa::path(
    get, path = "/consumer/orders/{order_id}", tag = "checkout",
    params(("order_id" = String, Path)),
    responses((status = 200, body = Order), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_order(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    Path(order_id): Path<OrderId>,
) -> ApiResult<ApiJson<Order>> {
    let row = find(&state, &buyer.org.id, &order_id).await?;
    if row.buyer_id.as_deref() != Some(buyer.buyer_id.as_str()) {
        return Err(ApiError::not_found("order"));
    }
    Ok(ApiJson(view(&state, row).await?))
}

/// The order made from the cart in `X-Cart-Token` (for buyers who did not log in).
#[utoipa::path(
    get, path = "/consumer/cart/order", tag = "checkout",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Order), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn cart_order(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Order>> {
    let cart_id = cart::cart_id_of(&state, &caller, &headers).await?;
    let row = store::of_cart(&state.db, &caller.org.id, &cart_id).await?;
    Ok(ApiJson(
        view(&state, row.ok_or_else(|| ApiError::not_found("order"))?).await?,
    ))
}

/// The logged-in buyer's tickets, newest first.
#[utoipa::path(
    get, path = "/consumer/tickets", tag = "checkout",
    params(PageParams),
    responses((status = 200, body = Page<Ticket>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_tickets(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Ticket>>> {
    let page = page.parse()?;
    let rows = store::tickets_of_buyer(
        &state.db,
        &buyer.org.id,
        &buyer.buyer_id,
        &page.bound(),
        page.fetch_limit(),
    )
    .await?;
    Ok(ApiJson(
        page.finish(rows, |t| &t.id)
            .map(|t| t.to_api(&state.base_url)),
    ))
}
