-- Enrollment modes (issue 17, docs/PRIVACY.md "Who may enrol"). A request says who may
-- contribute: open (any signed-in wallet) or invite (one-time codes the researcher hands out).
-- requests.enrollment holds the normalized mode ({"mode":"invite","codes":N}); NULL for requests
-- stored before this migration and for open ones, which request_json shows as {"mode":"open"}
-- and whose consent terms keep enrollment "open", so signed consents still verify.
ALTER TABLE requests ADD COLUMN enrollment jsonb
    CHECK (enrollment IS NULL OR enrollment->>'mode' IN ('open', 'invite'));

-- Invite codes, stored only as SHA-256 hashes: the codes themselves are shown once, to the
-- researcher, at creation. Which wallet redeemed which code stays between the server and that
-- wallet: no view shows redeemed_by to the researcher, only counts (request_json).
CREATE TABLE invite_codes (
    request_id  bytea NOT NULL REFERENCES requests (id),
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    redeemed_by text,
    redeemed_at timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (request_id, code_hash),
    CHECK ((redeemed_by IS NULL) = (redeemed_at IS NULL))
);
-- cohort_owner owns every table (sql/030_roles.sql), also when a superuser runs this migration.
ALTER TABLE invite_codes OWNER TO cohort_owner;
-- A wallet holds at most one live code per request, also when two of its consents race.
CREATE UNIQUE INDEX invite_codes_one_per_wallet ON invite_codes (request_id, redeemed_by)
    WHERE redeemed_by IS NOT NULL AND revoked_at IS NULL;

-- The owner's counts are read from the indexes alone (index-only scans), not from every code's
-- row: an owner's list may hold many requests of thousands of codes.
CREATE INDEX invite_codes_redeemed ON invite_codes (request_id) WHERE redeemed_by IS NOT NULL;
CREATE INDEX invite_codes_revoked ON invite_codes (request_id) WHERE revoked_at IS NOT NULL;

-- A request as the API shows it: enrollment for everyone; the invite codes' counts (issued,
-- redeemed, revoked) only to the owner, never who redeemed them.
CREATE OR REPLACE FUNCTION request_json(r requests, viewer text) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', '0x' || encode(r.id, 'hex'), 'owner', r.owner, 'title', r.title,
        'description', r.description, 'purpose', r.purpose, 'schema', r.schema,
        'fields_hash', '0x' || encode(r.fields_hash, 'hex'), 'eligibility', r.eligibility,
        'enrollment', coalesce(r.enrollment, '{"mode": "open"}'::jsonb),
        'privacy', r.privacy, 'epsilon', r.epsilon::text, 'reward', r.reward::text,
        'min_contributors', r.min_contributors, 'max_contributors', r.max_contributors,
        'escrow', (r.reward * r.max_contributors)::text, 'closes_at', ts_json(r.closes_at),
        'retention_days', r.retention_days, 'consent_expiry', r.consent_expiry,
        'status', r.status, 'public_key', '0x' || encode(r.public_key, 'hex'),
        'created_at', ts_json(r.created_at), 'closed_at', ts_json(r.closed_at),
        'shredded', r.secret_key_wrapped IS NULL,
        'contributions', CASE WHEN viewer = r.owner THEN r.n_contributions END,
        'invite_codes', CASE WHEN viewer = r.owner AND r.enrollment->>'mode' = 'invite' THEN
            json_build_object(
                'issued', (SELECT count(*) FROM invite_codes c WHERE c.request_id = r.id),
                'redeemed', (SELECT count(*) FROM invite_codes c WHERE c.request_id = r.id
                             AND c.redeemed_by IS NOT NULL),
                'revoked', (SELECT count(*) FROM invite_codes c WHERE c.request_id = r.id
                            AND c.revoked_at IS NOT NULL)) END)
$$;
