-- DPoP (RFC 9449). A session bound to a key keeps the key's RFC 7638 thumbprint; every refresh of it
-- must be proved by that key. NULL: a Bearer session.
ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;

-- Proofs spent at login and refresh, by the SHA-256 of thumbprint and jti, until no server could take
-- them for fresh: one INSERT decides, so two instances cannot both accept one proof.
CREATE TABLE dpop_proofs (
    proof_key TEXT    PRIMARY KEY,
    forget_at BIGINT NOT NULL
);

-- The key of the stateless DPoP nonces, shared by every instance; made once, at the first start.
CREATE TABLE dpop_nonce_key (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT    NOT NULL
);
