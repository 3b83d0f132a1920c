-- Access-token signing keys (EdDSA), shared by every instance through the database. A key signs from
-- activates_at on, and is published and accepted until retires_at (NULL while it has no successor).
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    private_key  TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT
);
