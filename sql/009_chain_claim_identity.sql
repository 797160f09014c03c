-- A claim's identity on chain is (account, cumulative amount): the contract's cumulative per
-- account strictly increases with every claim. A claim dropped by a reorg deeper than the
-- confirmations and sent again in a new transaction is then recognised as the one already
-- debited (chain_events.c), where (tx hash, ordinal) would see a second claim and debit
-- payable twice. Rows credited before this migration get their cumulative from the running
-- sum of their account's claims, which is what the contract held after each.
ALTER TABLE chain_events ADD COLUMN claim_cumulative numeric(78, 0)
    CHECK ((kind = 'claim') = (claim_cumulative IS NOT NULL));
UPDATE chain_events e SET claim_cumulative = x.c
  FROM (SELECT tx_hash, tx_ordinal,
               sum(amount) OVER (PARTITION BY account ORDER BY block_number, log_index) AS c
          FROM chain_events WHERE kind = 'claim') x
 WHERE e.tx_hash = x.tx_hash AND e.tx_ordinal = x.tx_ordinal;
CREATE UNIQUE INDEX chain_events_claim ON chain_events (account, claim_cumulative)
    WHERE kind = 'claim';
