#!/usr/bin/env bash
# Installs what Inlet's tests and demo need on a fresh Debian machine:
# Postgres 15 server binaries with PostGIS, clickhouse-server, chromium
# (the status page's browser test drives it headless), and chDB through
# npm (the independent Delta reader). Idempotent.
set -euo pipefail

need=()
if ! { command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; } && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql-15)
fi
if ! command -v clickhouse-server >/dev/null && ! command -v clickhouse >/dev/null; then
  need+=(clickhouse-server clickhouse-client)
fi
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  need+=(chromium)
fi
# PostGIS, so the type test covers geometry and geography.
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need+=(postgresql-15-postgis-3)
fi
if ! command -v npm >/dev/null; then
  need+=(nodejs npm)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # The packages' own services are not started: tests and the demo start
  # their own servers on free ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is required (https://go.dev/dl/); none found on PATH" >&2; exit 1; }

# chDB (ClickHouse in a Node module, with delta-kernel-rs inside) is the
# independent Delta reader the lake tests check tables with.
chdb_dir="${INLET_CHDB:-$HOME/.cache/inlet-chdb}"
if [ ! -d "$chdb_dir/node_modules/chdb" ]; then
  command -v npm >/dev/null || { echo "npm is required for the lake tests' chDB reader (install Node.js 18+)" >&2; exit 1; }
  echo "installing chdb into $chdb_dir" >&2
  mkdir -p "$chdb_dir"
  (cd "$chdb_dir" && npm install --silent --no-audit --no-fund chdb >/dev/null)
fi

# versitygw is the S3 server the lake-on-S3 tests and benchmark run (its
# posix backend keeps objects as plain files, which chDB reads back).
bin_dir="${INLET_BIN:-$HOME/.cache/inlet-bin}"
if ! command -v versitygw >/dev/null && [ ! -x "$bin_dir/versitygw" ]; then
  echo "installing versitygw v1.8.0 into $bin_dir" >&2
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
