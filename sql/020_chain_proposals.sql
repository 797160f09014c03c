-- Anchors are proposals (DESIGN.md, "Who may move the money on chain"): each carries the total
-- its claims tree credits (capped on chain by every deposit ever received) and, once mined,
-- the time it becomes effective (the Anchored event's effectiveAt: mined + challenge period).
-- The guardian may veto one before then: it is kept as 'vetoed' (its entries are anchored
-- again by no later batch; the next batch starts after it) and no claim is served against it.
ALTER TABLE chain_anchors ADD COLUMN total_credited numeric(78, 0) NOT NULL DEFAULT 0;
ALTER TABLE chain_anchors ADD COLUMN effective_at timestamptz;
ALTER TABLE chain_anchors ADD COLUMN vetoed_at timestamptz;
ALTER TABLE chain_anchors DROP CONSTRAINT chain_anchors_status_check;
ALTER TABLE chain_anchors ADD CONSTRAINT chain_anchors_status_check
    CHECK (status IN ('pending', 'sent', 'confirmed', 'vetoed'));
DROP INDEX chain_anchors_one_open;
CREATE UNIQUE INDEX chain_anchors_one_open ON chain_anchors ((true))
    WHERE status IN ('pending', 'sent');
-- Anchors confirmed before this migration were effective at once (the old contract).
UPDATE chain_anchors SET effective_at = confirmed_at WHERE status = 'confirmed';

-- The anchorer's health, one row, written by the cohortd that runs the chain worker and read
-- by /readyz, /metrics and GET /v1/chain: whether its key is the contract's anchorer, the
-- failures in a row (reverted simulations or transactions, node errors) and when it tries
-- again (exponential backoff), or that it stopped after anchor_max_failures.
CREATE TABLE chain_anchorer (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    signer      text NOT NULL CHECK (signer ~ '^0x[0-9a-f]{40}$'),
    state       text NOT NULL CHECK (state IN ('ok', 'not_anchorer', 'backoff', 'stopped')),
    reason      text NOT NULL DEFAULT '',
    failures    integer NOT NULL DEFAULT 0,
    next_try_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
