#!/usr/bin/env bats
# The shell driver and hand-typed pipes, run as a user would (make bats puts .venv/bin on PATH).

bats_require_minimum_version 1.5.0

setup() {
  ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
  export HP_CACHE_DIR="$BATS_TEST_TMPDIR/cache"
  export NO_COLOR=1
  EXAMPLE="$ROOT/examples/hpc_jobs_1000.csv"
}

# The numbers of an output document, without per-run fields, as canonical JSON.
numbers() {
  "$ROOT/.venv/bin/python" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers import numbers
print(json.dumps(numbers(json.load(open(sys.argv[2]))), sort_keys=True))' "$ROOT/tests" "$1"
}

validate_output() {
  "$ROOT/.venv/bin/python" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers import validate
validate(json.load(open(sys.argv[2])), "delta-output")' "$ROOT/tests" "$1"
}

@test "the driver previews every shipped example" {
  for example in "$ROOT"/examples/hpc_jobs_*; do
    run hokusai-preview --data-path "$example"
    [ "$status" -eq 0 ]
    [[ "$output" == *"PREVIEW - NON-BINDING ESTIMATE"* ]]
    [[ "$output" == *"DeltaOne"* ]]
    [[ "$output" == *"estimation_confidence"* ]]
  done
}

@test "the driver called through symbolic links finds its stages without PATH" {
  mkdir -p "$BATS_TEST_TMPDIR/bin" "$BATS_TEST_TMPDIR/other"
  ln -s "$ROOT/bin/hokusai-preview" "$BATS_TEST_TMPDIR/other/hp-real"
  ln -s ../other/hp-real "$BATS_TEST_TMPDIR/bin/hokusai-preview"  # a relative link to a link
  ln -s "$(command -v hokusai-preview)" "$BATS_TEST_TMPDIR/bin/installed"
  for driver in "$BATS_TEST_TMPDIR/bin/hokusai-preview" "$BATS_TEST_TMPDIR/bin/installed"; do
    run env PATH=/usr/bin:/bin "$driver" --data-path "$ROOT/examples/hpc_jobs_500.json" --output-format json
    [ "$status" -eq 0 ]
    [[ "$output" == *'"preview_mode"'* ]]
  done
}

@test "a driver copied away from its stages says how to install them: one line, status 1" {
  cp "$ROOT/bin/hokusai-preview" "$BATS_TEST_TMPDIR/hokusai-preview"
  run --separate-stderr env PATH=/usr/bin:/bin "$BATS_TEST_TMPDIR/hokusai-preview" --data-path "$EXAMPLE"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$stderr" = "hokusai-preview: error: the hp-* commands are not installed; run 'make install' and put .venv/bin on PATH" ]
}

@test "--format reads a file whose name says nothing, and a bad one is refused before any stage" {
  cp "$ROOT/examples/hpc_jobs_500.json" "$BATS_TEST_TMPDIR/export"
  run hokusai-preview --data-path "$BATS_TEST_TMPDIR/export" --format json --output-format json
  [ "$status" -eq 0 ]
  [[ "$output" == *'"preview_mode"'* ]]
  HP_CACHE_DIR="$BATS_TEST_TMPDIR/untouched" run hokusai-preview --data-path "$BATS_TEST_TMPDIR/export" --format xlsx
  [ "$status" -eq 2 ]
  [ "$output" = "hokusai-preview: error: --format must be one of csv, tsv, json, jsonl, parquet, not 'xlsx'; or leave it out to detect the format" ]
  [ ! -e "$BATS_TEST_TMPDIR/untouched" ]
}

@test "json output validates against the schema" {
  hokusai-preview --data-path "$EXAMPLE" --output-format json > "$BATS_TEST_TMPDIR/out.json"
  validate_output "$BATS_TEST_TMPDIR/out.json"
}

