-- The rotation counter was written and never read: the chain is told by the hashes alone.
ALTER TABLE sessions DROP COLUMN generation;
