#!/usr/bin/env bash
# The one test command (README and CI both call it): builds everything with warnings as errors and runs every test.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build Photon.sln -c Release -warnaserror
dotnet test Photon.sln -c Release --no-build --logger "console;verbosity=normal" 2>&1 | tee /tmp/photon-test.log