@test "a hand-typed pipe of the six stages gives the driver's numbers" {
  hokusai-preview --data-path "$EXAMPLE" --output-format json --quiet > "$BATS_TEST_TMPDIR/driver.json"
  export HP_CACHE_DIR="$BATS_TEST_TMPDIR/other-cache"  # recompute everything by hand
  hp-load "$EXAMPLE" | hp-check | hp-sample --sample-size 10000 | hp-train | hp-eval | hp-delta \
    | hp-format --output-format json > "$BATS_TEST_TMPDIR/pipe.json"
  [ "$(numbers "$BATS_TEST_TMPDIR/driver.json")" = "$(numbers "$BATS_TEST_TMPDIR/pipe.json")" ]
}

@test "each stage runs alone on a saved record" {
  hp-load "$EXAMPLE" > "$BATS_TEST_TMPDIR/load.jsonl"
  hp-sample "$BATS_TEST_TMPDIR/load.jsonl" > "$BATS_TEST_TMPDIR/sample.jsonl"
  hp-train < "$BATS_TEST_TMPDIR/sample.jsonl" > "$BATS_TEST_TMPDIR/train.jsonl"
  hp-eval "$BATS_TEST_TMPDIR/train.jsonl" > "$BATS_TEST_TMPDIR/eval.jsonl"
  hp-delta "$BATS_TEST_TMPDIR/eval.jsonl" > "$BATS_TEST_TMPDIR/delta.jsonl"
  run hp-format --output-format pretty "$BATS_TEST_TMPDIR/delta.jsonl"
  [ "$status" -eq 0 ]
  [[ "$output" == *"delta_one_score"* ]]
}

@test "a second identical run is served from the cache with identical numbers" {
  hokusai-preview --data-path "$EXAMPLE" --output-format json > "$BATS_TEST_TMPDIR/first.json"
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --output-format json
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"hp-train: reused cached train result"* ]]
  printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/second.json"
  [ "$(numbers "$BATS_TEST_TMPDIR/first.json")" = "$(numbers "$BATS_TEST_TMPDIR/second.json")" ]
}

@test "a stage killed by the system is said in one line, without the shell's job notice" {
  # A CPU-time limit kills a stage as the out-of-memory killer would: by a signal, without a word
  # (SIGXCPU once a stage has used 2 s of CPU; training from an empty cache takes more).
  run --separate-stderr bash -c 'ulimit -S -t 2 && "$@"' - hokusai-preview --data-path "$EXAMPLE" \
    --output-file "$BATS_TEST_TMPDIR/out.json"
  [ "$status" -eq 152 ]
  [ -z "$output" ]
  [ "${stderr_lines[-1]}" = "hokusai-preview: error: a stage was killed by SIGXCPU; no partial output or cache entry is left; run it again" ]
  for line in "${stderr_lines[@]}"; do  # the stages' own lines (hp-load's summary) and that one
    [[ "$line" == hp-*:* || "$line" == hokusai-preview:* ]]
  done
  [ ! -e "$BATS_TEST_TMPDIR/out.json" ]
}

@test "--output-file writes the file and nothing on stdout" {
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --output-format json \
    --output-file "$BATS_TEST_TMPDIR/result.json"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  validate_output "$BATS_TEST_TMPDIR/result.json"
}

@test "a missing data file fails in hp-load with one line and status 3" {
  run --separate-stderr hokusai-preview --data-path "$BATS_TEST_TMPDIR/nope.csv" \
    --output-file "$BATS_TEST_TMPDIR/result.json"
  [ "$status" -eq 3 ]
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "hp-load: error: "*"nope.csv: does not exist"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/result.json" ]
}

@test "usage errors exit 2 with one line; --help and --version exit 0" {
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --sample-sise 5
  [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "hokusai-preview: error: "* ]]
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --jobs -1
  [ "$status" -eq 2 ]
  [ "${stderr_lines[0]}" = "hokusai-preview: error: --jobs must be at least 0, not -1; see 'hokusai-preview --help'" ]
  run hokusai-preview
  [ "$status" -eq 2 ]
  run hokusai-preview --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage:"*"--data-path PATH"* ]]
  run hokusai-preview --version
  [ "$status" -eq 0 ]
  [[ "$output" == "hokusai-preview "* ]]
}

