//! Credentials seen in the last second (storefront keys, scanner devices), so a rush of
//! buyers or a burst at the doors does not cost a database lookup per request just to learn
//! who is asking. Revoking a key or a device, or suspending an organization, clears this
//! process's cache at once; other processes notice within `TTL`. Purchase and admission
//! decisions never come from here: only who is asking.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenancy::organizations::OrganizationRow;

pub const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 10_000;

/// When it was resolved, to what (by default the organization), and when the credential
/// expires.
type Entry<T> = (Instant, T, Option<i64>);

pub struct CredentialCache<T = OrganizationRow> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Default for CredentialCache<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> CredentialCache<T> {
    /// What a credential resolved to within the last second, unless the credential has
    /// expired since (`now` in milliseconds).
    pub fn get(&self, credential: &str, now: i64) -> Option<T> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, org, expires_at) = entries.get(credential)?;
        (at.elapsed() < TTL && expires_at.is_none_or(|e| e > now)).then(|| org.clone())
    }

    pub fn put(&self, credential: String, org: T, expires_at: Option<i64>) {
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
