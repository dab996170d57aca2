-- Housekeeping: an hourly job prunes what has served its purpose — sessions ended (expired, signed
-- out or idle) more than 30 days ago, spent or expired activation codes of the same age, login
-- throttle and rate-limit rows whose windows are long over, and feed nonces past their window.
GRANT DELETE ON sessions, activation_codes TO registry_app;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
