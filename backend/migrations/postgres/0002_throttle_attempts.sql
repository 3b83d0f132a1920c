-- Throttle counters now count attempts (taken before the password is checked), and serve sign-ups too.
ALTER TABLE login_failures RENAME TO throttle_attempts;
ALTER TABLE throttle_attempts RENAME COLUMN failures TO attempts;
