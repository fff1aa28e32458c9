-- Receipt keys: every node sharing this database vouches for admitted
-- deltas with the same key, and a restart keeps it. The current key is the
-- newest.
CREATE TABLE flowsync_receipt_keys (
    key_id     text        PRIMARY KEY CHECK (octet_length(key_id) BETWEEN 1 AND 16),
    secret     bytea       NOT NULL CHECK (octet_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