@test "a bad option value is refused before any stage runs: one line, status 2, nothing cached" {
  for bad in "--seed x" "--sample-size 0" "--jobs -1" "--output-format xml" "--primary-metric bogus"; do
    run --separate-stderr hokusai-preview --data-path "$EXAMPLE" $bad --output-file "$BATS_TEST_TMPDIR/out.json"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "${stderr_lines[0]}" == "hokusai-preview: error: ${bad%% *} must be "* ]]
    [ ! -e "$HP_CACHE_DIR" ]
    [ ! -e "$BATS_TEST_TMPDIR/out.json" ]
  done
}

@test "an --output-file that is a directory or the data itself is refused before any stage runs" {
  cp "$EXAMPLE" "$BATS_TEST_TMPDIR/mine.csv"
  run --separate-stderr hokusai-preview --data-path "$BATS_TEST_TMPDIR/mine.csv" --output-file "$BATS_TEST_TMPDIR/./mine.csv"
  [ "$status" -eq 7 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == *"is the input"*"writing it would destroy the data"* ]]
  cmp "$EXAMPLE" "$BATS_TEST_TMPDIR/mine.csv"
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --output-file "$BATS_TEST_TMPDIR"
  [ "$status" -eq 7 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "hokusai-preview: error: $BATS_TEST_TMPDIR is a directory; give a file name for the output" ]]
  [ ! -e "$HP_CACHE_DIR" ]
}

@test "the driver reads the contribution from stdin with --data-path -" {
  run hokusai-preview --data-path - --output-format json < "$EXAMPLE"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"source_path": "<stdin>"'* ]]
}

@test "a closed stdin is refused as data in one line, and not needed when the data is a file" {
  # (closed inside the command: bats's own run reads its stdin)
  run --separate-stderr bash -c 'exec <&-; hokusai-preview --data-path -'
  [ "$status" -eq 3 ]
  [ "$output" = "" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "${stderr_lines[0]}" = "hokusai-preview: error: <stdin>: is closed; pipe a data file into --data-path - or name the file" ]
  [ ! -e "$HP_CACHE_DIR" ]
  run bash -c 'exec <&-; hokusai-preview --data-path "$1" --quiet' - "$EXAMPLE"
  [ "$status" -eq 0 ]
  [[ "$output" == "PREVIEW - NON-BINDING ESTIMATE"* ]]
}

@test "a directory on stdin is refused as data in one line, and ignored when the data is a file" {
  run --separate-stderr hokusai-preview --data-path - < "$BATS_TEST_TMPDIR"
  [ "$status" -eq 3 ]
  [ "$output" = "" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "hokusai-preview: error: <stdin>: is a directory; "* ]]
  [ ! -e "$HP_CACHE_DIR" ]
  run hokusai-preview --data-path "$EXAMPLE" --quiet < "$BATS_TEST_TMPDIR"
  [ "$status" -eq 0 ]
  [[ "$output" == "PREVIEW - NON-BINDING ESTIMATE"* ]]
}

@test "a bad cache setting or an output place that cannot be written is said once, before any stage runs" {
  touch "$BATS_TEST_TMPDIR/a-file"
  for setting in "--cache-dir $BATS_TEST_TMPDIR/a-file" "--cache-dir $BATS_TEST_TMPDIR/a-file/cache" \
                 "--output-file $BATS_TEST_TMPDIR/a-file/out.json"; do
    run --separate-stderr hokusai-preview --data-path "$EXAMPLE" $setting
    [ "$status" -eq 7 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "${stderr_lines[0]}" == "hokusai-preview: error: "*"$BATS_TEST_TMPDIR/a-file"*"is not a directory"* ]]
  done
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --output-file ""
  [ "$status" -eq 2 ]
  [ "${stderr_lines[0]}" = "hokusai-preview: error: --output-file was given an empty value; give it a value, or leave the option out" ]
  HP_CACHE_MAX_BYTES=lots run --separate-stderr hokusai-preview --data-path "$EXAMPLE"
  [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "hokusai-preview: error: HP_CACHE_MAX_BYTES='lots' is not a size;"* ]]
  [ ! -e "$HP_CACHE_DIR" ]
}

