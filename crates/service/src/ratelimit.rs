//! Rate limits on the attempts an attacker would repeat: login, registration, password
//! reset. Limited per client IP and per account, in this process's memory (GCRA through
//! `governor`); each node of a cluster limits on its own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::ApiError;

pub struct AuthLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

impl AuthLimits {
    pub fn new(per_ip_per_minute: u32, per_account_per_minute: u32) -> Arc<Self> {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Arc::new(Self {
            per_ip: DefaultKeyedRateLimiter::keyed(quota(per_ip_per_minute)),
            per_account: DefaultKeyedRateLimiter::keyed(quota(per_account_per_minute)),
        })
    }

    /// One attempt from `ip`, and on `account` when the attempt names one (an email, scoped
    /// by the caller, e.g. `buyer:<org>:<email>`). 429 with a retry time when over.
    pub fn check(&self, ip: IpAddr, account: Option<&str>) -> Result<(), ApiError> {
        let now = DefaultClock::default().now();
        if let Err(not_until) = self.per_ip.check_key(&ip) {
            return Err(ApiError::too_many_requests(
                not_until.wait_time_from(now).as_secs() + 1,
            ));
        }
        if let Some(account) = account
            && let Err(not_until) = self.per_account.check_key(&account.to_string())
        {
            return Err(ApiError::too_many_requests(
                not_until.wait_time_from(now).as_secs() + 1,
            ));
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_per_ip_and_per_account() {
        let limits = AuthLimits::new(3, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other_ip: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limits.check(ip, Some("a")).is_ok());
        assert!(limits.check(ip, Some("a")).is_ok());
        let err = limits.check(other_ip, Some("a")).unwrap_err();
        assert_eq!(err.code, "rate_limited");
        assert!(err.retry_after_secs.unwrap() >= 1);
        assert!(limits.check(ip, Some("b")).is_ok());
        assert!(
            limits.check(ip, Some("c")).is_err(),
            "fifth attempt from one IP"
        );
    }
}
