-- The inbox (issue 17): a contributor's matching runs in SQL before the page's limit
-- (src/db/market.c coh_db_inbox), newest first by (created_at, id), the cursor of its pages.
-- requests_inbox holds the open requests in that order, so a page is read from the newest open
-- request down and stops after its limit of matches, however many closed requests there are.
-- requests_open_reward lets the planner start from the requests paying at least the
-- contributor's min_reward instead, when few do (an attacker's thousands of cheap requests).
CREATE INDEX requests_inbox ON requests (created_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX requests_open_reward ON requests (reward) WHERE status = 'open';
