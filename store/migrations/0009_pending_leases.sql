-- A number lent for a token whose call has not started yet records the client that asked
-- for it, so one client (or a flood of them) cannot hold a pool full of numbers with tokens it
-- never uses: unused leases are capped per client and per campaign, and end with the token.
-- NULL when the number is free or its call has started.
ALTER TABLE number_leases ADD COLUMN pending_client TEXT;
CREATE INDEX number_leases_pending ON number_leases (campaign, pending_client);
