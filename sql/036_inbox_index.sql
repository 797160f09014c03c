-- The inbox (issue 17): a contributor's matching runs in SQL before the page's limit
-- (src/db/market.c coh_db_inbox), newest first by (created_at, id), the cursor of its pages.
--
-- requests_inbox holds the open requests in that order: when matches are many, a page is read
-- from the newest open request down and stops after its limit. When they are few among many
-- open requests (an attacker's thousands that match nobody), the candidates come from indexes
-- instead: requests_open_reward (reward >= the contributor's min_reward) and the GIN index of
-- match_tokens, kept from each request's purpose and eligibility: 'purpose:<purpose>', and for
-- each attribute of the vocabulary (age_band, country, sex) 'k:<value>' for each value it
-- allows, or 'k:*' when it names none; a contributor with value v for k matches on k iff the
-- tokens meet {'k:*', 'k:v'}. These select a superset of the matches; the exact rules
-- (src/market/match.c, and their SQL in coh_db_inbox) still decide each row.
CREATE FUNCTION request_match_tokens(purpose text, eligibility jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['purpose:' || purpose] || ARRAY(
        SELECT k || ':' || v
        FROM unnest(ARRAY['age_band', 'country', 'sex']) AS k,
             LATERAL (SELECT jsonb_array_elements_text(eligibility -> k) AS v
                      WHERE jsonb_typeof(eligibility -> k) = 'array'
                      UNION ALL
                      SELECT '*' WHERE jsonb_typeof(eligibility -> k) IS DISTINCT FROM 'array') x)
$$;
ALTER TABLE requests ADD COLUMN match_tokens text[] GENERATED ALWAYS AS
    (request_match_tokens(purpose, eligibility)) STORED;

CREATE INDEX requests_inbox ON requests (created_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX requests_open_reward ON requests (reward) WHERE status = 'open';
CREATE INDEX requests_open_tokens ON requests USING gin (match_tokens) WHERE status = 'open';
