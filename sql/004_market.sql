-- Marketplace: requests with their X25519 key (secret wrapped under the master key), signed
-- consents, sealed contributions (ciphertext only), release jobs, releases, notices.
CREATE TABLE requests (
    id               bytea PRIMARY KEY CHECK (length(id) = 32),
    owner            text NOT NULL REFERENCES accounts (address),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    purpose          text NOT NULL,
    schema           jsonb NOT NULL,
    fields_hash      bytea NOT NULL CHECK (length(fields_hash) = 32),
    eligibility      jsonb NOT NULL DEFAULT '{}'::jsonb,
    privacy          jsonb NOT NULL,
    epsilon          numeric NOT NULL DEFAULT 0 CHECK (epsilon >= 0),
    reward           numeric(78, 0) NOT NULL CHECK (reward > 0),
    min_contributors integer NOT NULL CHECK (min_contributors >= 1),
    max_contributors integer NOT NULL CHECK (max_contributors >= min_contributors),
    closes_at        timestamptz NOT NULL,
    retention_days   integer NOT NULL CHECK (retention_days BETWEEN 0 AND 3650),
    consent_expiry   bigint NOT NULL,
    status           text NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'open', 'closing', 'released', 'failed', 'cancelled')),
    public_key       bytea NOT NULL CHECK (length(public_key) = 32),
    secret_key_wrapped bytea,            -- NULL once crypto-shredded
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz,
    shredded_at      timestamptz
);
CREATE INDEX requests_owner ON requests (owner);
CREATE INDEX requests_open ON requests (closes_at) WHERE status = 'open';

CREATE TABLE consents (
    request_id   bytea NOT NULL REFERENCES requests (id),
    contributor  text NOT NULL REFERENCES accounts (address),
    signature    bytea NOT NULL CHECK (length(signature) = 65),
    expiry       bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    PRIMARY KEY (request_id, contributor)
);

-- Only ciphertext (crypto_box_seal to the request's public key) is ever stored.
CREATE TABLE contributions (
    request_id   bytea NOT NULL,
    contributor  text NOT NULL,
    ciphertext   bytea NOT NULL CHECK (length(ciphertext) BETWEEN 49 AND 65536),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, contributor),
    FOREIGN KEY (request_id, contributor) REFERENCES consents (request_id, contributor)
);

-- A release job per closing request; claimed with FOR UPDATE SKIP LOCKED under a lease.
CREATE TABLE release_jobs (
    request_id   bytea PRIMARY KEY REFERENCES requests (id),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done')),
    attempts     integer NOT NULL DEFAULT 0,
    lease_until  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    last_error   text
);
CREATE INDEX release_jobs_todo ON release_jobs (created_at) WHERE state <> 'done';

-- The protected release: CSV (k-anonymity) or JSON (differential privacy), and its report.
CREATE TABLE releases (
    request_id   bytea PRIMARY KEY REFERENCES requests (id),
    mode         text NOT NULL CHECK (mode IN ('k-anonymity', 'dp', 'none')),
    content_type text NOT NULL,
    content      text NOT NULL,
    report       jsonb NOT NULL,
    included     integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Who was included (and so is paid): written with the release, in one transaction.
CREATE TABLE release_members (
    request_id   bytea NOT NULL REFERENCES releases (request_id),
    contributor  text NOT NULL,
    PRIMARY KEY (request_id, contributor)
);

CREATE TABLE notices (
    id           bigserial PRIMARY KEY,
    address      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('release_done', 'reward_paid', 'request_cancelled',
                                               'request_failed', 'consent_revoked')),
    request_id   bytea,
    detail       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (address, kind, request_id)
);
CREATE INDEX notices_address ON notices (address, id DESC);

-- JSON views shared by the API's queries.
CREATE FUNCTION ts_json(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A request as the API shows it; the contribution count only to its owner.
CREATE FUNCTION request_json(r requests, viewer text) RETURNS json LANGUAGE sql STABLE AS $$
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
        'contributions', CASE WHEN viewer = r.owner THEN
            (SELECT count(*) FROM contributions c WHERE c.request_id = r.id) END)
$$;
