-- Chain: anchors of ledger batches, every transaction signed for them, the claims-tree leaves
-- of each anchor (what GET /v1/claims/{address} proves against), and the deposit watcher's
-- cursor and seen events. Every step of the anchorer is a row here, so a restart continues
-- where it stopped: an anchor is created once per batch (last_seq unique), a transaction is
-- recorded before it is broadcast, and its raw bytes are re-sent, never re-signed, until one
-- of the anchor's transactions is mined with enough confirmations.
CREATE TABLE chain_anchors (
    id           bigserial PRIMARY KEY,
    first_seq    bigint NOT NULL CHECK (first_seq >= 1),
    last_seq     bigint NOT NULL UNIQUE CHECK (last_seq >= first_seq),
    ledger_root  bytea NOT NULL CHECK (length(ledger_root) = 32),
    claims_root  bytea NOT NULL CHECK (length(claims_root) = 32),
    n_claims     bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed')),
    tx_hash      bytea CHECK (length(tx_hash) = 32),  -- the transaction that got confirmed
    block_number bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);
-- At most one anchor is in flight.
CREATE UNIQUE INDEX chain_anchors_one_open ON chain_anchors ((true)) WHERE status <> 'confirmed';

CREATE TABLE chain_anchor_txs (
    tx_hash          bytea PRIMARY KEY CHECK (length(tx_hash) = 32),
    anchor_id        bigint NOT NULL REFERENCES chain_anchors (id),
    nonce            bigint NOT NULL,
    max_fee          numeric(78, 0) NOT NULL,
    max_priority_fee numeric(78, 0) NOT NULL,
    raw              bytea NOT NULL,
    status           text NOT NULL CHECK (status IN ('sent', 'mined', 'replaced', 'dropped', 'failed')),
    block_number     bigint,
    sent_at          timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chain_anchor_txs_anchor ON chain_anchor_txs (anchor_id, sent_at);

CREATE TABLE chain_claim_leaves (
    anchor_id  bigint NOT NULL REFERENCES chain_anchors (id),
    address    text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    cumulative numeric(78, 0) NOT NULL CHECK (cumulative >= 0),
    PRIMARY KEY (anchor_id, address)
);

-- Events credited to the ledger (Deposited, Claimed), once each: the ledger posting's
-- idempotency key is "<kind>:<tx hash>:<log index>" as well.
CREATE TABLE chain_events (
    tx_hash      bytea NOT NULL CHECK (length(tx_hash) = 32),
    log_index    bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('deposit', 'claim')),
    block_number bigint NOT NULL,
    block_hash   bytea NOT NULL CHECK (length(block_hash) = 32),
    account      text NOT NULL CHECK (account ~ '^0x[0-9a-f]{40}$'),
    amount       numeric(78, 0) NOT NULL,
    ledger_seq   bigint NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);

-- Scan positions (last block fully processed), by name.
CREATE TABLE chain_cursors (
    name  text PRIMARY KEY,
    block bigint NOT NULL
);
