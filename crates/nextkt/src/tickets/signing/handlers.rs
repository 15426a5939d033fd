//! The signing-key routes: parse, authorize, call the service or the store, map the answer.

use super::PublicKey;
use super::{service, store};

/// The event's ticket verification keys, oldest first (the newest signs new tickets).
#[utoipa::path(
    get, path = "/admin/events/{event_id}/signing-keys", tag = "events",
    params(("event_id" = String, Path), crate::platform::pagination::PageParams),
    responses((status = 200, body = crate::platform::pagination::Page<PublicKey>),
        (status = 400, body = crate::platform::error::Problem),
        (status = 404, body = crate::platform::error::Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    access: crate::tenancy::access::AdminAccess,
    axum::extract::Path(event_id): axum::extract::Path<crate::ids::EventId>,
    crate::platform::query::ApiQuery(page): crate::platform::query::ApiQuery<
        crate::platform::pagination::PageParams,
    >,
) -> crate::platform::error::ApiResult<
    crate::platform::json::ApiJson<crate::platform::pagination::Page<PublicKey>>,
> {
    access.require(crate::tenancy::roles::Permission::ReadOrganization)?;
    let page = page.parse()?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let keys =
        store::page_of_event(&state.db, &event.id, &page.bound(), page.fetch_limit()).await?;
    Ok(crate::platform::json::ApiJson(page.finish(keys, |k| &k.id)))
}

/// Rotate: a new key signs tickets issued from now on; older keys keep verifying theirs.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/signing-keys", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 201, body = Vec<PublicKey>), (status = 404, body = crate::platform::error::Problem)),
    security(("bearer" = []))
)]
pub async fn rotate(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    access: crate::tenancy::access::AdminAccess,
    axum::extract::Path(event_id): axum::extract::Path<crate::ids::EventId>,
) -> crate::platform::error::ApiResult<(
    axum::http::StatusCode,
    crate::platform::json::ApiJson<Vec<PublicKey>>,
)> {
    access.require(crate::tenancy::roles::Permission::ManageCatalog)?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let keys = service::rotate(&state, &access.org_id, &access.actor, &event.id).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        crate::platform::json::ApiJson(keys),
    ))
}