@test "a reader that goes away ends a command quietly with status 141" {
  # The reader exits before the command has started, so its first write meets a closed pipe.
  for command in "hp-args -- --data-path x" "hp-cache" "hp-load --quiet $EXAMPLE"; do
    run --separate-stderr bash -c "$command | (exit 0); exit \${PIPESTATUS[0]}"
    [ "$status" -eq 141 ]
    [ -z "$stderr" ]
  done
}

@test "a reader that stops part-way through a large output ends hp-format with status 141" {
  # Megabytes of JSON (one output, 300 times), of which the reader takes one line: the write it
  # cuts short does not end quietly with status 0.
  hokusai-preview --quiet --data-path "$EXAMPLE" --output-format json > "$BATS_TEST_TMPDIR/one.json"
  inputs=$(printf "$BATS_TEST_TMPDIR/one.json %.0s" $(seq 300))
  [ "$(hp-format --output-format json $inputs | wc -c)" -gt 2000000 ]
  run --separate-stderr bash -c "hp-format --output-format json $inputs | head -n 1 > /dev/null; exit \${PIPESTATUS[0]}"
  [ "$status" -eq 141 ]
  [ -z "$stderr" ]
}

@test "the data on stdin is refused as --output-file, as a named data file is" {
  cp "$EXAMPLE" "$BATS_TEST_TMPDIR/mine.csv"
  cd "$BATS_TEST_TMPDIR"
  for target in mine.csv ./mine.csv "$BATS_TEST_TMPDIR/mine.csv"; do
    run --separate-stderr hokusai-preview -q --data-path - --output-file "$target" < mine.csv
    [ "$status" -eq 7 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [ "${stderr_lines[0]}" = "hokusai-preview: error: --output-file $target is the input on stdin: writing it would destroy the data; give the output another name" ]
  done
  cmp "$EXAMPLE" mine.csv
  [ ! -e "$HP_CACHE_DIR" ]
}

@test "--output-file through a link to stdout writes the output there and keeps the link" {
  # A link of the test's own, not /dev/stdout: a regression would replace the link with the output.
  ln -s /proc/self/fd/1 "$BATS_TEST_TMPDIR/my-stdout"
  hokusai-preview -q --data-path "$EXAMPLE" --output-format json --output-file "$BATS_TEST_TMPDIR/my-stdout" \
    > "$BATS_TEST_TMPDIR/out.json"
  [ "$(readlink "$BATS_TEST_TMPDIR/my-stdout")" = /proc/self/fd/1 ]
  validate_output "$BATS_TEST_TMPDIR/out.json"
  run --separate-stderr hokusai-preview --data-path "$EXAMPLE" --output-file -
  [ "$status" -eq 2 ]
  [ "${stderr_lines[0]}" = 'hokusai-preview: error: --output-file - would write a file named "-", not stdout; leave --output-file out to write to stdout, or give ./- for a file of that name' ]
}

@test "--help and --version to a closed or full stdout: one line, status 7" {
  for option in --help --version; do
    run --separate-stderr bash -c "hokusai-preview $option >&-"
    [ "$status" -eq 7 ]
    [ "$stderr" = "hokusai-preview: error: cannot write to stdout; give it a file or a pipe that can take it (e.g. > out.txt)" ]
    run --separate-stderr bash -c "hokusai-preview $option > /dev/full"
    [ "$status" -eq 7 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
  done
}
