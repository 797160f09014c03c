-- The inbox (issue 17): a contributor's matching runs in SQL before the page's limit
-- (src/db/market.c coh_db_inbox), newest first by (created_at, id), the cursor of its pages.
--
-- requests_inbox holds the open requests in that order: when matches are many, a page is read
-- from the newest open request down and stops after its limit. When they are few among many
-- open requests (an attacker's thousands that match nobody), the candidates come from the GIN
-- index of match_tokens instead, kept from each request's purpose, eligibility and reward: one
-- token 'purpose|age_band|country|sex|b' for each combination of the values its eligibility
-- allows ('*' for an attribute it does not name; all three '*' past 64 combinations, to bound
-- the row), for each b from 1 to its reward's bucket (its digits in threes: 1-999 is 1, up to
-- 999999 is 2...). A contributor's tokens are their purposes x {'*', their value} for each
-- attribute x their min_reward's bucket: a request can match them only if the two sets meet.
-- One indexed condition selects a superset of the matches, whose statistics the planner can
-- read; the exact rules (src/market/match.c, and their SQL in coh_db_inbox) decide each row.
CREATE FUNCTION request_match_tokens(purpose text, eligibility jsonb, reward numeric)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    a text[] := ARRAY['*'];
    c text[] := ARRAY['*'];
    s text[] := ARRAY['*'];
    x text;
    y text;
    z text;
    tokens text[] := '{}';
BEGIN
    IF jsonb_typeof(eligibility -> 'age_band') = 'array' THEN
        a := ARRAY(SELECT jsonb_array_elements_text(eligibility -> 'age_band'));
    END IF;
    IF jsonb_typeof(eligibility -> 'country') = 'array' THEN
        c := ARRAY(SELECT jsonb_array_elements_text(eligibility -> 'country'));
    END IF;
    IF jsonb_typeof(eligibility -> 'sex') = 'array' THEN
        s := ARRAY(SELECT jsonb_array_elements_text(eligibility -> 'sex'));
    END IF;
    IF cardinality(a) * cardinality(c) * cardinality(s) > 64 THEN
        a := ARRAY['*'];
        c := ARRAY['*'];
        s := ARRAY['*'];
    END IF;
    FOREACH x IN ARRAY a LOOP
        FOREACH y IN ARRAY c LOOP
            FOREACH z IN ARRAY s LOOP
                FOR b IN 1 .. (length(reward::text) + 2) / 3 LOOP
                    tokens := tokens || (purpose || '|' || x || '|' || y || '|' || z || '|' || b);
                END LOOP;
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN tokens;
END
$$;
ALTER TABLE requests ADD COLUMN match_tokens text[] GENERATED ALWAYS AS
    (request_match_tokens(purpose, eligibility, reward)) STORED;

CREATE INDEX requests_inbox ON requests (created_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX requests_open_reward ON requests (reward) WHERE status = 'open';
CREATE INDEX requests_open_tokens ON requests USING gin (match_tokens) WHERE status = 'open';
