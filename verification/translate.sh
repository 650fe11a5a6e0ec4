#!/usr/bin/env bash
# Compiles the verified models to C# for the refinement tests: verification/Photon.Verification.Model/Generated/.
# Run after changing a model, and commit the result (test.sh checks that it is up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
out=verification/Photon.Verification.Model/Generated
mkdir -p "$out"
for model in CapabilityTree; do
  dotnet dafny translate cs --no-verify --include-runtime --output "$out/$model" "verification/$model.dfy" >/dev/null
  rm -f "$out/$model-cs.dtr"
done
