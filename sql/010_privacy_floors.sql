-- Privacy floors (issue 13).
-- A contributor's lifetime epsilon is never overspent: the release charges it in the same
-- transaction that stores the release, and this CHECK makes a concurrent second charge fail
-- (the release worker then recomputes without that contributor). NOT VALID: rows overspent by
-- the wave-1 race stay readable; every new charge is checked.
ALTER TABLE profiles ADD CONSTRAINT profiles_epsilon_within_lifetime
    CHECK (epsilon_spent <= lifetime_epsilon) NOT VALID;

-- Every contributor whose valid record was accepted is paid; released says whether their row
-- is in the published release or was suppressed to protect the others.
ALTER TABLE release_members ADD COLUMN released boolean NOT NULL DEFAULT true;

-- Failures end: failures counts attempts that failed for a reason that will not change (not a
-- lost connection or a conflict); after a few the request is failed and refunded.
ALTER TABLE release_jobs ADD COLUMN failures integer NOT NULL DEFAULT 0;
