#!/usr/bin/env bash
# The HTTP surface of the foundation: ops endpoints, routing errors, problem+json, metrics,
# access log.
source "$(dirname "$0")/lib.sh"
start_cohortd COHORT_MAX_BODY_BYTES=2048 || exit 1

http GET /healthz
check_eq "healthz answers 200" "$STATUS" 200
check_eq "healthz says ok" "$(jq_body .status)" ok

http GET /readyz
check_eq "readyz answers 200 with the database up" "$STATUS" 200
check_eq "readyz says migrations current" "$(jq_body .migrations)" current

http GET /openapi.yaml
check_eq "openapi.yaml is served" "$STATUS" 200
check_contains "openapi.yaml is the document" "$BODY" "openapi: 3.1"

http GET /v1/no/such/path
check_eq "unknown API path is 404" "$STATUS" 404
check_eq "404 is problem+json" "$CTYPE" application/problem+json
check_eq "404 problem has status member" "$(jq_body .status)" 404
check_eq "404 problem has a type" "$(jq_body .type)" urn:cohort:problem:not-found
http GET /no-such-asset.js
check_eq "a missing static asset is 404, not the app shell" "$STATUS" 404
http GET /../../etc/passwd --path-as-is
check "path traversal reaches no file outside web/" test "$STATUS" != 200 -o "$(printf '%s' "$BODY" | grep -c root:)" = 0

http DELETE /healthz
check_eq "wrong method is 405" "$STATUS" 405
check_eq "405 names the allowed methods" "$(header Allow)" GET
check_eq "405 is problem+json" "$CTYPE" application/problem+json

http PUT /v1/me/profile -H 'Content-Type: application/json' --data-binary "$(head -c 4096 /dev/zero | tr '\0' 'a')"
check_eq "body over max_body_bytes is 413" "$STATUS" 413
check_eq "413 is problem+json" "$CTYPE" application/problem+json

http POST /v1/auth/siwe -H 'Content-Type: application/json' --data-binary $'{"message": "x",\n "signature": }'
check_eq "malformed JSON is 400" "$STATUS" 400
check_eq "400 names the line" "$(jq_body .line)" 2
check_contains "400 detail names the position" "$(jq_body .detail)" "line 2, column"

http GET /metrics
check_eq "the API listener does not serve metrics" "$STATUS" 404
check_eq "its 404 is problem+json, not the app shell" "$CTYPE" application/problem+json

API_BASE=$BASE
BASE=$METRICS_BASE
# A request is counted after its answer is sent: a scrape right after it may precede the count,
# so scrape until the histogram has it (at most 2 s).
for _ in $(seq 20); do
  http GET /metrics
  case $BODY in *'cohort_http_request_duration_seconds_bucket{route="/openapi.yaml",method="GET",status="200",le="+Inf"} 1'*) break ;; esac
  sleep 0.1
done
check_eq "metrics answers 200 on metrics_listen" "$STATUS" 200
check_contains "metrics counts requests by route and status" "$BODY" 'cohort_http_requests_total{route="/openapi.yaml",method="GET",status="200"} 1'
check_contains "metrics has a latency histogram" "$BODY" 'cohort_http_request_duration_seconds_bucket{route="/openapi.yaml",method="GET",status="200",le="+Inf"} 1'
check_contains "metrics counts 404s of unknown paths" "$BODY" 'route="unmatched",method="GET",status="404"'
check_contains "metrics shows pool usage" "$BODY" 'cohort_db_pool_connections{state="max"} 16'
check_contains "metrics has build info" "$BODY" 'cohort_build_info{version='
http GET /healthz
check_eq "the metrics listener serves nothing else" "$STATUS" 404
BASE=$API_BASE

# The access log: one JSON object per request line, no bodies, no tokens.
curl -s -H 'Authorization: Bearer coh_secret_token_value' "$BASE/healthz?token=abc" >/dev/null
curl -s "$BASE/v1/claims/0x5eC0D1e7A11cE00000000000000000000000F00d" >/dev/null
sleep 0.2
lines=$(grep '"msg":"request"' "$LOG")
check "every access-log line is JSON" bash -c "grep '\"msg\":\"request\"' '$LOG' | jq -e . >/dev/null"
check_contains "access log records route and status" "$lines" '"route":"/healthz","status":200'
check "access log lines hold no raw path" sh -c "! grep '\"msg\":\"request\"' '$LOG' | grep -q '\"path\"'"
check_contains "access log names the route template" "$lines" '"route":"/v1/claims/{address}"'
check "access log holds no wallet address" sh -c "! grep -qi '5ec0d1e7a11ce' '$LOG'"
check "access log holds no token or query" sh -c "! grep -q 'coh_secret_token_value\|token=abc' '$LOG'"
check "access log holds no body" sh -c "! grep -q aaaaaaaa '$LOG'"
finish
