-- Reorgs deeper than the confirmations, for the deposit watcher. It remembers the hash of each
-- block it stopped a scan at (the last 256 per cursor), so when the node's block at the cursor
-- has another hash it can walk back to the newest block both still agree on and rescan from
-- there: events first mined on the new branch below the old cursor are then not missed.
CREATE TABLE chain_scanned (
    name       text NOT NULL,
    block      bigint NOT NULL,
    block_hash bytea NOT NULL CHECK (length(block_hash) = 32),
    PRIMARY KEY (name, block)
);

-- An event's identity must survive its transaction being mined again in another block, where
-- its block-wide log index changes: (transaction hash, position among the rewards contract's
-- Deposited/Claimed logs in that transaction). New ledger postings use the idempotency key
-- "<kind>:<tx hash>/<ordinal>"; rows credited before this migration keep their old key and are
-- found by (tx_hash, tx_ordinal) here, so a rescan never posts them again.
ALTER TABLE chain_events ADD COLUMN tx_ordinal integer CHECK (tx_ordinal >= 0);
UPDATE chain_events e SET tx_ordinal = o.n
  FROM (SELECT tx_hash, log_index,
               (row_number() OVER (PARTITION BY tx_hash ORDER BY log_index) - 1)::integer AS n
          FROM chain_events) o
 WHERE e.tx_hash = o.tx_hash AND e.log_index = o.log_index;
ALTER TABLE chain_events ALTER COLUMN tx_ordinal SET NOT NULL;
ALTER TABLE chain_events DROP CONSTRAINT chain_events_pkey;
ALTER TABLE chain_events ADD PRIMARY KEY (tx_hash, tx_ordinal);

-- Set when a rewind finds the event's block gone from the chain; cleared when the rescan sees
-- the event again (in any block). Still set once the scan has passed: credited, but no longer
-- on chain; an operator matter (DESIGN.md, the money model has no entry that takes a deposit
-- back), shown by GET /v1/chain and by the solvency check.
ALTER TABLE chain_events ADD COLUMN orphaned_at timestamptz;
CREATE INDEX chain_events_orphaned ON chain_events (block_number) WHERE orphaned_at IS NOT NULL;
CREATE INDEX chain_events_block ON chain_events (block_number);
