using System.Text;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

public sealed class WasmSandboxTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(16 * 1024 * 1024);
    private readonly InMemoryAuditSink _audit = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;
    private readonly IpcManager _ipc;
    private readonly WasmSandbox _sandbox;
    private readonly CapabilityToken _tenantA, _tenantB;
    private readonly HostClock _clock = new();

    public WasmSandboxTests()
    {
        _caps = new CapabilityManager(_audit);
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm) { Timers = new HostTimers(_clock) };
        _ipc = new IpcManager(_caps, _ns, new HostTimers(_clock));
        _sandbox = new WasmSandbox(_caps, _ns, _pm, _mm, _ipc, () => _clock.Monotonic) { DefaultQuota = new TenantQuota(MaxInstances: 4, MaxMemoryBytes: 16 * 1024 * 1024) };
        _tenantA = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _tenantB = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
    }

    public void Dispose()
    {
        _sandbox.Dispose();
        _phys.Dispose();
    }

    private CapabilityToken Counter(out CapabilityToken region)
    {
        region = _mm.Allocate(4096, Principal.Kernel).Value;
        return region;
    }

    [Fact]
    public void A_guest_logs_through_the_kernel()
    {
        var g = _sandbox.Instantiate(_tenantA, "hello", WasmSandbox.Guest("hello"), []).Value;
        Assert.Equal(0, g.Call("run").Value);
        Assert.Equal(["hello from a wasm guest"], g.Log);
        Assert.Equal("/tenant-a/wasm-hello-1", g.Process.Namespace.Path);
    }

    [Fact]
    public void Clock_now_and_file_close_bound_to_the_guests_store_answer_from_the_kernel()
    {
        // clock_now and file_close are bound to the instance's store (no per-call Caller); they must still read the
        // kernel's clock, refuse a handle the guest does not hold, and keep working across instances of one module.
        const string Wat = """
            (module
              (import "photon" "clock_now" (func $now (result i64)))
              (import "photon" "file_close" (func $close (param i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "now_ms") (result i32) (i32.wrap_i64 (i64.div_u (call $now) (i64.const 1000000))))
              (func (export "close") (param i32) (result i32) (call $close (local.get 0))))
            """;
        var first = _sandbox.Instantiate(_tenantA, "clock1", Wat, []).Value;
        var second = _sandbox.Instantiate(_tenantA, "clock2", Wat, []).Value;
        foreach (var g in new[] { first, second })
        {
            long before = (long)_clock.Monotonic.TotalMilliseconds;
            int seen = g.Call("now_ms").Value;
            long after = (long)Math.Ceiling(_clock.Monotonic.TotalMilliseconds);
            Assert.InRange(seen, before, after);
            Assert.True(g.Call("close", 12345).Value < 0, "closing a handle the guest does not hold must fail");
            Assert.Equal(WasmInstanceState.Running, g.State);
        }
    }

    [Fact]
    public void A_guest_uses_only_the_region_it_was_granted_and_a_revoked_grant_stops_working_while_it_runs()
    {
        var region = _mm.Allocate(4096, Principal.Kernel).Value;
        var g = _sandbox.Instantiate(_tenantA, "counter", WasmSandbox.Guest("counter"), [new SandboxGrant("counter", region, Rights.Read | Rights.Write | Rights.Delegate)]).Value;
        Assert.Equal(1, g.Call("run").Value);
        Assert.Equal(2, g.Call("run").Value);
        var buf = new byte[4];
        _mm.Read(region, 0, buf).Unwrap();
        Assert.Equal(2, BitConverter.ToInt32(buf));
        _caps.RevokeDescendants(region); // take the grant back from the running guest
        Assert.Equal(-(int)ErrorCode.Revoked, g.Call("run").Value);
        Assert.Equal(WasmInstanceState.Running, g.State); // refused, not crashed
    }

    [Fact]
    public void A_tenant_cannot_reach_another_tenants_data_in_any_spelling_and_the_attempts_are_audited()
    {
        var region = _mm.Allocate(4096, Principal.Kernel).Value;
        _ns.Bind(_tenantA, "counter", region, Rights.Read).Unwrap();
        var thief = _sandbox.Instantiate(_tenantB, "thief", WasmSandbox.Guest("steal"), []).Value;
        Assert.Equal(0, thief.Call("run").Value);
        var denied = _audit.Snapshot().Where(e => e.Action == AuditAction.Denied && e.Namespace.StartsWith("/tenant-b/wasm-thief")).ToList();
        Assert.True(denied.Count >= 4, $"{denied.Count} denials audited");
    }

    [Fact]
    public void Forged_handles_and_out_of_bounds_pointers_are_refused_and_the_guest_survives()
    {
        var forger = _sandbox.Instantiate(_tenantB, "forger", WasmSandbox.Guest("forge"), []).Value;
        Assert.Equal(0, forger.Call("run").Value);
        var oob = _sandbox.Instantiate(_tenantB, "oob", WasmSandbox.Guest("oob"), []).Value;
        Assert.Equal(3, oob.Call("run").Value);
        Assert.Equal(WasmInstanceState.Running, oob.State);
        var crash = oob.Call("crash");
        Assert.Equal(ErrorCode.Faulted, crash.Code);
        Assert.Equal(WasmInstanceState.Killed, oob.State);
        Assert.Equal(ErrorCode.Faulted, oob.Call("run").Code);
    }

    [Fact]
    public void Infinite_loops_and_memory_bombs_are_killed_without_affecting_a_good_guest()
    {
        var region = _mm.Allocate(4096, Principal.Kernel).Value;
        var good = _sandbox.Instantiate(_tenantA, "counter", WasmSandbox.Guest("counter"), [new SandboxGrant("counter", region, Rights.Read | Rights.Write | Rights.Delegate)]).Value;
        var spin = _sandbox.Instantiate(_tenantB, "spin", WasmSandbox.Guest("spin"), [], new SandboxLimits(FuelPerCall: 2_000_000)).Value;
        var bomb = _sandbox.Instantiate(_tenantB, "bomb", WasmSandbox.Guest("membomb"), [], new SandboxLimits(MaxMemoryBytes: 2 * 1024 * 1024)).Value;
        Assert.Equal(1, good.Call("run").Value);
        Assert.Equal(ErrorCode.QuotaExceeded, spin.Call("run").Code);
        Assert.Equal(ErrorCode.Faulted, bomb.Call("run").Code);
        Assert.Equal(WasmInstanceState.Killed, spin.State);
        Assert.Equal(WasmInstanceState.Killed, bomb.State);
        Assert.Equal(2, good.Call("run").Value);
        Assert.Equal(2, _sandbox.Tenants["/tenant-b"].Killed);
        Assert.Contains(_audit.Snapshot(), e => e.Action == AuditAction.Denied && e.Error == ErrorCode.QuotaExceeded && e.Subject.Contains("spin"));
    }

    [Fact]
    public void Per_tenant_quotas_limit_instances_and_memory()
    {
        var made = Enumerable.Range(0, 4).Select(i => _sandbox.Instantiate(_tenantB, $"h{i}", WasmSandbox.Guest("hello"), [])).ToList();
        Assert.All(made, m => Assert.True(m.IsOk));
        Assert.Equal(ErrorCode.QuotaExceeded, _sandbox.Instantiate(_tenantB, "h5", WasmSandbox.Guest("hello"), []).Code);
        Assert.True(_sandbox.Instantiate(_tenantA, "h0", WasmSandbox.Guest("hello"), []).IsOk); // another tenant is unaffected
        made[0].Value.Stop();
        Assert.True(_sandbox.Instantiate(_tenantB, "h6", WasmSandbox.Guest("hello"), []).IsOk);
        Assert.Equal(ErrorCode.QuotaExceeded, _sandbox.Instantiate(_tenantA, "big", WasmSandbox.Guest("hello"), [], new SandboxLimits(MaxMemoryBytes: 64L * 1024 * 1024)).Code);
    }

    [Fact]
    public void Malformed_modules_and_calls_are_typed_errors()
    {
        Assert.Equal(ErrorCode.InvalidArgument, _sandbox.Instantiate(_tenantA, "bad", "(module (func $f (result i32)))) garbage", []).Code);
        Assert.Equal(ErrorCode.InvalidName, _sandbox.Instantiate(_tenantA, "../x", WasmSandbox.Guest("hello"), []).Code);
        var g = _sandbox.Instantiate(_tenantA, "hello", WasmSandbox.Guest("hello"), []).Value;
        Assert.Equal(ErrorCode.NotFound, g.Call("nope").Code);
        Assert.Equal(ErrorCode.InvalidArgument, g.Call("run", 1, 2).Code);
        var weak = _caps.Derive(_tenantA, Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, _sandbox.Instantiate(weak, "x", WasmSandbox.Guest("hello"), []).Code);
    }

    [Fact]
    public async Task A_native_service_and_a_guest_talk_over_IPC()
    {
        var (svc, _) = _pm.Spawn("svc", _tenantA).Value;
        var (mine, theirs) = _ipc.CreateChannel(svc).Value;
        var guest = _sandbox.Instantiate(_tenantA, "echo", WasmSandbox.Guest("echo"),
            [new SandboxGrant("chan", svc.TokenOf(theirs).Value, Rights.Read | Rights.Write | Rights.Delegate)]).Value;
        Assert.Equal(-(int)ErrorCode.WouldBlock, guest.Call("run").Value);
        Assert.True(_ipc.TrySend(svc, mine, "ping from C#"u8).IsOk);
        Assert.Equal(12, guest.Call("run").Value);
        var echo = await _ipc.ReceiveAsync(svc, mine);
        Assert.Equal("ping from C#", Encoding.UTF8.GetString(echo.Value.Data));
    }

    [Fact]
    public async Task A_guest_writes_and_reads_files_on_a_granted_mount_and_the_image_stays_fsck_clean()
    {
        var dir = Directory.CreateTempSubdirectory("photon-wasm-fs-").FullName;
        try
        {
            var img = Path.Combine(dir, "fat.img");
            using (var f = File.Create(img)) f.SetLength(16 * 1024 * 1024);
            Run("mkfs.vfat", $"-F 16 {img}");
            var vfs = new Photon.Kernel.FileSystems.VirtualFileSystem(_caps, _ns);
            using var sandbox = new WasmSandbox(_caps, _ns, _pm, _mm, _ipc, () => _clock.Monotonic, vfs: vfs);
            var storage = HostImageStorage.Open(img).Value;
            var mount = (await vfs.MountAsync(new Photon.FileSystems.Fat.FatFileSystemDriver(), NvmeOpen(storage),
                new Photon.Kernel.FileSystems.MountOptions(), Principal.Kernel)).Value;
            var writer = sandbox.Instantiate(_tenantA, "notes", WasmSandbox.Guest("notes"),
                [new SandboxGrant("data", mount, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create)]).Value;
            Assert.Equal(24, writer.Call("run").Value);
            var reader = sandbox.Instantiate(_tenantB, "notes", WasmSandbox.Guest("notes"), [new SandboxGrant("data", mount, Rights.Read | Rights.Enumerate)]).Value;
            Assert.Equal(-(int)ErrorCode.AccessDenied, reader.Call("read_only_write").Value);
            var stranger = sandbox.Instantiate(_tenantB, "stranger", WasmSandbox.Guest("notes"), []).Value;
            Assert.Equal(-(int)ErrorCode.NotFound, stranger.Call("run").Value);
            Assert.True((await vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
            await storage.DisposeAsync();
            var outFile = Path.Combine(dir, "notes.txt");
            Run("mcopy", $"-i {img} ::/NOTES.TXT {outFile}");
            Assert.Equal("written by a wasm guest\n", File.ReadAllText(outFile));
            Run("fsck.vfat", $"-n {img}");
        }
        finally { Directory.Delete(dir, true); }
    }

    private static void Run(string tool, string args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {args}: {output}");
    }

    /// <summary>The image through the NVMe-style block driver, as the kernel mounts devices.</summary>
    private Photon.Kernel.Io.IBlockDevice NvmeOpen(Photon.Kernel.Hal.IBlockStorage storage)
    {
        var (device, cap) = Photon.Kernel.Drivers.Block.NvmeBlockDevice.Start(storage, _caps).Value;
        return device.Open(cap);
    }
}
