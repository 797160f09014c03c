-- Participation is private (issue 14; docs/LEDGER.md). From wave 2 a release posts ONE reward
-- entry, escrow:<request> -> the pooled "payable", carrying the count and the Merkle root of its
-- credit leaves keccak256(abi.encode(address, amount, salt)); who was credited what lives only
-- here, served to each address alone. Wave-1 entries (one per contributor, payable:<addr>) stay
-- as they were: entries are immutable, and an address's claims-tree cumulative is what they
-- credit it plus its wave-2 credits. Their balances move into the pool, by a 'pool' entry per
-- address that the release worker posts (it holds the signing key; SQL does not).
CREATE TABLE ledger_credits (
    id         bigserial PRIMARY KEY,
    address    text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    amount     numeric(78, 0) NOT NULL CHECK (amount > 0),
    salt       bytea NOT NULL CHECK (length(salt) = 32),
    -- The idempotency key of the entry that credits it ('reward:<request>', 'withdrawal:...').
    -- A credit counts only once its entry exists: credits are written first, in their own
    -- transaction, so a crash between the two leaves credits that count for nothing yet and a
    -- retry finds the same salts and posts the same root.
    entry_key  text NOT NULL,
    request_id text CHECK (request_id ~ '^0x[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entry_key, address)
);
CREATE INDEX ledger_credits_address ON ledger_credits (address);

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('deposit', 'escrow', 'reward', 'refund', 'withdrawal', 'claim',
                    'key_rotation', 'pool'));

-- Where a contributor's rewards are credited (claims go to it); NULL: the sign-in address.
ALTER TABLE profiles ADD COLUMN payout_address text CHECK (payout_address ~ '^0x[0-9a-f]{40}$');
-- Fixed when the release is stored, so a retried payout credits the same address.
ALTER TABLE release_members ADD COLUMN payee text;

-- Wave-2 claims debit the pool and name the claiming address in ref_contribution (it is on
-- chain anyway); an address's claimed total reads them by it.
CREATE INDEX ledger_entries_claims ON ledger_entries (ref_contribution) WHERE kind = 'claim';
