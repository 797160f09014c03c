-- Attested enrollment (issue 17, docs/PRIVACY.md "Who may enrol"): a request may take only
-- contributors holding an EAS off-chain attestation from an issuer it lists. Its stored
-- enrollment names the issuers, the schema (definition and UID), the subject field, attested
-- eligibility and the EAS domain; the consent's terms sign all of it.
ALTER TABLE requests DROP CONSTRAINT requests_enrollment_check;
ALTER TABLE requests ADD CONSTRAINT requests_enrollment_check
    CHECK (enrollment IS NULL OR enrollment->>'mode' IN ('open', 'invite', 'attested'));

-- One contribution per person: the subject an attestation names, per request, bound to the
-- first wallet that presented it. Only an HMAC of the request's id and the subject's value,
-- under a key derived from the master key, is kept (src/market/attestation.c
-- coh_market_subject_hash), so a dump cannot be searched for a guessable subject and links
-- nobody across requests; no view shows it to the researcher. The attestation's uid,
-- issuer and expiry are kept to check it again when the contribution arrives.
CREATE TABLE attested_subjects (
    request_id      bytea NOT NULL REFERENCES requests (id),
    subject_hash    bytea NOT NULL CHECK (length(subject_hash) = 32),
    contributor     text NOT NULL,
    attestation_uid bytea NOT NULL CHECK (length(attestation_uid) = 32),
    issuer          text NOT NULL,
    expires_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, subject_hash),
    UNIQUE (request_id, contributor)
);
-- cohort_owner owns every table (sql/030_roles.sql), also when a superuser runs this migration.
ALTER TABLE attested_subjects OWNER TO cohort_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON attested_subjects TO cohort_app;

-- Issuers' signed revocation lists (POST /v1/attestations/revocations, src/svc/attestations.c),
-- for attestations signed for an EAS contract cohortd cannot ask (the operator's eas_contract is
-- asked on chain). Only issuers some attested request lists may add to it; an attestation whose
-- (issuer, uid) is here is refused at consent.
CREATE TABLE attestation_revocations (
    issuer     text NOT NULL,
    uid        bytea NOT NULL CHECK (length(uid) = 32),
    signed_at  timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, uid)
);
ALTER TABLE attestation_revocations OWNER TO cohort_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON attestation_revocations TO cohort_app;
