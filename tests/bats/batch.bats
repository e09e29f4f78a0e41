#!/usr/bin/env bats
# make batch as a reviewer runs it: a folder of contributions, one of them broken.

bats_require_minimum_version 1.5.0

setup_file() {
  export ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
  export HP_CACHE_DIR="$BATS_FILE_TMPDIR/cache" NO_COLOR=1
  export CONTRIB="$BATS_FILE_TMPDIR/contributions" RESULTS="$BATS_FILE_TMPDIR/results"
  mkdir -p "$CONTRIB"
  cp "$ROOT"/examples/hpc_jobs_* "$CONTRIB/"
  printf 'protocol,compounds\n"unterminated,1\n' > "$CONTRIB/broken.csv"
  echo "notes, not a contribution" > "$CONTRIB/README.txt"
  make -C "$ROOT" --no-print-directory batch CONTRIBUTIONS="$CONTRIB" RESULTS="$RESULTS" JOBS=2 \
    > "$BATS_FILE_TMPDIR/first.out" 2> "$BATS_FILE_TMPDIR/first.err" && echo 0 > "$BATS_FILE_TMPDIR/first.status" \
    || echo $? > "$BATS_FILE_TMPDIR/first.status"
}

batch() {
  make -C "$ROOT" --no-print-directory batch CONTRIBUTIONS="$CONTRIB" RESULTS="$RESULTS" JOBS=2 "$@"
}

@test "make batch previews every file and the summary reports the broken one" {
  cat "$BATS_FILE_TMPDIR/first.err"
  [ "$(cat "$BATS_FILE_TMPDIR/first.status")" -eq 0 ]
  examples=$(cd "$CONTRIB" && ls hpc_jobs_*)
  n=$(( $(wc -w <<< "$examples") + 1 ))
  for name in $examples broken.csv; do
    [ -f "$RESULTS/$name.json" ]
    grep -q "^| [0-9]* | $name | " "$RESULTS/summary.md"
  done
  [ ! -e "$RESULTS/README.txt.json" ]
  # The broken file: its one-line error on stderr, in an error record, last in the summary.
  grep -q '^hp-batch: broken.csv failed (bad data, exit 3): .*broken.csv' "$BATS_FILE_TMPDIR/first.err"
  "$ROOT/.venv/bin/python" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers import validate
record = json.load(open(sys.argv[2]))
validate(record, "error")
assert record["error"]["exit_code"] == 3 and record["error"]["stage"] == "load", record
' "$ROOT/tests" "$RESULTS/broken.csv.json"
  grep -q "^| $n | broken.csv | — | .*\*\*failed\*\* (bad_data, exit 3)" "$RESULTS/summary.md"
  grep -q "^$n contributions against baseline .*, 1 failed\." "$RESULTS/summary.md"
  # The others: previewed, sorted by estimated delta, in every summary format.
  grep -q '^hp-batch: hpc_jobs_1000.csv: accuracy [-+][0-9.]* pts, delta_one [-+][0-9.]*, DeltaOne ' \
    "$BATS_FILE_TMPDIR/first.out"
  [ "$(grep -c '^| [0-9]* | hpc_jobs_' "$RESULTS/summary.md")" -eq $(( n - 1 )) ]
  [ "$(wc -l < "$RESULTS/summary.csv")" -eq $(( n + 1 )) ]
  [ "$(wc -l < "$RESULTS/summary.jsonl")" -eq "$n" ]
  [ "$(head -c 8 "$RESULTS/summary.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
  # The table is printed at the end.
  grep -q "^| $n | broken.csv | " "$BATS_FILE_TMPDIR/first.out"
}

@test "a second make batch redoes nothing; a changed file alone is previewed again" {
  before=$(ls -l --time-style=full-iso "$RESULTS")
  run --separate-stderr batch
  [ "$status" -eq 0 ]
  [[ "$output" != *"hp-batch: hpc_jobs"* ]]
  [ "$(ls -l --time-style=full-iso "$RESULTS")" = "$before" ]
  touch "$CONTRIB/hpc_jobs_500.json"
  run --separate-stderr batch
  [ "$status" -eq 0 ]
  [ "$(grep -c '^hp-batch: hpc_jobs' <<< "$output")" -eq 1 ]
  [[ "$output" == *"hp-batch: hpc_jobs_500.json: accuracy"* ]]
}

@test "a preview killed by the system is a failed contribution; the batch goes on and its summary says so" {
  folder="$BATS_TEST_TMPDIR/contributions" results="$BATS_TEST_TMPDIR/results"
  mkdir -p "$folder"
  head -n 301 "$ROOT/examples/hpc_jobs_1000.csv" > "$folder/a.csv"
  head -n 401 "$ROOT/examples/hpc_jobs_1000.csv" > "$folder/b.csv"
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$results" JOBS=1
  [ "$status" -eq 0 ]
  grep -q '^| [12] | b.csv | 400 |' "$results/summary.md"
  # b.csv changes, and its preview is killed as the out-of-memory killer kills: by a signal,
  # without a word. A CPU-time limit does it for real (SIGXCPU once a stage has used 3 s of CPU),
  # and recomputing b.csv's check and training takes more; a.csv, answered by the cache, less.
  head -n 451 "$ROOT/examples/hpc_jobs_1000.csv" > "$folder/b.csv"
  run --separate-stderr bash -c 'ulimit -S -t 3 && "$@"' - make -C "$ROOT" --no-print-directory batch \
    CONTRIBUTIONS="$folder" RESULTS="$results" JOBS=1
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"hp-batch: b.csv failed (internal, exit 152): a stage was killed by SIGXCPU"* ]]
  "$ROOT/.venv/bin/python" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers import validate
