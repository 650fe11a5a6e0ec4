#!/usr/bin/env bash
# Verifies every Dafny proof under verification/ with the pinned dafny tool (.config/dotnet-tools.json) and Debian's
# z3. Exits non-zero if any proof fails or times out. Called by test.sh; run it alone after editing a model.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
z3=$(command -v z3) || { echo "verify.sh: z3 is not installed (apt-get install z3)" >&2; exit 1; }
start=$SECONDS
for f in verification/*.dfy; do
  echo "dafny verify $f"
  dotnet dafny verify --solver-path "$z3" --verification-time-limit 300 --allow-warnings "$f"
done
echo "verification: every proof verified in $((SECONDS - start)) s"
