using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Memory;
using Photon.Kernel.Modules;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Modules;

/// <summary>
/// Issue #9 item 3: native modules are trusted kernel code. Loading one needs the loader's Manage capability (refusals
/// audited), images can be pinned by SHA-256, and the manifest's grants are bookkeeping of what a module is handed —
/// the reflective test module shows they are no boundary.
/// </summary>
public sealed class ModuleTrustTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly InMemoryAuditSink _audit = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;
    private readonly HostTimers _timers = new(new HostClock());
    private readonly KernelLog _log = new(new HostClock(), null);
    private readonly CapabilityToken _root;
    private readonly CapabilityToken _modules;
    private static readonly Principal Admin = new("admin", "/");
    private static readonly Principal TenantAdmin = new("tenant-admin", "/tenant-a");

    public ModuleTrustTests()
    {
        _caps = new CapabilityManager(_audit);
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm) { Timers = _timers, TeardownTimeout = TimeSpan.FromSeconds(2) };
        _root = _ns.RootCapability;
        _modules = _ns.CreateChild(_root, "modules").Value;
        var devices = _ns.CreateChild(_root, "devices").Value;
        var disk = _caps.Create(new GenericObject("disk0"), Rights.Read | Rights.Write | Rights.Delegate, Principal.Kernel).Value;
        _ns.Bind(devices, "disk0", disk, Rights.Read | Rights.Write | Rights.Delegate).Unwrap();
    }

    public void Dispose() => _phys.Dispose();

    private ModuleLoader Loader(ModulePins? pins = null) =>
        new(_caps, _ns, _pm, _timers, new HostModuleImageSource(), _modules, _log, pins)
        {
            StartTimeout = TimeSpan.FromSeconds(5), StopTimeout = TimeSpan.FromSeconds(5), TeardownTimeout = TimeSpan.FromSeconds(2),
        };

    private static string Good => ModuleLoaderTests.ModulePath("Good");
    private static string Helper => Path.Combine(Path.GetDirectoryName(Good)!, "Photon.TestModule.Helper.dll");
    private static string Digest(string path) => ModulePins.DigestOf(File.ReadAllBytes(path));

    private bool Loaded(string name) => _ns.List(_root, "/modules").Value.Any(e => e.Name == name);

    private CapabilityAuditEvent LastDenial() => _audit.Snapshot().Last(e => e.Action == AuditAction.Denied);

    [Fact]
    public async Task Loading_without_the_loader_capability_is_AccessDenied_and_audited()
    {
        var loader = Loader();
        var r = await loader.LoadAsync(CapabilityToken.None, Good, _root, TenantAdmin);
        Assert.Equal(ErrorCode.AccessDenied, r.Code);
        var denial = LastDenial();
        Assert.Equal(("tenant-admin", "/tenant-a", Rights.Manage, ErrorCode.AccessDenied), (denial.Subject, denial.Namespace, denial.Rights, denial.Error));
        Assert.False(Loaded("good"));

        // Holding other powerful capabilities (here the root namespace, with every right) is not the loader capability.
        Assert.Equal(ErrorCode.WrongObjectType, (await loader.LoadAsync(_root, Good, _root, TenantAdmin)).Code);
        Assert.Equal(ErrorCode.WrongObjectType, LastDenial().Error);
        Assert.Equal(ErrorCode.UnknownCapability, (await loader.LoadAsync(new CapabilityToken(777, 1), Good, _root, TenantAdmin)).Code);
        // A capability to another loader does not authorise this one.
        var other = Loader();
        Assert.Equal(ErrorCode.AccessDenied, (await loader.LoadAsync(other.Capability, Good, _root, Admin)).Code);
        Assert.False(Loaded("good"));
        Assert.Empty(loader.Modules);
    }

    [Fact]
    public async Task A_derived_loader_capability_without_Manage_is_AccessDenied_and_one_with_Manage_authorises_an_administrator()
    {
        var loader = Loader();
        var readOnly = _caps.Derive(loader.Capability, Rights.Read, TenantAdmin, Principal.Kernel).Value;
        var r = await loader.LoadAsync(readOnly, Good, _root, TenantAdmin);
        Assert.Equal(ErrorCode.AccessDenied, r.Code);
        var denial = LastDenial();
        Assert.Equal(("tenant-admin", Rights.Manage, ErrorCode.AccessDenied), (denial.Subject, denial.Rights, denial.Error));
        Assert.False(Loaded("good"));

        // The kernel delegates Manage to an administrator; revoking it takes the power back.
        var adminCap = _caps.Derive(loader.Capability, Rights.Manage, Admin, Principal.Kernel).Value;
        var ok = await loader.LoadAsync(adminCap, Good, _root, Admin);
        Assert.True(ok.IsOk, ok.ToString());
        Assert.True((await loader.UnloadAsync(ok.Value.Control, Admin)).IsOk);
        _caps.Revoke(adminCap, Principal.Kernel);
        Assert.Equal(ErrorCode.Revoked, (await loader.LoadAsync(adminCap, Good, _root, Admin)).Code);
    }

    [Fact]
    public async Task With_pinning_on_an_unpinned_or_tampered_image_is_refused_and_audited_and_a_pinned_one_loads()
    {
        var loader = Loader(ModulePins.Of([Digest(Good), Digest(Helper)]).Value);

        // The same module with one byte appended (still a loadable assembly) no longer matches its pin.
        var dir = Directory.CreateTempSubdirectory("photon-pinned-");
        try
        {
            var tampered = Path.Combine(dir.FullName, Path.GetFileName(Good));
            File.WriteAllBytes(tampered, File.ReadAllBytes(Good).Append((byte)0).ToArray());
            File.Copy(Helper, Path.Combine(dir.FullName, Path.GetFileName(Helper)));
            var r = await loader.LoadAsync(loader.Capability, tampered, _root, Admin);
            Assert.Equal(ErrorCode.AccessDenied, r.Code);
            Assert.Contains("not pinned", r.Error.Message);
            Assert.Contains("not pinned", LastDenial().Detail);
            Assert.False(Loaded("good"));
        }
        finally { dir.Delete(recursive: true); }

        var throwing = await loader.LoadAsync(loader.Capability, ModuleLoaderTests.ModulePath("Throwing"), _root, Admin);
        Assert.Equal(ErrorCode.AccessDenied, throwing.Code);

        var ok = await loader.LoadAsync(loader.Capability, Good, _root, Admin);
        Assert.True(ok.IsOk, ok.ToString());
        Assert.Equal(Digest(Good), ok.Value.Module.ImageSha256);
        Assert.True((await loader.UnloadAsync(ok.Value.Control, Admin)).IsOk);
    }

    [Fact]
    public async Task An_unpinned_private_dependency_is_refused_even_when_the_module_itself_is_pinned()
    {
        var loader = Loader(ModulePins.Of([Digest(Good)]).Value);
        var r = await loader.LoadAsync(loader.Capability, Good, _root, Admin);
        Assert.Equal(ErrorCode.AccessDenied, r.Code);
        Assert.Contains("Photon.TestModule.Helper", r.Error.Message);
        Assert.False(Loaded("good"));
        Assert.Equal(ErrorCode.InvalidArgument, ModulePins.Of(["not-a-digest"]).Code);
    }

    [Fact]
    public async Task Grants_are_least_privilege_bookkeeping_not_a_boundary()
    {
        // tenant-a's secret, which nothing grants to the module.
        var tenantA = _ns.CreateChild(_root, "tenant-a").Value;
        var secret = _mm.Allocate(4096, new Principal("kv", "/tenant-a")).Value;
        Assert.True(_mm.Write(secret, 0, "tenant-a secret"u8).IsOk);
        _ns.Bind(tenantA, "secret", secret, Rights.Read).Unwrap();

        var loader = Loader();
        var loaded = await loader.LoadAsync(loader.Capability, ModuleLoaderTests.ModulePath("Reflective"), _root, Admin);
        Assert.True(loaded.IsOk, loaded.ToString());
        var (module, control) = loaded.Value;

        // What the module was handed: nothing. Its own process cannot name the secret...
        Assert.Empty(module.Grants);
        var process = _pm.Get(module.Pid!.Value).Value;
        Assert.Equal(ErrorCode.NotFound, process.Open("/tenant-a/secret", Rights.Read).Code);
        // ...yet its code, which runs in the kernel's host process, reached the kernel's managers by reflection, held the
        // root namespace with every right, and read the secret. Only who may load it (Manage on the loader, pins) stands
        // between a native module and the whole kernel; untrusted code must run as Wasm.
        var escaped = Assert.Single(_log.Snapshot(), e => e.Source == "module:reflective" && e.Message.StartsWith("escaped"));
        Assert.Contains("root capability All", escaped.Message);
        Assert.Contains("secret 'tenant-a secret'", escaped.Message);
        Assert.True((await loader.UnloadAsync(control, Admin)).IsOk);
    }
}
