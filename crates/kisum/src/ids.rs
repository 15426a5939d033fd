//! The ids that cross function boundaries, each its own type so two can't be swapped.

use service::id_type;

id_type!(
    /// A Kisum company (a tenant): the `x-org` of every tenant request.
    pub CompanyId
);
id_type!(
    /// A user (a person who logs in).
    pub UserId
);
