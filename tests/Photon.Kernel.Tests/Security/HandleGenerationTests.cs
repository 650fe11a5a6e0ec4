using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 16: a handle value names at most one object, ever. A slot's 11-bit generation distinguishes its
/// uses; once the last generation has been handed out the slot is retired, so the table never hands out the same
/// value twice.
///
/// Capacity: every slot yields <see cref="Handle.MaxGeneration"/> (2047) handles in the table's lifetime, so a table
/// of capacity N issues at most N × 2047 handles in all — 65,536 × 2047 ≈ 134 million for a process's default table.
/// Past that, opening fails with <see cref="ErrorCode.QuotaExceeded"/> even with no handle open: the process has to
/// be replaced, and it can only exhaust its own table.
/// </summary>
public sealed class HandleGenerationTests : IDisposable
{
    private readonly SecurityKernel _k = new(audit: false);

    public void Dispose() => _k.Dispose();

    [Fact]
    public void Opening_and_closing_one_slot_5000_times_never_repeats_a_handle_value()
    {
        const int Cycles = 5000;
        var tenant = _k.Tenant("tenant-a");
        var objects = Enumerable.Range(0, 2).Select(i => _k.Caps.Create(new GenericObject($"o{i}"), Rights.Read | Rights.Delegate, Principal.Kernel).Value).ToArray();
        _k.Namespaces.Bind(tenant, "even", objects[0], Rights.Read).Unwrap();
        _k.Namespaces.Bind(tenant, "odd", objects[1], Rights.Read).Unwrap();
        var p = _k.Spawn("p", tenant);
        var seen = new HashSet<Handle>();
        var history = new List<(Handle Handle, int Object)>();

        for (int i = 0; i < Cycles; i++)
        {
            int which = i % 2;
            var h = _k.Sys.Namespaces.Open(p, which == 0 ? "/even" : "/odd", Rights.Read).Value;
            Assert.True(seen.Add(h), $"cycle {i}: handle {h} was handed out before");
            Assert.Equal(1, p.HandleCount);
            Assert.Same(_k.Caps.Check(objects[which], Rights.None).Value, p.Get<GenericObject>(h, Rights.Read).Value);
            // The previous handle (same slot, older generation, other object) names nothing.
            if (history.Count > 0) Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(history[^1].Handle, Rights.None).Code);
            history.Add((h, which));
            _k.Sys.Handles.Close(p, h).Unwrap();
            Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(h, Rights.None).Code);
        }

        // Every old value is dead, forever.
        foreach (var (h, _) in history) Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(h, Rights.None).Code);
        Assert.Equal(Cycles / Handle.MaxGeneration, p.Handles.RetiredSlots);
        // A slot was reused up to its last generation before a new one was taken.
        Assert.Equal(Handle.MaxGeneration, history.Count(x => x.Handle.Index == history[0].Handle.Index));
        Assert.Equal(Cycles / Handle.MaxGeneration + 1, history.Select(x => x.Handle.Index).Distinct().Count());
        Assert.All(history, x => Assert.True(x.Handle.Value > 0));
    }

    [Fact]
    public void A_table_that_used_up_every_generation_refuses_new_handles_instead_of_repeating_one()
    {
        var table = new HandleTable(capacity: 2);
        var token = _k.Caps.Create(new GenericObject("x"), Rights.Read, Principal.Kernel).Value;
        var seen = new HashSet<Handle>();
        for (int i = 0; i < 2 * Handle.MaxGeneration; i++)
        {
            var h = table.Add(token).Value;
            Assert.True(seen.Add(h));
            table.Remove(h).Unwrap();
        }
        Assert.Equal(2, table.RetiredSlots);
        Assert.Equal(0, table.Count);
        var full = table.Add(token);
        Assert.Equal(ErrorCode.QuotaExceeded, full.Code);
        Assert.All(seen, h => Assert.Equal(ErrorCode.InvalidHandle, table.Get(h).Code));
    }

    [Fact]
    public void Forged_handle_values_name_nothing()
    {
        var p = _k.Spawn("p", _k.Tenant("tenant-a"));
        var real = p.AllocateMemory(4096).Value;
        int index = real.Index, generation = real.Generation;
        Handle[] forged =
        [
            Handle.Make(index, generation + 1), Handle.Make(index, 0), Handle.Make(index, Handle.MaxGeneration),
            Handle.Make(index + 1, generation), Handle.Make(0, generation), new Handle(-real.Value), new Handle(int.MinValue),
            new Handle(int.MaxValue), new Handle(real.Value | (1 << 31)),
        ];
        foreach (var h in forged) Assert.Equal(ErrorCode.InvalidHandle, p.ReadMemory(h, 0, new byte[1]).Code);
        Assert.True(p.ReadMemory(real, 0, new byte[1]).IsOk);
    }
}
