#!/usr/bin/env bash
# Adds up the `test result:` lines of a `cargo test` log and pytest's closing line ("8 passed, 1 skipped in 12s")
# into one closing line: "N passed, N failed, N skipped".
set -euo pipefail
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     /^(=+ )?[0-9]+ (passed|failed|skipped|error)/ && / in [0-9.]+s/ {
       for (i = 1; i <= NF; i++) { w = $(i+1); sub(/,$/, "", w);
         if (w == "passed") p += $i; if (w == "failed" || w == "error" || w == "errors") f += $i; if (w == "skipped") s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$1"
