#!/usr/bin/env bash
# Instantiates each `dotnet new` template into a scratch folder against this checkout, builds it with warnings as
# errors, runs its tests, and runs the service template's program. Also packs the template package. Used by test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/photon-templates.XXXXXX)"
trap 'rm -rf "$work"' EXIT
hive="$work/hive"

dotnet pack "$root/templates/Photon.Templates.csproj" -c Release -o "$work/pkg" -nologo -v q >/dev/null
pkg="$(ls "$work"/pkg/Photon.Templates.*.nupkg)"
dotnet new install "$pkg" --debug:custom-hive "$hive" >/dev/null

dotnet new photon-module -n AcmeDriver -o "$work/AcmeDriver" --PhotonRoot "$root" --debug:custom-hive "$hive" >/dev/null
grep -q '\[assembly: PhotonModule("acmedriver"' "$work/AcmeDriver/src/AcmeDriverModule.cs"
dotnet test "$work/AcmeDriver/tests" -c Release -nologo -v q

dotnet new photon-service -n Greeter -o "$work/Greeter" --PhotonRoot "$root" --debug:custom-hive "$hive" >/dev/null
dotnet test "$work/Greeter/tests" -c Release -nologo -v q
rc=0
out="$(dotnet run --project "$work/Greeter/src" -c Release 2>&1)" || rc=$?
echo "$out"
[ "$rc" = 0 ] || { echo "templates: the photon-service program exited $rc"; exit 1; }
grep -q "greeter replied: hello, world" <<<"$out"
grep -q "from /tenant-b: NotFound" <<<"$out"
echo "templates: photon-module and photon-service instantiated, built, tested"
