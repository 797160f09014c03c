-- A contributor's studies (GET /v1/me/studies, src/db/studies.c) are read by contributor, newest
-- consent first; the consents' key leads with the request, so without this every call scanned
-- every consent.
CREATE INDEX consents_contributor ON consents (contributor, created_at DESC);
