using Photon.Kernel.Capabilities;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>review19: work a guest makes the host do counts against its budgets — bytes the photon imports move are
/// charged as fuel like WASI's (1 per 16), and its denials cannot flood the audit log.</summary>
public sealed class HostImportChargeTests
{
    private const string Pump = """
        (module
          (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
          (import "photon" "region_read" (func $rr (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 17)
          (data (i32.const 0) "/region")
          (func (export "pump") (param $n i32) (param $rights i32) (result i32)
            (local $h i32) (local $i i32)
            (local.set $h (call $open (i32.const 0) (i32.const 7) (local.get $rights)))
            (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
            (block $done (loop $l
              (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
              (br_if $done (i32.lt_s (call $rr (local.get $h) (i32.const 0) (i32.const 0) (i32.const 1048576)) (i32.const 0)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l)))
            (local.get $i)))
        """;

    [Fact]
    public void Bytes_a_host_import_moves_are_charged_as_fuel()
    {
        using var h = new SandboxHarness();
        var region = h.Mm.Allocate(1 << 20, Principal.Kernel).Value;
        var g = h.Sandbox.Instantiate(h.TenantA, "pump", Pump, [new SandboxGrant("region", region, Rights.Read)]).Value;
        const int Calls = 2000;
        var r = g.Call("pump", Calls, (int)Rights.Read);
        long moved = (long)(r.IsOk ? r.Value : 0) << 20;
        Assert.True(!r.IsOk || g.FuelUsed >= moved / 16,
            $"one call of {new SandboxLimits().FuelPerCall} fuel moved {moved >> 20} MiB through region_read and used {g.FuelUsed} fuel (WASI would charge {moved / 16})");
    }

    private const string Denier = """
        (module
          (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "/nope")
          (func (export "deny") (param $n i32) (result i32)
            (local $i i32)
            (block $done (loop $l
              (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
              (drop (call $open (i32.const 0) (i32.const 5) (i32.const 1)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l)))
            (local.get $i)))
        """;

    // Every failed lookup is an audit record (NamespaceManager.Lookup -> RecordDenied); a guest pays ~15 fuel for one.
    [Fact]
    public void A_guest_cannot_write_unbounded_audit_records()
    {
        using var h = new SandboxHarness();
        var g = h.Sandbox.Instantiate(h.TenantA, "denier", Denier, []).Value;
        long before = h.Audit.TotalRecorded;
        var r = g.Call("deny", 200_000);
        long records = h.Audit.TotalRecorded - before;
        Assert.True(records < 10_000, $"one guest call ({g.FuelUsed} fuel of {new SandboxLimits().FuelPerCall}) wrote {records} audit records; result {r}");
    }
}
