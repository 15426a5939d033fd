//! The rules of partners: creating one (from the command line), which organizations a
//! partner may touch, provisioning (idempotent on the partner's reference) and the keys and
//! suspension of provisioned organizations, each in one transaction with its audit entries.

use tracing::field::Empty;

use super::access::PartnerAccess;
use super::store;
use crate::ids::OrgId;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::secrets::{new_token, prefix, token_hash, visible_prefix};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::Mode;
use crate::tenancy::api_keys::{self, CreatedApiKey, KeyKind, NewKey};
use crate::tenancy::audit::{self, Change};
use crate::tenancy::organizations::{self, NewOrganization, Organization, OrganizationRow};
use crate::tenancy::roles::Role;

/// Creates a partner (from the `nextkt partner create` command). Returns its id and key.
pub async fn create(db: &Db, name: &str, now: i64) -> anyhow::Result<(String, String)> {
    let name = validate::text("name", name, 200).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let id = new_id();
    let secret = new_token(prefix::PARTNER);
    store::insert(
        db,
        &id,
        name,
        visible_prefix(&secret, prefix::PARTNER),
        token_hash(&secret),
        now,
    )
    .await?;
    Ok((id, secret))
}

/// One of this partner's organizations, or 404.
pub async fn owned(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
) -> ApiResult<OrganizationRow> {
    organizations::find(&state.db, org_id)
        .await?
        .filter(|row| row.partner_id.as_deref() == Some(partner.partner_id.as_str()))
        .ok_or_else(|| ApiError::not_found("organization"))
}

/// An organization to provision, validated.
pub struct NewProvision {
    pub name: String,
    pub external_ref: String,
    /// The id the partner chose, if any.
    pub id: Option<String>,
}

pub struct Provisioned {
    pub organization: Organization,
    /// The first admin key, when this call created the organization.
    pub api_key: Option<CreatedApiKey>,
    pub created: bool,
}

/// The organization provisioned before under the same reference, unless the partner now
/// asks for another id.
fn replay(existing: OrganizationRow, wanted_id: Option<&str>) -> ApiResult<Provisioned> {
    if wanted_id.is_some_and(|id| id != existing.id) {
        return Err(ApiError::conflict(
            "external_ref_conflict",
            "this external_ref was provisioned with another organization id",
        ));
    }
    Ok(Provisioned {
        organization: existing.into(),
        api_key: None,
        created: false,
    })
}

/// Provisions an organization with a first admin key, or replays an earlier provisioning of
/// the same `external_ref`.
#[tracing::instrument(skip_all, fields(partner_id = %partner.partner_id, org_id = Empty))]
pub async fn provision(
    state: &AppState,
    partner: &PartnerAccess,
    new: NewProvision,
) -> ApiResult<Provisioned> {
    let NewProvision {
        name,
        external_ref,
        id,
    } = new;
    if let Some(existing) =
        store::find_by_ref(&state.db, &partner.partner_id, &external_ref).await?
    {
        tracing::Span::current().record("org_id", existing.id.as_str());
        return replay(existing, id.as_deref());
    }
    let org_id = OrgId::from(id.clone().unwrap_or_else(new_id));
    tracing::Span::current().record("org_id", org_id.as_str());
    let now = state.clock.now_ms();
    let actor = partner.actor();
    let mut tx = state.db.begin().await?;
    let inserted = organizations::insert(
        &mut tx,
        NewOrganization {
            id: &org_id,
            name: &name,
            partner_id: Some(&partner.partner_id),
            external_ref: Some(&external_ref),
        },
        now,
    )
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            drop(tx);
            // Either a concurrent request provisioned this reference first, or the id is taken.
            if let Some(existing) =
                store::find_by_ref(&state.db, &partner.partner_id, &external_ref).await?
            {
                return replay(existing, id.as_deref());
            }
            return Err(ApiError::conflict(
                "organization_id_taken",
                "an organization with this id exists",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let organization: Organization = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&org_id),
            actor: &actor,
            action: "organization.provisioned",
            target_kind: "organization",
            target_id: &org_id,
            before: None,
            after: Some(organization.audit_json()),
        },
        now,
    )
    .await?;
    let key_name = format!("Provisioned by {}", partner.partner_name);
    let key = api_keys::create_in(
        &mut tx,
        NewKey {
            org_id: &org_id,
            kind: KeyKind::Admin,
            mode: Mode::Live,
            name: &key_name,
            role: Some(Role::Admin),
            expires_at: None,
            created_by: &actor,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Provisioned {
        organization,
        api_key: Some(key),
        created: true,
    })
}

/// A new admin key for one of the partner's organizations (name already validated).
pub struct PartnerKey {
    pub name: String,
    pub role: Role,
    pub mode: Mode,
    /// Revoke every other admin key of the organization in the same transaction.
    pub revoke_others: bool,
}

/// Issues an admin key for an organization the partner owns (checked by the caller),
/// optionally revoking the others: a rotation.
#[tracing::instrument(skip_all, fields(partner_id = %partner.partner_id, org_id = %org_id))]
pub async fn create_key(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
    new: PartnerKey,
) -> ApiResult<CreatedApiKey> {
    let now = state.clock.now_ms();
    let actor = partner.actor();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, org_id).await?;
    if new.revoke_others {
        let others = api_keys::store::unrevoked_admin_ids(&mut tx, org_id).await?;
        for key_id in others {
            api_keys::revoke_in(&mut tx, org_id, &key_id, KeyKind::Admin, &actor, now).await?;
        }
    }
    let created = api_keys::create_in(
        &mut tx,
        NewKey {
            org_id,
            kind: KeyKind::Admin,
            mode: new.mode,
            name: &new.name,
            role: Some(new.role),
            expires_at: None,
            created_by: &actor,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Revokes an admin key of an organization the partner owns (checked by the caller).
#[tracing::instrument(skip_all, fields(partner_id = %partner.partner_id, org_id = %org_id, key_id = %key_id))]
pub async fn revoke_key(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
    key_id: &str,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    api_keys::revoke_in(
        &mut tx,
        org_id,
        key_id,
        KeyKind::Admin,
        &partner.actor(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Suspends or resumes an organization the partner owns (checked by the caller); its
/// credentials stop (or start) working at once in this process. Returns it as it is now.
#[tracing::instrument(skip_all, fields(partner_id = %partner.partner_id, org_id = %org_id, suspended = suspended))]
pub async fn set_suspended(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
    suspended: bool,
) -> ApiResult<OrganizationRow> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::set_suspended(&mut tx, org_id, suspended, &partner.actor(), now).await?;
    tx.commit().await?;
    state.credential_cache.clear();
    state.device_cache.clear();
    owned(state, partner, org_id).await
}
