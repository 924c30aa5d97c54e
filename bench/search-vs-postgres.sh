#!/usr/bin/env bash
# Free-text search (`q`) against its PostgreSQL equivalent, in one run: Bando answering
# /collections/{id}/items?q=WORD&limit=100 over HTTP, and PostgreSQL alone (pgbench) running
# unaccent(lower(<the same text columns>)) LIKE '%word%' with ST_AsGeoJSON, count(*) OVER ()
# (Bando's numberMatched, which makes both look at every feature) ORDER BY id LIMIT 100 — the
# database's side only, with no HTTP and no ranking, so a ceiling for any server built on it. Two workloads: the 2 000 heritage sites by a word of their names (the list of
# items-vs-tipg.sh), and the ~314 000 roads by a word of theirs (500 draws, seeded).
# Concurrency 16, each run SECONDS (30) long; PREVIOUS_BIN=<binary> adds an earlier build's run.
#   bench/search-vs-postgres.sh DATABASE_URL BANDO_BIN LOADGEN_BIN [OUT_DIR]
# The database holds the benchmark province (bench/generate-province.sh ... bench) and may
# create the unaccent extension.
set -euo pipefail
db=$1 bando=$2 loadgen=$3 out=${4:-bench/out}
seconds=${SECONDS_PER_RUN:-30}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
results="$out/search.jsonl"
: >"$results"

psql -X -q "$db" -c "CREATE EXTENSION IF NOT EXISTS unaccent"
psql -X -At -F $'\t' "$db" -f "$here/items-list.sql" | awk -F'\t' '$1 == "search" {print $2}' >"$out/heritage-paths.txt"
psql -X -q -v ON_ERROR_STOP=1 "$db" <<'SQL'
SELECT setseed(0.42) \g /dev/null
DROP TABLE IF EXISTS public.bench_search_words;
CREATE TABLE public.bench_search_words (layer text, n int, w text, PRIMARY KEY (layer, n));
WITH words AS (SELECT array_agg(DISTINCT w ORDER BY w) AS list FROM (SELECT DISTINCT name FROM transport.roads) r,
                 regexp_split_to_table(lower(name), ' ') AS w WHERE w ~ '^[[:alpha:]]{3,}$')
INSERT INTO public.bench_search_words
SELECT 'roads', n, list[1 + floor(random() * array_length(list, 1))::int] FROM words, generate_series(1, 500) n;
SQL
# The heritage words are the items list's, decoded from its URLs.
python3 - "$out/heritage-paths.txt" "$out/heritage-words.txt" <<'PY'
import sys, urllib.parse
paths = [l.strip() for l in open(sys.argv[1]) if l.strip()]
words = [urllib.parse.unquote(p.split("q=")[1].split("&")[0]) for p in paths]
open(sys.argv[2], "w").write("".join(f"heritage\t{i + 1}\t{w}\n" for i, w in enumerate(words)))
PY
psql -X -q "$db" -c "\copy public.bench_search_words FROM '$out/heritage-words.txt'"
psql -X -At "$db" -c "SELECT '/collections/roads/items?q=' || w || '&limit=100' FROM public.bench_search_words WHERE layer = 'roads' ORDER BY n" \
  | python3 -c 'import sys, urllib.parse as u; [print(l.split("q=")[0] + "q=" + u.quote(l.split("q=")[1].split("&")[0]) + "&limit=100") for l in sys.stdin if l.strip()]' \
  >"$out/roads-paths.txt"

cat >"$out/pg-heritage.sql" <<'SQL'
\set n random(1, 2000)
SELECT s.id, ST_AsGeoJSON(s.geom), count(*) OVER (), s.name, s.kind, s.rank, s.recognized_on, s.address, s.description
FROM heritage.sites s, public.bench_search_words q
WHERE q.layer = 'heritage' AND q.n = :n
  AND unaccent(lower(concat_ws(' ', s.name, s.kind, s.rank, s.address, s.description))) LIKE '%' || unaccent(lower(q.w)) || '%'
ORDER BY s.id LIMIT 100;
SQL
cat >"$out/pg-roads.sql" <<'SQL'
\set n random(1, 500)
SELECT r.id, ST_AsGeoJSON(r.geom), count(*) OVER (), r.name, r.class, r.ref, r.lanes, r.surface, r.width_m, r.opened_on
FROM transport.roads r, public.bench_search_words q
WHERE q.layer = 'roads' AND q.n = :n
  AND unaccent(lower(concat_ws(' ', r.name, r.class, r.ref, r.surface))) LIKE '%' || unaccent(lower(q.w)) || '%'
ORDER BY r.id LIMIT 100;
SQL

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; true' EXIT
run_bando() { # label binary
  DATABASE_URL=$db RUST_LOG=warn "$2" --config "$here/bando-bench.toml" serve --addr 127.0.0.1:18080 >"$out/bando.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf 127.0.0.1:18080/ready >/dev/null && break; sleep 0.2; done
  curl -sf 127.0.0.1:18080/ready >/dev/null || { echo "$1 did not start; see $out/bando.log" >&2; exit 1; }
  for layer in heritage roads; do
    sed 's|^|http://127.0.0.1:18080|' "$out/$layer-paths.txt" >"$out/urls-$layer.txt"
    # A first pass over the list, unmeasured: each server's first search of a layer folds its
    # text; the runs measure the steady state, as a long-running server sees it.
    "$loadgen" "$out/urls-$layer.txt" --concurrency 16 --max-seconds 10 --label warm >/dev/null
    "$loadgen" "$out/urls-$layer.txt" --concurrency 16 --max-seconds "$seconds" --requests 100000 \
      --label "$1 $layer q c16" | tee -a "$results"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}
[ -n "${PREVIOUS_BIN:-}" ] && run_bando "bando-before" "$PREVIOUS_BIN"
run_bando bando "$bando"
for layer in heritage roads; do
  tps=$(pgbench -n -c 16 -j 2 -T "$seconds" -f "$out/pg-$layer.sql" "$db" 2>/dev/null | awk '/^tps/ {print $3}')
  echo "{\"label\":\"postgresql $layer c16\",\"rps\":$tps}" | tee -a "$results"
done
psql -X -q "$db" -c "DROP TABLE public.bench_search_words"
python3 - "$results" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1])) if "rps" in r}
print(f"{'run':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs PostgreSQL':>15}")
for label, r in rows.items():
    layer = label.split()[1]
    pg = rows.get(f"postgresql {layer} c16", {}).get("rps")
    ratio = f"{r['rps'] / pg:.1f}x" if pg and not label.startswith("postgresql") else ""
    print(f"{label:<28}{r['rps']:>10.1f}{r.get('p50_ms', float('nan')):>9.1f}{r.get('p99_ms', float('nan')):>9.1f}{ratio:>15}")
PY
