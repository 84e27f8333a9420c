#!/usr/bin/env bash
# Runs Inlet's whole test suite against real services it starts itself
# (Postgres, clickhouse-server, the kfake broker, versitygw for S3) on
# free local ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
go vet ./...
go test -count=1 -timeout 40m ./...
# The lake's unit tests again with the lake on S3 (versitygw).
INLET_LAKE_STORE=s3 go test -count=1 -timeout 20m ./lake/
