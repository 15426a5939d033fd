//! The inventory's route: an operator's audit of their organization.

use axum::extract::State;

use super::jobs::{AuditReport, audit};
use crate::platform::error::ApiResult;
use crate::platform::json::ApiJson;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// Recompute this organization's inventory now: oversold pools, doubly claimed seats, and
/// counter drift (all 0 when the invariant holds).
#[utoipa::path(
    get, path = "/admin/inventory/audit", tag = "events",
    responses((status = 200, body = AuditReport)),
    security(("bearer" = []))
)]
pub async fn audit_endpoint(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<AuditReport>> {
    access.require(Permission::ReadOrganization)?;
    let report = audit(&state.db, Some(&access.org_id), state.clock.now_ms()).await?;
    Ok(ApiJson(report))
}
