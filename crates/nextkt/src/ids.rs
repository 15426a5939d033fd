//! The ids that cross function boundaries, each its own type so two can't be swapped. They
//! read and write the database and JSON exactly as the strings they wrap.

use service::id_type;

id_type!(
    /// An organization (a tenant).
    pub OrgId
);
id_type!(
    /// An event.
    pub EventId
);
id_type!(
    /// A ticket type of an event.
    pub TicketTypeId
);
id_type!(
    /// A buyer's cart.
    pub CartId
);
id_type!(
    /// An order.
    pub OrderId
);
id_type!(
    /// An issued ticket.
    pub TicketId
);
id_type!(
    /// A ticket buyer's account.
    pub BuyerId
);
