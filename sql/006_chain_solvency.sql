-- The solvency check the anchorer runs after each confirmed anchor (DESIGN.md, the money
-- model), at the last block whose events are credited: the rewards contract's token balance
-- must equal deposits - claims seen on chain, and be at least what the anchor lets addresses
-- claim (sum over its leaves of cumulative - claimed). One row per anchor, kept as evidence.
CREATE TABLE chain_solvency (
    anchor_id        bigint PRIMARY KEY REFERENCES chain_anchors (id),
    block_number     bigint NOT NULL,
    contract_balance numeric(78, 0) NOT NULL,
    net_deposits     numeric(78, 0) NOT NULL, -- deposits - claims (events up to block_number)
    owed             numeric(78, 0) NOT NULL, -- sum of (anchored cumulative - claimed)
    ok               boolean NOT NULL,
    checked_at       timestamptz NOT NULL DEFAULT now()
);
