#!/usr/bin/env bash
# Verifies every Dafny proof under verification/ with the pinned dafny tool (.config/dotnet-tools.json) and Debian's
# z3. Exits non-zero if any proof fails or times out. Called by test.sh; run it alone after editing a model.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
z3=$(command -v z3) || { echo "verify.sh: z3 is not installed (apt-get install z3)" >&2; exit 1; }
start=$SECONDS
# One run over every file (a model included by its proofs file is verified once); a lemma that times out fails it.
dotnet dafny verify --solver-path "$z3" --verification-time-limit 300 --allow-warnings verification/*.dfy
echo "verification: every proof verified in $((SECONDS - start)) s"
# The C# the refinement tests run must be the model that was verified: regenerate it and compare.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dotnet dafny translate cs --no-verify --include-runtime --output "$tmp/CapabilityTree" verification/CapabilityTree.dfy >/dev/null
if ! diff -q <(grep -v 'Command-line arguments' "$tmp/CapabilityTree.cs") \
             <(grep -v 'Command-line arguments' verification/Photon.Verification.Model/Generated/CapabilityTree.cs) >/dev/null; then
  echo "verify.sh: verification/Photon.Verification.Model/Generated is out of date: run verification/translate.sh" >&2
  exit 1
fi
