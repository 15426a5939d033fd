-- One currency per event: its ticket types are all priced in it (the organization's
-- currency unless the event says otherwise). Existing events take their first ticket
-- type's currency, or the organization's.
ALTER TABLE events ADD COLUMN currency TEXT NOT NULL DEFAULT '';
UPDATE events SET currency = COALESCE(
    (SELECT tt.currency FROM ticket_types tt WHERE tt.event_id = events.id ORDER BY tt.sort_order, tt.id LIMIT 1),
    (SELECT o.currency FROM organizations o WHERE o.id = events.organization_id));

-- Operators list refunds per organization, newest first.
CREATE INDEX refunds_org ON refunds (organization_id, id);
