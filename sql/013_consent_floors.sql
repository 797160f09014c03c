-- Contributor floors and version-2 consents (issue 13, DESIGN.md "Floors no request can lower").
-- A contributor's own floors: the smallest k they accept and the largest epsilon per request
-- (NULL: none of their own, the operator's hold), and statistics only (no microdata, so no
-- k-anonymity request). The inbox shows only requests within them.
ALTER TABLE profiles
    ADD COLUMN min_k integer CHECK (min_k BETWEEN 2 AND 1000),
    ADD COLUMN max_epsilon numeric CHECK (max_epsilon > 0),
    ADD COLUMN statistics_only boolean NOT NULL DEFAULT false;

-- The EIP-712 Consent type a stored signature is over: 1 (wave 1, the schema's hash) or 2 (the
-- terms' hash and the privacy summary). Rows signed before this migration are version 1 and keep
-- verifying as such.
ALTER TABLE consents
    ADD COLUMN version smallint NOT NULL DEFAULT 1 CHECK (version IN (1, 2));
