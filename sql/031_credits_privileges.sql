-- Private credits (011) decide what each address may claim, so cohortd's role gets no more than
-- it uses: it appends and reads them, restates only the amount, and only while the entry that
-- commits to their root is not posted; it never removes them. The trigger belongs to the owner,
-- so cohort_app cannot drop or disable it.
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ledger_credits FROM cohort_app;
GRANT UPDATE (amount) ON ledger_credits TO cohort_app;

CREATE FUNCTION ledger_credits_fixed_once_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE idempotency_key = OLD.entry_key) THEN
        RAISE EXCEPTION 'ledger credit of %: its entry is posted, it cannot change',
            OLD.entry_key USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_credits_fixed BEFORE UPDATE ON ledger_credits
    FOR EACH ROW EXECUTE FUNCTION ledger_credits_fixed_once_posted();
