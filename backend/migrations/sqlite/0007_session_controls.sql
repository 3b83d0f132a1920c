-- Session controls: whether the user asked to be remembered (a session that is not lives as a browser
-- session cookie, capped server-side), and where and with what the session was opened.
ALTER TABLE sessions ADD COLUMN remembered INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
