#!/usr/bin/env bash
# Runs Inlet's whole test suite against real services it starts itself
# (Postgres, clickhouse-server, the kfake broker) on free local ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
go vet ./...
go test -count=1 -timeout 40m ./...