record = json.load(open(sys.argv[2]))
validate(record, "error")
assert record["error"]["kind"] == "internal" and record["error"]["exit_code"] == 152, record
' "$ROOT/tests" "$results/b.csv.json"
  # The summary was remade though the failed result is dated back (to be retried next time).
  grep -q '^| 2 | b.csv | — | .*\*\*failed\*\* (internal, exit 152)' "$results/summary.md"
  grep -q '^| 1 | a.csv | 300 |' "$results/summary.md"
  # Without the limit, the next batch previews it again.
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$results" JOBS=1
  [ "$status" -eq 0 ]
  grep -q '^| [12] | b.csv | 450 |' "$results/summary.md"
  # Every file taken out: the folder is refused, and what was said about the files is gone.
  rm "$folder"/*.csv
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$results" JOBS=1
  [ "$status" -eq 2 ]
  [[ "$stderr" == "hp-batch: error: $folder holds no file to preview;"* ]]
  [ -z "$(ls "$results")" ]
}

@test "a bad baseline stops the batch with its one-line error" {
  run --separate-stderr batch RESULTS="$BATS_TEST_TMPDIR/other" BASELINE="$BATS_TEST_TMPDIR/no-bundle"
  [ "$status" -ne 0 ]
  [ "$(grep -c 'error: ' <<< "$stderr")" -eq 1 ]  # said once before any preview, not once per file
  # It names BASELINE=, not the driver's --baseline-model; make adds only its own "*** [batch] Error" line.
  [ "${stderr%%$'\n'*}" = "hp-batch: error: baseline bundle $BATS_TEST_TMPDIR/no-bundle does not exist; give BASELINE= a bundle directory built by hp-baseline, or leave it out for the embedded one" ]
  [ "$(wc -l <<< "$stderr")" -eq 2 ]
  [ ! -e "$BATS_TEST_TMPDIR/other" ]
}

@test "a RESULTS that is no writable folder is one line naming RESULTS=" {
  for results in /proc/x "$CONTRIB/hpc_jobs_500.json"; do
    run --separate-stderr batch RESULTS="$results"
    [ "$status" -ne 0 ]
    [[ "${stderr%%$'\n'*}" == "hp-batch: error: RESULTS=$results is "*"; give RESULTS= a writable folder (it is made if missing), e.g. RESULTS=results" ]]
    [ "$(wc -l <<< "$stderr")" -eq 2 ]
  done
}

@test "make -jN batch shares make's job slots; JOBS= still sets them" {
  for jobs in "-j2" "-j3 JOBS=2"; do
    # shellcheck disable=SC2086
    run --separate-stderr make -C "$ROOT" --no-print-directory $jobs batch CONTRIBUTIONS="$CONTRIB" RESULTS="$RESULTS"
    [ "$status" -eq 0 ]
    [[ "$stderr" != *"jobserver"* && "$stderr" != *"forced in submake"* ]]
  done
  # Without JOBS=, the sub-make gets no -j of its own (which would drop make's jobserver).
  run make -C "$ROOT" --no-print-directory -n -j2 batch CONTRIBUTIONS="$CONTRIB" RESULTS="$RESULTS"
  [[ "$output" == *"-f bin/batch.mk  "* ]]
  run make -C "$ROOT" --no-print-directory -n -j2 batch CONTRIBUTIONS="$CONTRIB" RESULTS="$RESULTS" JOBS=3
  [[ "$output" == *"-f bin/batch.mk -j3 "* ]]
}

@test "another folder's batch into the same RESULTS says whose results it removed" {
  folder="$BATS_TEST_TMPDIR/other" results="$BATS_TEST_TMPDIR/r"
  mkdir -p "$folder"
  head -n 301 "$ROOT/examples/hpc_jobs_1000.csv" > "$folder/a.csv"
  cp "$folder/a.csv" "$BATS_TEST_TMPDIR/b.csv"
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$results" JOBS=1
  [ "$status" -eq 0 ]
  [[ "$output" == *"hp-batch: 1 result in $results/;"* ]]
  mkdir "$BATS_TEST_TMPDIR/next" && mv "$BATS_TEST_TMPDIR/b.csv" "$BATS_TEST_TMPDIR/next/"
  run --separate-stderr batch CONTRIBUTIONS="$BATS_TEST_TMPDIR/next" RESULTS="$results" JOBS=1
  [ "$status" -eq 0 ]
  [[ "$output" == "hp-batch: removed the results of 1 file not in $BATS_TEST_TMPDIR/next: $folder/a.csv (a RESULTS folder holds one folder's results: give each folder its own RESULTS= to keep both)"$'\n'* ]]
  [ ! -e "$results/a.csv.json" ] && [ -f "$results/b.csv.json" ]
}

@test "a bad option in BATCH_OPTIONS stops the batch once, before any preview" {
  run --separate-stderr batch RESULTS="$BATS_TEST_TMPDIR/other" BATCH_OPTIONS="--sample-size 0"
  [ "$status" -ne 0 ]
  [ "$(grep -c 'error: ' <<< "$stderr")" -eq 1 ]
  [[ "$stderr" == "hp-batch: error: BATCH_OPTIONS: --sample-size must be at least 1, not 0"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/other" ]
}

@test "a folder without contributions is a one-line error" {
  mkdir "$BATS_TEST_TMPDIR/empty"
  run --separate-stderr make -C "$ROOT" --no-print-directory batch CONTRIBUTIONS="$BATS_TEST_TMPDIR/empty" \
    RESULTS="$BATS_TEST_TMPDIR/r"
  [ "$status" -ne 0 ]
  [[ "$stderr" == "hp-batch: error: $BATS_TEST_TMPDIR/empty holds no file to preview;"* ]]
}

@test "quotes and a dollar sign in the folder name and quotes in BATCH_OPTIONS reach the previews intact" {
  folder="$BATS_FILE_TMPDIR/it's \$here"
  mkdir -p "$folder"
  cp "$ROOT/examples/hpc_jobs_500.json" "$folder/"
  run make -C "$ROOT" --no-print-directory batch CONTRIBUTIONS="$folder" RESULTS="$BATS_FILE_TMPDIR/quoted" \
    JOBS=1 BATCH_OPTIONS="--sample-size 400 --label-column 'label'"
  [ "$status" -eq 0 ]
  grep -q '^| 1 | hpc_jobs_500.json | 400 of 500 |' "$BATS_FILE_TMPDIR/quoted/summary.md"
}

@test "names with = : # % \$ ; quotes or wildcards, and very long names, each get their own result" {
  folder="$BATS_TEST_TMPDIR/odd names"
  mkdir -p "$folder"
  long=$(printf 'x%.0s' $(seq 250)).json  # 255 bytes: the result's name would not fit beside it
  for name in 'a=b.json' "$long" 'c:d #1;$x%.json' "it's*?[].json"; do
    cp "$ROOT/examples/hpc_jobs_500.json" "$folder/$name"
  done
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$BATS_TEST_TMPDIR/r"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$(ls "$BATS_TEST_TMPDIR/r" | grep -c '\.json$')" -eq 4 ]
  for shown in 'a=b.json' "$long" 'c:d #1;$x%.json' "it's\\*?\\[\\].json"; do  # as Markdown escapes them
    grep -qF " | $shown | 500 | " "$BATS_TEST_TMPDIR/r/summary.md"
  done
  [ "$(ls "$BATS_TEST_TMPDIR/r" | grep -c '[=:#%$;*?'"'"'[]')" -eq 0 ]  # results are named without them
}

@test "a broken link in the folder is a failed contribution with its one-line error" {
  folder="$BATS_TEST_TMPDIR/links"
  mkdir -p "$folder"
  cp "$ROOT/examples/hpc_jobs_500.json" "$folder/"
  ln -s "$BATS_TEST_TMPDIR/gone.csv" "$folder/gone.csv"
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$BATS_TEST_TMPDIR/r"
  [ "$status" -eq 0 ]
  [ "$stderr" = "hp-batch: gone.csv failed (bad data, exit 3): $folder/gone.csv: is a broken symbolic link (to $BATS_TEST_TMPDIR/gone.csv, which does not exist); point it at the contribution or remove it" ]
  grep -q "^| 2 | gone.csv | — | .*\*\*failed\*\* (bad_data, exit 3) .* is a broken symbolic link" "$BATS_TEST_TMPDIR/r/summary.md"
  # Mended with an older file, it is previewed (make alone would keep the error record, newer).
  cp "$ROOT/examples/hpc_jobs_500.json" "$BATS_TEST_TMPDIR/gone.csv"
  touch -d '2000-01-01' "$BATS_TEST_TMPDIR/gone.csv"
  run --separate-stderr batch CONTRIBUTIONS="$folder" RESULTS="$BATS_TEST_TMPDIR/r"
  [ "$status" -eq 0 ]
  grep -q "^| [12] | gone.csv | 500 |" "$BATS_TEST_TMPDIR/r/summary.md"
}

@test "BATCH_OPTIONS that the batch sets itself stop it once, before any preview" {
  for options in "--jobs 2" "-q" "--quiet" "--output-file x.json"; do
    run --separate-stderr batch RESULTS="$BATS_TEST_TMPDIR/other" BATCH_OPTIONS="$options"
    [ "$status" -ne 0 ]
    [ "$(grep -c 'error: ' <<< "$stderr")" -eq 1 ]
    [[ "$stderr" == "hp-batch: error: BATCH_OPTIONS: --"*" is an option the batch sets itself (--data-path and --output-file for each file, --output-format json, --quiet, --jobs from JOBS=, --baseline-model from BASELINE=); leave it out of BATCH_OPTIONS"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/other" ]
  done
}

@test "a JOBS that is not a whole number of at least 1 is one line, not make's usage" {
  for jobs in 0 -1 abc; do
    run --separate-stderr make -C "$ROOT" --no-print-directory batch CONTRIBUTIONS="$CONTRIB" \
      RESULTS="$BATS_TEST_TMPDIR/other" JOBS="$jobs"
    [ "$status" -ne 0 ]
    [ "$output" = "" ]
    [ "$(grep -c 'error: ' <<< "$stderr")" -eq 1 ]
    [ "${stderr%%$'\n'*}" = "make batch: error: JOBS must be a whole number of at least 1, not '$jobs'; give e.g. JOBS=4, or leave it out for one per CPU" ]
    [ "$(wc -l <<< "$stderr")" -le 2 ]  # and make's own "*** [batch-jobs] Error 2"
    [ ! -e "$BATS_TEST_TMPDIR/other" ]
  done
}
