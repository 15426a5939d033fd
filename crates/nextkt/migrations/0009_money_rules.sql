-- One currency per event: its ticket types are all priced in it (the organization's
-- currency unless the event says otherwise). Existing events take their first ticket
-- type's currency, or the organization's.
ALTER TABLE events ADD COLUMN currency TEXT NOT NULL DEFAULT '';
UPDATE events SET currency = COALESCE(
    (SELECT tt.currency FROM ticket_types tt WHERE tt.event_id = events.id ORDER BY tt.sort_order, tt.id LIMIT 1),
    (SELECT o.currency FROM organizations o WHERE o.id = events.organization_id));

-- Operators list refunds per organization, newest first.
CREATE INDEX refunds_org ON refunds (organization_id, id);

-- Test orders: paid through the simulated provider (no money moved) or made with a test
-- storefront key. Their tickets say so too.
ALTER TABLE orders ADD COLUMN livemode BIGINT NOT NULL DEFAULT 1;
UPDATE orders SET livemode = 0 WHERE EXISTS
    (SELECT 1 FROM payments p WHERE p.order_id = orders.id AND p.provider = 'simulated');
ALTER TABLE tickets ADD COLUMN livemode BIGINT NOT NULL DEFAULT 1;
UPDATE tickets SET livemode = 0 WHERE order_id IN (SELECT id FROM orders WHERE livemode = 0);

-- Where the provider sends the buyer after paying (the storefront's page), per payment.
ALTER TABLE payments ADD COLUMN return_url TEXT;
