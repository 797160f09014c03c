-- cohort watch (src/cli/cmd_watch.c) runs away from cohortd with read-only credentials: the role
-- cohort_watch reads the ledger entries and the private credits it recomputes claims roots from,
-- and nothing else (no sessions, no contributions, no keys). The set-up scripts create it with
-- LOGIN; missing here, it is created without LOGIN (that needs CREATEROLE).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_watch') THEN
        CREATE ROLE cohort_watch NOLOGIN;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_watch'
               AND (rolsuper OR rolbypassrls OR rolcreaterole))
       OR pg_has_role('cohort_watch', 'cohort_owner', 'MEMBER')
       OR pg_has_role('cohort_watch', 'cohort_app', 'MEMBER') THEN
        RAISE EXCEPTION 'cohort_watch must be read-only: not a superuser, without CREATEROLE or '
                        'BYPASSRLS, and a member of neither cohort_owner nor cohort_app';
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO cohort_watch;
GRANT SELECT ON ledger_entries, ledger_credits TO cohort_watch;
