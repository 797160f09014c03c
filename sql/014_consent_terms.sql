-- What a version-2 consent signed, kept beside its signature: the terms' hash and the privacy
-- summary the contributor's wallet showed. The stored signature then verifies against exactly
-- what was signed, whatever later happens to the request's stored form. NULL for version 1.
ALTER TABLE consents
    ADD COLUMN terms_hash bytea CHECK (length(terms_hash) = 32),
    ADD COLUMN privacy text;
