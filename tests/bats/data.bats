#!/usr/bin/env bats
# Contributed data through the shell: stdin, pipes, gzip, and a refusal (make bats puts .venv/bin on PATH).

setup() {
  ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
  export HP_CACHE_DIR="$BATS_TEST_TMPDIR/cache"
  export NO_COLOR=1
  EXAMPLE="$ROOT/examples/hpc_jobs_1000.csv"
}

@test "hp-load reads gzipped CSV on stdin" {
  run bash -c "gzip -c '$EXAMPLE' | hp-load - 2>&1 >/dev/null"
  [ "$status" -eq 0 ]
  [[ "$output" == "hp-load: <stdin>: 1,000 rows (csv, gzip), 7 features, 4 classes"* ]]
}

@test "the driver reads a process substitution and stdin alike" {
  hokusai-preview --quiet --output-format json --data-path <(gzip -c "$EXAMPLE") > "$BATS_TEST_TMPDIR/pipe.json"
  hokusai-preview --quiet --output-format json --data-path - < "$EXAMPLE" > "$BATS_TEST_TMPDIR/stdin.json"
  grep -q '"original_data_size": 1000' "$BATS_TEST_TMPDIR/pipe.json"
  grep -q '"original_data_size": 1000' "$BATS_TEST_TMPDIR/stdin.json"
}

@test "a refused file: one line, status 3, no output file" {
  run hokusai-preview --data-path "$ROOT/tests/corpus/refused/ragged_rows.csv" --output-file "$BATS_TEST_TMPDIR/out.json"
  [ "$status" -eq 3 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == "hp-load: error: $ROOT/tests/corpus/refused/ragged_rows.csv: has a row with 9 fields"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/out.json" ]
}

@test "endless binary or closed stdin is refused at once, leaving no copy behind" {
  bats_require_minimum_version 1.5.0
  run --separate-stderr timeout 60 hp-load - < /dev/zero
  [ "$status" -eq 3 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "${stderr_lines[0]}" = "hp-load: error: <stdin>: is binary content, not a table hokusai-preview reads; give a CSV, JSON, JSON Lines or Parquet file" ]
  [ -z "$(ls -A "$HP_CACHE_DIR/tmp" 2>/dev/null)" ]
  run --separate-stderr bash -c 'hp-load - <&-'
  [ "$status" -eq 3 ]
  [ "${stderr_lines[0]}" = "hp-load: error: <stdin>: is closed; pipe the data in or name a file" ]
  run --separate-stderr bash -c 'hp-check <&-'
  [ "$status" -eq 2 ]
  [[ "${stderr_lines[0]}" == "hp-check: error: hp-check reads records on stdin, but stdin is closed;"* ]]
}
