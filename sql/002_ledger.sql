-- Ledger: append-only, hash-chained, signed entries (see src/ledger/ledger.h for the canonical
-- encoding), per-account balances kept in the same transaction as each posting, the single
-- head row every posting locks so the chain never forks, and the ledger signing keys (wrapped
-- under the master key).
CREATE TABLE ledger_entries (
    seq              bigint PRIMARY KEY CHECK (seq >= 1),
    kind             text NOT NULL CHECK (kind IN ('deposit', 'escrow', 'reward', 'refund',
                                                   'withdrawal', 'claim', 'key_rotation')),
    debit            text NOT NULL CHECK (length(debit) BETWEEN 1 AND 128),
    credit           text NOT NULL CHECK (length(credit) BETWEEN 1 AND 128),
    amount           numeric(78, 0) NOT NULL,
    ref_request      text CHECK (length(ref_request) <= 128),
    ref_contribution text CHECK (length(ref_contribution) <= 128),
    ref_anchor       text CHECK (length(ref_anchor) <= 128),
    ref_tx           text CHECK (length(ref_tx) <= 128),
    created_at       timestamptz NOT NULL,
    idempotency_key  text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    prev_hash        bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash             bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    signature        bytea NOT NULL CHECK (length(signature) = 65),
    signer           text NOT NULL CHECK (signer ~ '^0x[0-9a-f]{40}$'),
    CHECK (debit <> credit),
    CHECK (amount > 0 OR (kind = 'key_rotation' AND amount = 0)),
    CHECK (amount < 115792089237316195423570985008687907853269984665640564039457584007913129639936)
);
CREATE INDEX ledger_entries_debit ON ledger_entries (debit, seq);
CREATE INDEX ledger_entries_credit ON ledger_entries (credit, seq);
CREATE INDEX ledger_entries_request ON ledger_entries (ref_request, seq) WHERE ref_request IS NOT NULL;

-- Entries are never changed or removed: the database refuses it, whoever asks.
CREATE FUNCTION ledger_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse();

-- The chain head: one row, locked FOR UPDATE by every posting (serializes appends).
CREATE TABLE ledger_head (
    id    int PRIMARY KEY CHECK (id = 1),
    seq   bigint NOT NULL,
    hash  bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO ledger_head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Balances per named account ("chain", "available:0x..", "escrow:0x..", "payable:0x..").
-- credited/debited are cumulative totals; balance = credited - debited. Only "chain" may go
-- below zero (minus its balance is what the contract holds). owner: the researcher address an
-- escrow account belongs to (from its first escrow entry), NULL otherwise.
CREATE TABLE ledger_balances (
    account   text PRIMARY KEY,
    balance   numeric(79, 0) NOT NULL DEFAULT 0,
    credited  numeric(79, 0) NOT NULL DEFAULT 0 CHECK (credited >= 0),
    debited   numeric(79, 0) NOT NULL DEFAULT 0 CHECK (debited >= 0),
    owner     text,
    CONSTRAINT ledger_balance_nonnegative CHECK (account = 'chain' OR balance >= 0)
);
CREATE INDEX ledger_balances_owner ON ledger_balances (owner) WHERE owner IS NOT NULL;

-- Ledger signing keys: the secp256k1 key wrapped with coh_crypto_wrap (context "ledger").
-- Exactly one is active.
CREATE TABLE ledger_keys (
    id          bigserial PRIMARY KEY,
    address     text NOT NULL UNIQUE CHECK (address ~ '^0x[0-9a-f]{40}$'),
    wrapped_key bytea NOT NULL,
    active      boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX ledger_keys_one_active ON ledger_keys (active) WHERE active;
