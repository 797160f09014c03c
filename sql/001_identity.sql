-- Identity: accounts are Ethereum addresses (lowercase 0x hex); sign-in nonces are single use;
-- sessions store only a hash of the bearer token.
CREATE TABLE accounts (
    address      text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_nonces (
    nonce        text PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9]{8,64}$'),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX auth_nonces_expires ON auth_nonces (expires_at);

CREATE TABLE sessions (
    id           bigserial PRIMARY KEY,
    address      text NOT NULL REFERENCES accounts (address),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text
);
CREATE INDEX sessions_address ON sessions (address);

CREATE TABLE profiles (
    address        text PRIMARY KEY REFERENCES accounts (address),
    is_researcher  boolean NOT NULL DEFAULT false,
    is_contributor boolean NOT NULL DEFAULT true,
    display_name   text NOT NULL DEFAULT '' CHECK (length(display_name) <= 80),
    categories     text[] NOT NULL DEFAULT '{}',
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    purposes       text[] NOT NULL DEFAULT '{}',
    min_reward     numeric(78, 0) NOT NULL DEFAULT 0 CHECK (min_reward >= 0),
    lifetime_epsilon numeric NOT NULL DEFAULT 10 CHECK (lifetime_epsilon > 0),
    epsilon_spent  numeric NOT NULL DEFAULT 0 CHECK (epsilon_spent >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
