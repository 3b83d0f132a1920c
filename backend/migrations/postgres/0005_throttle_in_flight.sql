-- A login attempt holds a reservation while its password is checked: it counts against the limit with
-- the failures, but only a failure stays counted. A reservation left by a crashed process is forgotten
-- once lease_until passes without a new one.
ALTER TABLE throttle_attempts ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0;
ALTER TABLE throttle_attempts ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
