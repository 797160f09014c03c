-- Privileges are split (DESIGN.md, "Running"): cohort_owner owns every object and runs the
-- migrations; cohort_app, the role cohortd connects as, reads and appends ledger entries but can
-- never update, delete or truncate them, owns nothing and can create nothing. A stolen cohortd
-- (or its database password) then cannot rewrite the ledger: ALTER, DISABLE TRIGGER and
-- session_replication_role all need ownership or superuser.
--
-- The set-up scripts create both roles with LOGIN; a role still missing here is created without
-- LOGIN (that needs CREATEROLE), so an operator can add the login and password afterwards.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_owner') THEN
        CREATE ROLE cohort_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_app') THEN
        CREATE ROLE cohort_app NOLOGIN;
    END IF;
    -- The split means nothing if the application role can act as the owner or a superuser.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_app'
               AND (rolsuper OR rolbypassrls OR rolcreaterole))
       OR pg_has_role('cohort_app', 'cohort_owner', 'MEMBER') THEN
        RAISE EXCEPTION 'cohort_app must not be a superuser, have CREATEROLE or BYPASSRLS, or be '
                        'a member of cohort_owner';
    END IF;
END $$;

-- Objects made by earlier migrations under another role (a superuser, before the split) move to
-- the owner. Sequences owned by a column move with their table.
DO $$
DECLARE
    o record;
BEGIN
    IF current_user = 'cohort_owner' THEN
        RETURN;
    END IF;
    FOR o IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
               AND pg_get_userbyid(c.relowner) <> 'cohort_owner'
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        IF o.relkind = 'S' THEN
            EXECUTE format('ALTER SEQUENCE %s OWNER TO cohort_owner', o.name);
        ELSE
            EXECUTE format('ALTER TABLE %s OWNER TO cohort_owner', o.name);
        END IF;
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'cohort_owner'
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO cohort_owner', o.name);
    END LOOP;
    -- Later migrations, run as the owner, create their tables in public.
    IF NOT has_schema_privilege('cohort_owner', 'public', 'CREATE') THEN
        GRANT USAGE, CREATE ON SCHEMA public TO cohort_owner;
    END IF;
    -- Tables a later migration creates while still run as this role get the same grants.
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT, INSERT, '
                   'UPDATE, DELETE ON TABLES TO cohort_app', current_user);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE, SELECT ON '
                   'SEQUENCES TO cohort_app', current_user);
END $$;

-- The application role: data manipulation on every table, then less on the ledger's.
GRANT USAGE ON SCHEMA public TO cohort_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cohort_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO cohort_app;
-- Entries: read and append only (the triggers of 002 refuse the rest even to the owner).
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ledger_entries FROM cohort_app;
-- The head row is moved by every posting, never added or removed; balances and keys change in
-- place (a key is retired, never deleted).
REVOKE INSERT, DELETE ON ledger_head FROM cohort_app;
REVOKE DELETE ON ledger_balances, ledger_keys FROM cohort_app;
-- cohortd only checks that the migrations are current.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM cohort_app;
REVOKE ALL ON ledger_entries, ledger_head, ledger_balances, ledger_keys FROM PUBLIC;

-- Tables of later migrations (run as the owner): the same data manipulation by default. A later
-- table that must be append-only revokes it, as above.
ALTER DEFAULT PRIVILEGES FOR ROLE cohort_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO cohort_app;
ALTER DEFAULT PRIVILEGES FOR ROLE cohort_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO cohort_app;
