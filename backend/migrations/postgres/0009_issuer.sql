-- The issuer the servers put in `iss`, recorded at the first start, so a changed default never changes
-- it. When JWT_ISSUER changes it on purpose, the previous one is kept with the time of the change:
-- tokens it issued stay valid for one access-token lifetime.
CREATE TABLE issuer (
    id         INTEGER PRIMARY KEY,
    current    TEXT NOT NULL,
    previous   TEXT,
    changed_at BIGINT
);
