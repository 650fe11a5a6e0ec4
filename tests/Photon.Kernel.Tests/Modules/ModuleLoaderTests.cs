using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Memory;
using Photon.Kernel.Modules;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Modules;

/// <summary>
/// Loads the real test-module assemblies built with the solution (tests/Modules/*, copied to modules/ next to the
/// tests) through the module loader, with real capability, namespace, memory and process managers.
/// </summary>
public sealed class ModuleLoaderTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;
    private readonly HostTimers _timers = new(new HostClock());
    private readonly KernelLog _log = new(new HostClock(), null);
    private readonly ModuleLoader _loader;
    private readonly CapabilityToken _root;
    private static readonly Principal Admin = new("admin", "/");

    public ModuleLoaderTests()
    {
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm) { Timers = _timers, TeardownTimeout = TimeSpan.FromSeconds(2) };
        _root = _ns.RootCapability;
        var modules = _ns.CreateChild(_root, "modules").Value;
        var devices = _ns.CreateChild(_root, "devices").Value;
        var disk = _caps.Create(new GenericObject("disk0"), Rights.Read | Rights.Write | Rights.Delegate | Rights.Manage, Principal.Kernel).Value;
        // The loader's binding may read, write and delegate the disk, but not manage it.
        _ns.Bind(devices, "disk0", disk, Rights.Read | Rights.Write | Rights.Delegate).Unwrap();
        _loader = new ModuleLoader(_caps, _ns, _pm, _timers, new HostModuleImageSource(), modules, _log)
        {
            // Generous for a loaded 2-core CI machine; the hanging tests wait this long.
            StartTimeout = TimeSpan.FromMilliseconds(1500),
            StopTimeout = TimeSpan.FromMilliseconds(1500),
            TeardownTimeout = TimeSpan.FromSeconds(2),
        };
    }

    public void Dispose() => _phys.Dispose();

    internal static string ModulePath(string name) =>
        Path.Combine(AppContext.BaseDirectory, "modules", $"Photon.TestModule.{name}", $"Photon.TestModule.{name}.dll");

    private ModuleLoadOptions Args(string key, string value) => new() { Arguments = new Dictionary<string, string> { [key] = value } };

    private (long Caps, long Regions, int Processes) Snapshot() => (_caps.LiveCount, _mm.LiveRegions, _pm.All.Count);

    private bool ModuleNamespaceExists(string name) => _ns.List(_root, "/modules").Value.Any(e => e.Name == name);

    [Fact]
    public async Task Good_module_gets_exactly_its_grants_and_unloading_leaves_nothing_behind()
    {
        var before = Snapshot();
        var loaded = await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin);
        Assert.True(loaded.IsOk, loaded.ToString());
        var (module, control) = loaded.Value;
        Assert.Equal(ModuleState.Running, module.State);
        Assert.Equal("good", module.Name);

        // Its namespace holds the grant with exactly the requested rights, plus what it published itself.
        var entries = _ns.List(_root, "/modules/good").Value.ToDictionary(e => e.Name);
        Assert.Equal(Rights.Read | Rights.Write, entries["disk"].Rights);
        Assert.Equal(ObjectKind.MemoryRegion, entries["status"].Kind);
        Assert.Equal(Rights.Read, entries["status"].Rights);
        // The status text comes from the module's private dependency, written into memory it allocated.
        var statusCap = _ns.Lookup(_root, "/modules/good/status", Rights.Read).Value;
        var text = new byte["good module running".Length];
        Assert.True(_mm.Read(statusCap, 0, text).IsOk);
        Assert.Equal("good module running", System.Text.Encoding.UTF8.GetString(text));

        // Its process sees only its own namespace and cannot use rights it was not given.
        var process = _pm.Get(module.Pid!.Value).Value;
        Assert.Equal("/modules/good", process.Namespace.Path);
        var disk = process.Open("/disk", Rights.Read);
        Assert.True(disk.IsOk);
        Assert.Equal(ErrorCode.AccessDenied, process.Open("/disk", Rights.Manage).Code);
        Assert.Equal(ErrorCode.NotFound, process.Open("/devices/disk0", Rights.Read).Code);
        Assert.Equal(before.Regions + 1, _mm.LiveRegions);
        Assert.Equal(1, process.LiveTasks); // heartbeat on kernel timers

        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
        Assert.Equal(ModuleState.Unloaded, module.State);
        Assert.False(ModuleNamespaceExists("good"));
        Assert.Equal(before, Snapshot());
        Assert.Equal(ErrorCode.Revoked, _caps.Check(control, Rights.None).Code);
        Assert.Equal(ErrorCode.Closed, process.Open("/disk", Rights.Read).Code);
        Assert.True(_caps.VerifyInvariants().IsOk);
        Assert.Empty(_loader.Modules);
        Assert.Contains(_log.Snapshot(), e => e.Source == "module:good" && e.Message.StartsWith("started"));
    }

    [Fact]
    public async Task Module_code_loads_in_its_own_collectible_context_and_shares_kernel_types_with_the_host()
    {
        var (module, control) = (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin)).Value;
        CheckContext(module);
        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);

        [MethodImpl(MethodImplOptions.NoInlining)]
        static void CheckContext(LoadedModule module)
        {
            var alc = module.LoadContext!;
            Assert.True(alc.IsCollectible);
            Assert.NotSame(AssemblyLoadContext.Default, alc);
            // Only the module's own assembly and its private dependency are in its context; the kernel is the host's copy.
            Assert.Equal(["Photon.TestModule.Good", "Photon.TestModule.Helper"], alc.Assemblies.Select(a => a.GetName().Name!).Order());
            Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name == "Photon.TestModule.Helper");
            Assert.Same(alc, AssemblyLoadContext.GetLoadContext(module.Entry!.GetType().Assembly));
            Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(typeof(IKernelModule).Assembly));
            var moduleSeesKernel = module.Entry.GetType().GetInterfaces().Single(i => i.Name == nameof(IKernelModule));
            Assert.Same(typeof(IKernelModule), moduleSeesKernel);
        }
    }

    [Fact]
    public async Task Unloaded_module_code_is_collected_and_the_module_can_be_loaded_again()
    {
        var weak = await LoadAndUnloadAsync();
        for (int i = 0; i < 50 && weak.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Yield();
        }
        Assert.False(weak.IsAlive, "the module's load context was not collected after unload");

        var again = await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin);
        Assert.True(again.IsOk, again.ToString());
        Assert.True((await _loader.UnloadAsync(again.Value.Control, Admin)).IsOk);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference> LoadAndUnloadAsync()
    {
        var (module, control) = (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin)).Value;
        var weak = module.CodeReference;
        Assert.True(weak.IsAlive);
        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
        Assert.Null(module.LoadContext);
        return weak;
    }

    [Fact]
    public async Task A_module_that_throws_in_start_is_contained_marked_faulted_and_stripped()
    {
        var before = Snapshot();
        var r = await _loader.LoadAsync(_loader.Capability, ModulePath("Throwing"), _root, Admin, Args("throw-in", "start"));
        Assert.Equal(ErrorCode.ModuleFault, r.Code);
        Assert.Contains("boom in start", r.Error.Message);
        var faulted = Assert.Single(_loader.Modules);
        Assert.Equal(ModuleState.Faulted, faulted.State);
        Assert.Equal(ErrorCode.ModuleFault, faulted.Fault!.Value.Code);
        Assert.Equal(before, Snapshot()); // its memory region and process are gone
        Assert.False(ModuleNamespaceExists("throwing"));
        Assert.True(_caps.VerifyInvariants().IsOk);

        // The kernel keeps running: other modules still load.
        var good = await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin);
        Assert.True(good.IsOk, good.ToString());
        Assert.True((await _loader.UnloadAsync(good.Value.Control, Admin)).IsOk);
    }

    [Fact]
    public async Task A_module_that_throws_in_stop_is_reported_and_still_fully_unloaded()
    {
        var before = Snapshot();
        var (module, control) = (await _loader.LoadAsync(_loader.Capability, ModulePath("Throwing"), _root, Admin, Args("throw-in", "stop"))).Value;
        Assert.Equal(before.Regions + 1, _mm.LiveRegions);
        var r = await _loader.UnloadAsync(control, Admin);
        Assert.Equal(ErrorCode.ModuleFault, r.Code);
        Assert.Contains("boom in stop", r.Error.Message);
        Assert.Equal(ModuleState.Faulted, module.State);
        Assert.Equal(before, Snapshot());
        Assert.False(ModuleNamespaceExists("throwing"));
        Assert.Null(module.LoadContext);
    }

    [Fact]
    public async Task A_module_that_hangs_in_start_times_out_on_kernel_timers_and_is_stripped()
    {
        var before = Snapshot();
        var sw = Stopwatch.StartNew();
        var r = await _loader.LoadAsync(_loader.Capability, ModulePath("Hanging"), _root, Admin, Args("hang-in", "start"));
        sw.Stop();
        Assert.Equal(ErrorCode.TimedOut, r.Code);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(1400), TimeSpan.FromSeconds(15));
        var faulted = Assert.Single(_loader.Modules);
        Assert.Equal(ModuleState.Faulted, faulted.State);
        Assert.Equal(ErrorCode.TimedOut, faulted.Fault!.Value.Code);
        Assert.Equal(before, Snapshot());
        Assert.False(ModuleNamespaceExists("hanging"));
    }

    [Fact]
    public async Task A_module_that_hangs_in_stop_times_out_and_is_still_fully_unloaded()
    {
        var before = Snapshot();
        var (module, control) = (await _loader.LoadAsync(_loader.Capability, ModulePath("Hanging"), _root, Admin, Args("hang-in", "stop"))).Value;
        var r = await _loader.UnloadAsync(control, Admin);
        Assert.Equal(ErrorCode.TimedOut, r.Code);
        Assert.Equal(ModuleState.Faulted, module.State);
        Assert.Equal(before, Snapshot());
        Assert.False(ModuleNamespaceExists("hanging"));
    }

    [Fact]
    public async Task A_greedy_module_is_refused_and_nothing_it_was_partly_granted_survives()
    {
        var before = Snapshot();
        var r = await _loader.LoadAsync(_loader.Capability, ModulePath("Greedy"), _root, Admin);
        Assert.Equal(ErrorCode.AccessDenied, r.Code);
        Assert.Contains("/devices/disk0", r.Error.Message);
        Assert.Equal(before, Snapshot());
        Assert.False(ModuleNamespaceExists("greedy"));
        Assert.Empty(_loader.Modules);
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public async Task A_loader_cannot_grant_rights_it_does_not_hold()
    {
        // A tenant whose view of the disk is read-only (and delegable) tries to load a module that needs read-write.
        var tenant = _ns.CreateChild(_root, "tenant").Value;
        var roDisk = _ns.Lookup(_root, "/devices/disk0", Rights.Read | Rights.Delegate).Value;
        var tenantDevices = _ns.CreateChild(tenant, "devices").Value;
        _ns.Bind(tenantDevices, "disk0", roDisk, Rights.Read | Rights.Delegate).Unwrap();
        var asTenant = new Principal("tenant-admin", "/tenant");
        var r = await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), tenant, asTenant);
        Assert.Equal(ErrorCode.AccessDenied, r.Code);

        // Without Delegate the loader cannot hand the disk on at all, even with the right rights.
        var noDelegate = _ns.CreateChild(_root, "nodelegate").Value;
        var ndDevices = _ns.CreateChild(noDelegate, "devices").Value;
        var rwDisk = _ns.Lookup(_root, "/devices/disk0", Rights.Read | Rights.Write | Rights.Delegate).Value;
        _ns.Bind(ndDevices, "disk0", rwDisk, Rights.Read | Rights.Write).Unwrap();
        Assert.Equal(ErrorCode.AccessDenied, (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), noDelegate, asTenant)).Code);
        Assert.False(ModuleNamespaceExists("good"));
    }

    [Fact]
    public async Task Bad_module_images_and_bad_control_capabilities_are_typed_errors()
    {
        var dir = Directory.CreateTempSubdirectory("photon-modules-");
        try
        {
            Assert.Equal(ErrorCode.NotFound, (await _loader.LoadAsync(_loader.Capability, Path.Combine(dir.FullName, "missing.dll"), _root, Admin)).Code);
            var garbage = Path.Combine(dir.FullName, "garbage.dll");
            File.WriteAllBytes(garbage, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray());
            Assert.Equal(ErrorCode.Corrupted, (await _loader.LoadAsync(_loader.Capability, garbage, _root, Admin)).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await _loader.LoadAsync(_loader.Capability, "", _root, Admin)).Code);
        }
        finally { dir.Delete(recursive: true); }

        // An ordinary assembly without a manifest, and the kernel itself, are not modules.
        var plain = Path.Combine(AppContext.BaseDirectory, "CsCheck.dll");
        Assert.Equal(ErrorCode.InvalidArgument, (await _loader.LoadAsync(_loader.Capability, plain, _root, Admin)).Code);
        var kernel = typeof(IKernelModule).Assembly.Location;
        Assert.Equal(ErrorCode.InvalidArgument, (await _loader.LoadAsync(_loader.Capability, kernel, _root, Admin)).Code);

        // Loading twice, unloading twice, forged controls, and a namespace capability the caller does not hold.
        var (module, control) = (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin)).Value;
        Assert.Equal(ErrorCode.AlreadyExists, (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), _root, Admin)).Code);
        Assert.Equal(ModuleState.Running, module.State);
        var readOnlyControl = _caps.Derive(control, Rights.Read, Admin).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await _loader.UnloadAsync(readOnlyControl, Admin)).Code);
        Assert.Equal(ErrorCode.UnknownCapability, (await _loader.UnloadAsync(new CapabilityToken(12345, 1), Admin)).Code);
        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
        Assert.Equal(ErrorCode.Revoked, (await _loader.UnloadAsync(control, Admin)).Code);
        Assert.Equal(ErrorCode.Revoked, (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), control, Admin)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _loader.LoadAsync(_loader.Capability, ModulePath("Good"), CapabilityToken.None, Admin)).Code);
    }
}
