-- A credit counts once the entry that commits to its root is posted; after that nothing may be
-- added under that entry, or the claims tree would pay what no signed entry carries (a database
-- password alone would do). Credits are written before their entry (src/market/pay.c), so an
-- insert under a posted entry is refused, whoever asks; a payout retried after its entry is
-- posted does not write credits again. Amounts stay below 2^256, as the ledger's.
-- Withdrawals no longer have credits (their signed entry carries the amount and names the
-- researcher): only a release's reward has credits, written by one job, so cohortd's role no
-- longer needs to restate an amount either.
CREATE FUNCTION ledger_credits_before_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE idempotency_key = NEW.entry_key) THEN
        RAISE EXCEPTION 'ledger credit of %: its entry is posted, nothing can be added to it',
            NEW.entry_key USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_credits_append_only_before_entry BEFORE INSERT ON ledger_credits
    FOR EACH ROW EXECUTE FUNCTION ledger_credits_before_entry();

ALTER TABLE ledger_credits ADD CONSTRAINT ledger_credits_amount_uint256
    CHECK (amount < 115792089237316195423570985008687907853269984665640564039457584007913129639936);

REVOKE UPDATE ON ledger_credits FROM cohort_app;
