//! The cart routes: parse the request (the cart's token, the body), call the service, map
//! the answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::service::{self, Held, token_of};
use super::{
    AddToCart, Added, ApplyDiscount, Cart, ChangeQuantity, HeldItem, MAX_QUANTITY,
    RESERVATION_PATH_HEADER, UsePoints,
};
use crate::buyers::access::MaybeBuyer;
use crate::inventory::reserve::Reserved;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

fn held(reserved: &[Reserved]) -> Vec<HeldItem> {
    reserved
        .iter()
        .map(|r| HeldItem {
            id: r.hold_id.clone(),
            quantity: r.quantity,
            expires_at: rfc3339(r.expires_at),
        })
        .collect()
}

fn uses_baseline(state: &AppState, headers: &HeaderMap) -> ApiResult<bool> {
    match headers
        .get(RESERVATION_PATH_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("batched") => Ok(false),
        Some("baseline") if state.config.enable_baseline_reservations => Ok(true),
        Some("baseline") => Err(ApiError::bad_request(
            "baseline_disabled",
            "the naive reservation path exists for measurement only; start the server with --enable-baseline-reservations",
        )),
        Some(_) => Err(ApiError::invalid(
            "X-Reservation-Path",
            "must be batched or baseline",
        )),
    }
}

/// Hold tickets: a quantity of a general-admission type, or chosen seats. Creates the cart
/// on the first add (its token is in the answer). Answered only once the hold is committed.
#[utoipa::path(
    post, path = "/consumer/cart/items", tag = "cart",
    request_body = AddToCart,
    params(("x-cart-token" = Option<String>, Header, description = "The cart to add to; absent for a new cart")),
    responses(
        (status = 201, body = Added),
        (status = 400, body = Problem),
        (status = 404, description = "Unknown event, ticket type, seat or cart (or not yours)", body = Problem),
        (status = 409, description = "`sold_out`, `not_enough_left`, `seat_taken`, `cart_event_mismatch`", body = Problem),
        (status = 422, description = "`not_on_sale`, `sale_not_started`, `sale_ended`, `limit_exceeded`, `below_minimum`", body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddToCart>,
) -> ApiResult<(StatusCode, ApiJson<Added>)> {
    let baseline = uses_baseline(&state, &headers)?;
    let Held {
        cart_id,
        cart_token,
        reserved,
    } = service::add(&state, &caller, token_of(&headers), baseline, &body).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Added {
            cart_id,
            cart_token,
            items: held(&reserved),
        }),
    ))
}

/// The cart, with each item's hold expiry.
#[utoipa::path(
    get, path = "/consumer/cart", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    Ok(ApiJson(
        service::get(&state, &caller, token_of(&headers)).await?,
    ))
}

/// Change a general-admission item's quantity. More goes through the oversell core; less
/// returns the difference to sale at once.
#[utoipa::path(
    patch, path = "/consumer/cart/items/{item_id}", tag = "cart",
    params(("item_id" = String, Path), ("x-cart-token" = String, Header)),
    request_body = ChangeQuantity,
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    Path(item_id): Path<String>,
    ApiJson(body): ApiJson<ChangeQuantity>,
) -> ApiResult<ApiJson<Cart>> {
    let quantity = validate::range("quantity", body.quantity, 1, MAX_QUANTITY)?;
    Ok(ApiJson(
        service::change(&state, &caller, token_of(&headers), &item_id, quantity).await?,
    ))
}

/// Remove an item; what it held goes back on sale at once.
#[utoipa::path(
    delete, path = "/consumer/cart/items/{item_id}", tag = "cart",
    params(("item_id" = String, Path), ("x-cart-token" = String, Header)),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> ApiResult<StatusCode> {
    service::remove(&state, &caller, token_of(&headers), &item_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Extend the cart's holds, once, when the event allows it.
#[utoipa::path(
    post, path = "/consumer/cart/extend", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, description = "`extension_not_allowed` or `already_extended`", body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn extend(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    Ok(ApiJson(
        service::extend(&state, &caller, token_of(&headers)).await?,
    ))
}

/// Apply a discount code to the cart. It is checked now and again whenever the cart is
/// priced.
#[utoipa::path(
    put, path = "/consumer/cart/discount", tag = "cart",
    params(("x-cart-token" = String, Header)),
    request_body = ApplyDiscount,
    responses((status = 200, body = Cart), (status = 404, description = "Unknown code or cart", body = Problem),
        (status = 422, description = "`discount_not_applicable`, with the reason", body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn apply_discount(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ApplyDiscount>,
) -> ApiResult<ApiJson<Cart>> {
    Ok(ApiJson(
        service::apply_discount(&state, &caller, token_of(&headers), &body.code).await?,
    ))
}

/// Remove the cart's discount code.
#[utoipa::path(
    delete, path = "/consumer/cart/discount", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn remove_discount(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    Ok(ApiJson(
        service::remove_discount(&state, &caller, token_of(&headers)).await?,
    ))
}

/// Choose how many points to spend on the cart (logged-in buyers; the cart must be theirs).
/// The price shows their value, capped at what the tickets cost.
#[utoipa::path(
    put, path = "/consumer/cart/points", tag = "cart",
    params(("x-cart-token" = String, Header)),
    request_body = UsePoints,
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 422, description = "`not_enough_points` or `points_not_accepted`", body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn use_points(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UsePoints>,
) -> ApiResult<ApiJson<Cart>> {
    let Some(buyer_id) = caller.buyer_id.clone() else {
        return Err(ApiError::unauthorized(
            "buyer_login_required",
            "log in as a buyer to spend points",
        ));
    };
    Ok(ApiJson(
        service::use_points(&state, &caller, token_of(&headers), &buyer_id, body.points).await?,
    ))
}
