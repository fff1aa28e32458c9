-- Snapshots arrive compressed (storecodec FormatFlate): store them out of
-- line without a second, slower pglz pass on the server.
ALTER TABLE flowsync_snapshot ALTER COLUMN state SET STORAGE EXTERNAL;
