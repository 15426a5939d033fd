-- What each scan asked (code, list, gate, direction), hashed: a nonce used again for a
-- different scan is refused instead of answered with the first scan's answer. Older rows
-- have none and are replayed as before.
ALTER TABLE scans ADD COLUMN request_hash TEXT;
