-- A request's contribution count, kept in its row by the statements that add or remove
-- contributions (under the row's lock), so neither the capacity check on every submission nor
-- the scheduler has to count a request's contributions again.
ALTER TABLE requests ADD COLUMN n_contributions integer NOT NULL DEFAULT 0
    CHECK (n_contributions >= 0);
UPDATE requests r SET n_contributions = (SELECT count(*) FROM contributions c WHERE c.request_id = r.id);

CREATE OR REPLACE FUNCTION request_json(r requests, viewer text) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', '0x' || encode(r.id, 'hex'), 'owner', r.owner, 'title', r.title,
        'description', r.description, 'purpose', r.purpose, 'schema', r.schema,
        'fields_hash', '0x' || encode(r.fields_hash, 'hex'), 'eligibility', r.eligibility,
        'privacy', r.privacy, 'epsilon', r.epsilon::text, 'reward', r.reward::text,
        'min_contributors', r.min_contributors, 'max_contributors', r.max_contributors,
        'escrow', (r.reward * r.max_contributors)::text, 'closes_at', ts_json(r.closes_at),
        'retention_days', r.retention_days, 'consent_expiry', r.consent_expiry,
        'status', r.status, 'public_key', '0x' || encode(r.public_key, 'hex'),
        'created_at', ts_json(r.created_at), 'closed_at', ts_json(r.closed_at),
        'shredded', r.secret_key_wrapped IS NULL,
        'contributions', CASE WHEN viewer = r.owner THEN r.n_contributions END)
$$;
