-- Accounts are compared by their identity key (auth/identity.rs), not by the stored address. The server
-- fills these columns at start for every account keyed by an earlier rule (identity_rule below the
-- current one), oldest account first. Two earlier accounts may share a key or a skeleton: only the
-- oldest holds the claim, the unique indexes refuse a new sign-up that would take either, and
-- `backend accounts conflicts` lists the others.
ALTER TABLE users ADD COLUMN email_key TEXT;
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
ALTER TABLE users ADD COLUMN email_claim TEXT;
ALTER TABLE users ADD COLUMN skeleton_claim TEXT;
ALTER TABLE users ADD COLUMN identity_rule INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_by_email_key ON users (email_key);
CREATE INDEX users_by_email_skeleton ON users (email_skeleton);
CREATE UNIQUE INDEX users_email_claim ON users (email_claim);
CREATE UNIQUE INDEX users_skeleton_claim ON users (skeleton_claim);
