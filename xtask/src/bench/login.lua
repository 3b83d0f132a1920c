-- Logs in over and over with LOGIN_BODY: a storm of password hashing.
wrk.method = "POST"
wrk.body = os.getenv("LOGIN_BODY")
wrk.headers["Content-Type"] = "application/json"
