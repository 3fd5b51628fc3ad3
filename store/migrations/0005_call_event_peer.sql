-- The SIP ladder records the real messages: each keeps the trunk address it went to or came
-- from (empty for events that are not SIP messages).
ALTER TABLE call_events ADD COLUMN peer TEXT NOT NULL DEFAULT '';
