-- Workflows created through the admin API (storage.Catalog.Create) before
-- anything was written for them. A workflow exists when it has a row here,
-- a snapshot or a log row, and no tombstone.
CREATE TABLE flowsync_workflows (
    workflow_id text        PRIMARY KEY CHECK (octet_length(workflow_id) BETWEEN 1 AND 256),
    created_at  timestamptz NOT NULL DEFAULT now()
);
