using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Processes;

public sealed class ProcessTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;

    public ProcessTests()
    {
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm);
    }

    public void Dispose() => _phys.Dispose();

    [Fact]
    public void A_process_opens_only_what_its_namespace_has_with_at_most_the_bound_rights()
    {
        var tenant = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        var db = _caps.Create(new GenericObject("db"), Rights.Read | Rights.Write | Rights.Delegate, Principal.Kernel).Value;
        _ns.Bind(tenant, "db", db, Rights.Read).Unwrap();
        _ns.Bind(_ns.RootCapability, "root-only", db, Rights.Read).Unwrap();
        var (p, _) = _pm.Spawn("svc", tenant).Value;

        var h = p.Open("/db", Rights.Read).Value;
        Assert.True(p.Get<GenericObject>(h, Rights.Read).IsOk);
        Assert.Equal(ErrorCode.AccessDenied, p.Open("/db", Rights.Write).Code);
        Assert.Equal(ErrorCode.NotFound, p.Open("/root-only", Rights.Read).Code);
        Assert.Equal(ErrorCode.InvalidName, p.Open("../root-only", Rights.Read).Code);
    }

    [Fact]
    public void Bad_handles_are_typed_errors()
    {
        var (p, _) = _pm.Spawn("svc", _ns.RootCapability).Value;
        Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(new Handle(0), Rights.None).Code);
        Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(new Handle(12345), Rights.None).Code);
        Assert.Equal(ErrorCode.InvalidHandle, p.Get<GenericObject>(new Handle(-1), Rights.None).Code);
        var m = p.AllocateMemory(4096).Value;
        Assert.True(p.Close(m).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, p.Close(m).Code);
        Assert.Equal(ErrorCode.InvalidHandle, p.WriteMemory(m, 0, "x"u8).Code);
        var m2 = p.AllocateMemory(4096).Value; // reuses the slot with a new generation
        Assert.NotEqual(m, m2);
        Assert.Equal(ErrorCode.InvalidHandle, p.ReadMemory(m, 0, new byte[1]).Code);
    }

    [Fact]
    public void Delegated_capability_stops_working_when_the_delegator_revokes_it()
    {
        var (alice, _) = _pm.Spawn("alice", _ns.RootCapability).Value;
        var (bob, _) = _pm.Spawn("bob", _ns.RootCapability).Value;
        var mem = alice.AllocateMemory(4096).Value;
        alice.WriteMemory(mem, 0, "shared"u8).Unwrap();

        var bobs = alice.Delegate(mem, bob, Rights.Read).Value;
        var buf = new byte[6];
        bob.ReadMemory(bobs, 0, buf).Unwrap();
        Assert.Equal("shared"u8.ToArray(), buf);
        Assert.Equal(ErrorCode.AccessDenied, bob.WriteMemory(bobs, 0, "evil"u8).Code);

        Assert.Equal(1, alice.RevokeDerived(mem).Value);
        Assert.Equal(ErrorCode.Revoked, bob.ReadMemory(bobs, 0, buf).Code);
        Assert.True(alice.ReadMemory(mem, 0, buf).IsOk);
    }

    [Fact]
    public async Task Destroying_a_process_revokes_its_capabilities_reclaims_memory_and_cancels_tasks()
    {
        var (p, control) = _pm.Spawn("victim", _ns.RootCapability).Value;
        var (other, _) = _pm.Spawn("other", _ns.RootCapability).Value;
        long free = _phys.FreeFrames;
        var mem = p.AllocateMemory(64 * 1024).Value;
        var given = p.Delegate(mem, other, Rights.Read).Value;
        var started = new TaskCompletionSource();
        var task = p.Run(async ct => { started.SetResult(); await Task.Delay(Timeout.Infinite, ct); }, "sleeper").Value;
        await started.Task;

        Assert.True((await _pm.DestroyAsync(control)).IsOk);

        Assert.True(task.IsCanceled);
        Assert.Equal(free, _phys.FreeFrames);
        Assert.Equal(ErrorCode.Revoked, other.ReadMemory(given, 0, new byte[1]).Code);
        Assert.Equal(ErrorCode.Closed, p.AllocateMemory(4096).Code);
        Assert.Equal(ErrorCode.Revoked, (await _pm.DestroyAsync(control)).Code);
        Assert.Equal(ErrorCode.NotFound, _pm.Get(p.Pid).Code);
    }

    [Fact]
    public async Task Destroy_needs_the_manage_right()
    {
        var (p, control) = _pm.Spawn("p", _ns.RootCapability).Value;
        var weak = _caps.Derive(control, Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await _pm.DestroyAsync(weak)).Code);
        Assert.Equal(ProcessState.Running, p.State);
    }
}
