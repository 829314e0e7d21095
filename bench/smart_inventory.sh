#!/usr/bin/env bash
# Issue 21's figure: a smart inventory over 100,000 hosts (PostgreSQL).
#
# 100,000 hosts in 10 inventories of one organization (half with facts, every tenth in a group)
# are loaded with one SQL statement each (setup, not measured), then smart inventories with
# four kinds of `host_filter` are made through the API and read the way clients read them:
# the first page of `/inventories/N/hosts/` (with its count), the inventory itself
# (`total_hosts`), and `/inventories/N/script/` (every host's name: what a job's inventory is
# built from). Beside each figure, the floor measured in the same run: PostgreSQL's own
# execution time (EXPLAIN ANALYZE) of the same selection written by hand as one query.
#
#   bench/smart_inventory.sh            # HOSTS=100000 REPEAT=5 by default
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init smart
HOSTS=${HOSTS:-100000}
REPEAT=${REPEAT:-5}
pg_check
build_rawx
bench_env
DB=$(pg_create_db rawx_smart)
say "rawx serve on PostgreSQL database $DB"
serve "$WORK/server.log" --data-dir "$WORK/data" --database-url "$PG_URL/$DB"
say "load $HOSTS hosts, then measure (median of $REPEAT)"
"$PY" "$BENCH_DIR/smartbench.py" --port "$PORT" --password "$PW" --pg "$PG_URL/$DB" \
    --hosts "$HOSTS" --repeat "$REPEAT" --out "${RAWX_BENCH_OUT:-/var/tmp/rawx-bench}/smart_inventory.json" \
    --meta "$(bench_meta hosts:="$HOSTS" load="$(load_average)")"
