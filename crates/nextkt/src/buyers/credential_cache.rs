//! Storefront credentials seen in the last second, so a rush of buyers does not cost a
//! database lookup per request just to learn which organization a storefront speaks for.
//! Revoking a key or suspending an organization clears this process's cache at once; other
//! processes notice within `TTL`. Purchase decisions never come from here: only who is
//! asking.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenancy::organizations::OrganizationRow;

pub const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 10_000;

/// When it was resolved, to which organization, and when the credential expires.
type Entry = (Instant, OrganizationRow, Option<i64>);

#[derive(Default)]
pub struct CredentialCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl CredentialCache {
    /// The organization a credential resolved to within the last second, unless the
    /// credential has expired since (`now` in milliseconds).
    pub fn get(&self, credential: &str, now: i64) -> Option<OrganizationRow> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, org, expires_at) = entries.get(credential)?;
        (at.elapsed() < TTL && expires_at.is_none_or(|e| e > now)).then(|| org.clone())
    }

    pub fn put(&self, credential: String, org: OrganizationRow, expires_at: Option<i64>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _, _)| at.elapsed() < TTL);
        }
        entries.insert(credential, (Instant::now(), org, expires_at));
    }

    /// Forget everything: a key was revoked or an organization suspended.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
