-- flowsync storage, layout 1. Applied once, inside the migration
-- transaction (see migrate.go); never edit an applied file, add the next.

-- The delta log: one row per distinct delta of a workflow, keyed by the
-- SHA-256 of its canonical encoding, so a re-sent delta is a no-op
-- (INSERT ... ON CONFLICT DO NOTHING). Rows are deleted by the snapshot
-- that joins them.
CREATE TABLE flowsync_log (
    workflow_id text        NOT NULL CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    delta_hash  bytea       NOT NULL CHECK (octet_length(delta_hash) = 32),
    delta       bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, delta_hash)
);

-- The latest snapshot of a workflow. version grows by one per snapshot and
-- fences writers: UPDATE ... WHERE version = $expected.
CREATE TABLE flowsync_snapshot (
    workflow_id text        PRIMARY KEY CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    version     bigint      NOT NULL CHECK (version > 0),
    state       bytea       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Tombstones: a deleted workflow stays deleted.
CREATE TABLE flowsync_deleted (
    workflow_id text        PRIMARY KEY CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
