using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;
using Photon.Kernel.Memory;
using Photon.Kernel.Modules;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

[assembly: PhotonModule("racing-fs", typeof(Photon.Coyote.RacingDriverModule), Description = "Coyote: a filesystem driver whose calls race unload")]
[assembly: ModuleCapability("/filesystems", Rights.Bind, As = "registry")]

namespace Photon.Coyote;

/// <summary>
/// Module unload racing with calls into the module's exported service: a real module (this assembly, loaded again by
/// the module loader into its own collectible load context) registers a filesystem driver, callers find it through
/// the registry and call it while the module is unloaded or its registration revoked.
/// Invariant: once UnloadAsync (or the revoke) has returned, no call runs the module's code — a call in flight
/// either finished before, or ends typed (Revoked / not recognised / NotFound); no call hangs (Coyote reports a
/// path that cannot finish); nothing leaks (no live capability, process, registration or namespace entry is left
/// beyond what existed before the load).
/// Found (and fixed): the registry handed callers the module's driver object itself, so a caller that found it
/// before the unload ran the unloaded module's code after — <see cref="Replay_FindBeforeUnloadCallAfter_RunsNoModuleCode"/>.
/// Found in the test itself (and fixed): the test side marked "the latest load" unloaded, so an unload task an earlier
/// iteration left running (Coyote ends a path it cannot resolve without waiting for it) could mark a later iteration's
/// module unloaded and its callers counted as running after unload ("4 calls ran module code after unload returned",
/// seen 1 in 8–13 paths on a loaded host). Each world now carries its own state key.
/// </summary>
public static class ModuleUnloadRaceTests
{
    internal static readonly Principal Admin = new("admin", "/");

    internal sealed class World
    {
        public required CapabilityManager Caps;
        public required NamespaceManager Namespaces;
        public required ProcessManager Processes;
        public required FileSystemRegistry Registry;
        public required ModuleLoader Loader;
        public required CapabilityToken Root;
        /// <summary>This world's module state (see <see cref="RacingDriverModule"/>): the test side reads and marks it by
        /// this key, never by "the latest", so a task an earlier iteration left running cannot mark this one unloaded.</summary>
        public string StateKey = "";
    }

    internal static World NewWorld()
    {
        var caps = new CapabilityManager();
        var ns = new NamespaceManager(caps);
        var timers = new NeverFiringTimers();
        var pm = new ProcessManager(caps, ns, new MemoryManager(new PhysicalMemory(1 << 20), caps)) { Timers = timers };
        var root = ns.RootCapability;
        var modules = ns.CreateChild(root, "modules").Value;
        var registry = new FileSystemRegistry(caps);
        ns.Bind(root, "filesystems", registry.Capability, Rights.Bind | Rights.Read | Rights.Delegate).Unwrap();
        var loader = new ModuleLoader(caps, ns, pm, timers, new OwnImage(), modules);
        return new World { Caps = caps, Namespaces = ns, Processes = pm, Registry = registry, Loader = loader, Root = root };
    }

    internal static async Task<CapabilityToken> LoadAsync(World w)
    {
        w.StateKey = RacingDriverModule.Reset();
        var options = new ModuleLoadOptions { Arguments = new Dictionary<string, string> { ["state"] = w.StateKey } };
        var loaded = await w.Loader.LoadAsync(w.Loader.Capability, typeof(ModuleUnloadRaceTests).Assembly.Location, w.Root, Admin, options);
        Specification.Assert(loaded.IsOk, $"load failed: {loaded}");
        return loaded.Value.Control;
    }

    /// <summary>A caller: find the driver, then probe (runs the module's code if the call gets in).</summary>
    private static async Task<string> Call(World w)
    {
        var driver = w.Registry.Find(w.Registry.Capability, RacingDriverModule.TypeName);
        if (!driver.IsOk)
        {
            Specification.Assert(driver.Code == ErrorCode.NotFound, $"find failed with {driver.Code}");
            return "not found";
        }
        return await driver.Value.ProbeAsync(new NoDevice()) ? "ran" : "refused";
    }

    private static void AssertNothingLeft(World w, long capsBefore)
    {
        Specification.Assert(RacingDriverModule.CallsAfterUnload(w.StateKey) == 0, $"{RacingDriverModule.CallsAfterUnload(w.StateKey)} calls ran module code after unload returned");
        Specification.Assert(RacingDriverModule.Inside(w.StateKey) == 0, $"{RacingDriverModule.Inside(w.StateKey)} calls still inside module code");
        Specification.Assert(w.Registry.TypeNames.Count == 0, "the driver is still registered");
        Specification.Assert(w.Processes.All.Count == 0, "the module's process survived");
        Specification.Assert(w.Loader.Modules.Count == 0, "the loader still lists the module");
        Specification.Assert(w.Namespaces.List(w.Root, "/modules").Value.Count == 0, "/modules still has an entry");
        Specification.Assert(w.Caps.LiveCount == capsBefore, $"{w.Caps.LiveCount - capsBefore} capabilities leaked");
        Specification.Assert(w.Caps.VerifyInvariants().IsOk, "derivation tree invariants broken");
    }

    [Test]
    public static async Task UnloadRacingCalls_NoModuleCodeRunsAfterUnload()
    {
        InterleavingPoints.Enable();
        var w = NewWorld();
        long capsBefore = w.Caps.LiveCount;
        var control = await LoadAsync(w);
        var one = Task.Run(() => Call(w));
        var two = Task.Run(() => Call(w));
        var unload = Task.Run(async () =>
        {
            var r = await w.Loader.UnloadAsync(control, Admin);
            RacingDriverModule.MarkUnloaded(w.StateKey);
            return r;
        });
        var u = await unload;
        Specification.Assert(u.IsOk, $"unload failed: {u}");
        var r1 = await one; var r2 = await two;
        // A call that starts now must not get in either.
        var late = await Call(w);
        Specification.Assert(late == "not found", $"a call after unload: {late}");
        _ = (r1, r2);
        AssertNothingLeft(w, capsBefore);
    }

    [Test]
    public static async Task RevokeOfRegistrationRacingCallsAndUnload_EveryCallEndsTyped()
    {
        InterleavingPoints.Enable();
        var w = NewWorld();
        long capsBefore = w.Caps.LiveCount;
        var control = await LoadAsync(w);
        var registration = RacingDriverModule.Registration(w.StateKey);
        var call = Task.Run(() => Call(w));
        var revoke = Task.Run(() =>
        {
            var r = w.Caps.Revoke(registration);
            Specification.Assert(r.IsOk || r.Code == ErrorCode.Revoked, $"revoke failed with {r.Code}");
        });
        await revoke;
        // After the revoke has returned, the driver is gone for new callers; a call already inside may still finish.
        var after = await Call(w);
        Specification.Assert(after == "not found", $"a call after the revoke: {after}");
        var u = await w.Loader.UnloadAsync(control, Admin);
        RacingDriverModule.MarkUnloaded(w.StateKey);
        Specification.Assert(u.IsOk, $"unload failed: {u}");
        var r1 = await call;
        Specification.Assert(r1 is "ran" or "refused" or "not found", r1);
        AssertNothingLeft(w, capsBefore);
    }

    /// <summary>Deterministic replay of the bug Coyote found: the caller finds the driver, the whole unload runs, then
    /// the caller calls. Before the fix the probe ran the unloaded module's code.</summary>
    [Test]
    public static async Task Replay_FindBeforeUnloadCallAfter_RunsNoModuleCode()
    {
        InterleavingPoints.Enable();
        InterleavingPoints.Script = static () => { };
        var w = NewWorld();
        long capsBefore = w.Caps.LiveCount;
        var control = await LoadAsync(w);
        var driver = w.Registry.Find(w.Registry.Capability, RacingDriverModule.TypeName).Value;
        var u = await w.Loader.UnloadAsync(control, Admin);
        RacingDriverModule.MarkUnloaded(w.StateKey);
        Specification.Assert(u.IsOk, $"unload failed: {u}");
        var probed = await driver.ProbeAsync(new NoDevice());
        var mounted = await driver.MountAsync(new NoDevice(), new MountOptions());
        Specification.Assert(!probed, "a probe after unload said the unloaded driver recognises the device");
        Specification.Assert(mounted.Code == ErrorCode.Revoked, $"a mount after unload ended {mounted}");
        AssertNothingLeft(w, capsBefore);
    }

    /// <summary>Kernel timers that never fire (the tests have no timeouts to hit); a cancelled delay ends.</summary>
    private sealed class NeverFiringTimers : IKernelTimers
    {
        public TimeSpan Now => TimeSpan.Zero;

        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cancellationToken.Register(() => tcs.TrySetCanceled());
            return tcs.Task;
        }
    }

    /// <summary>Serves this assembly's own image as the module.</summary>
    private sealed class OwnImage : IModuleImageSource
    {
        public Result<byte[]> ReadModule(string location) => File.ReadAllBytes(location);
        public Result<byte[]> ReadDependency(string location, string assemblyName) => Errors.Of(ErrorCode.NotFound, "none");
    }
}

/// <summary>A device the racing driver never reads (writable, so the VFS mounts its filesystem read-write).</summary>
internal sealed class NoDevice : IBlockDevice
{
    public string Name => "none";
    public int SectorSize => 512;
    public long SectorCount => 0;
    public bool IsReadOnly => false;
    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Result.Fail(ErrorCode.NotSupported, "no device"));
    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Result.Fail(ErrorCode.NotSupported, "no device"));
    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Result.Ok);
}

/// <summary>
/// The module. It runs in its own load context (a second copy of this assembly), so its statics are not the test's:
/// what both sides see lives in AppContext data (a framework type, shared by both copies), under a key fresh for each
/// load, so a task an earlier iteration left behind (Coyote may end a path it cannot resolve) cannot touch this one's.
/// </summary>
public sealed class RacingDriverModule : IKernelModule
{
    public const string TypeName = "racing";
    // [0] calls inside module code, [1] unload has returned, [2] module code that ran after that.
    private static long[] State(string key) => (long[])AppContext.GetData(key)!;

    /// <summary>Test side: fresh shared state for the next load; returns its key (the module's "state" argument).</summary>
    internal static string Reset()
    {
        string key = $"Photon.Coyote.RacingDriverModule.{Guid.NewGuid():N}";
        AppContext.SetData(key, new long[3]);
        return key;
    }

    internal static void MarkUnloaded(string key) => Interlocked.Exchange(ref State(key)[1], 1);
    internal static long Inside(string key) => Interlocked.Read(ref State(key)[0]);
    internal static long CallsAfterUnload(string key) => Interlocked.Read(ref State(key)[2]);
    /// <summary>The stack of the last module call that ran after unload returned (named in the assertion message).</summary>
    internal const string LateCallKey = "Photon.Coyote.RacingDriverModule.LateCall";
    internal static string LateCall() => AppContext.GetData(LateCallKey) as string ?? "";
    internal static CapabilityToken Registration(string key) => (CapabilityToken)AppContext.GetData(key + ".Registration")!;

    private ModuleContext? _context;
    private Handle _registration;

    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _context = context;
        var state = (long[])AppContext.GetData(context.Arguments["state"])!;
        var registry = context.Use<FileSystemRegistry>("registry", Rights.Bind);
        if (!registry.IsOk) return Task.FromResult(registry.AsResult());
        var registered = registry.Value.Register(context.TokenOf("registry").Value, new Driver(state), context.Principal);
        if (!registered.IsOk) return Task.FromResult(registered.AsResult());
        AppContext.SetData(context.Arguments["state"] + ".Registration", registered.Value);
        var handle = context.Adopt(registered.Value);
        if (!handle.IsOk) return Task.FromResult(handle.AsResult());
        _registration = handle.Value;
        return Task.FromResult(Result.Ok);
    }

    public Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        if (_context is null) return Task.FromResult(Result.Ok);
        var closed = _context.Sys.Handles.Close(_context.Process, _registration);
        _context = null;
        // Already revoked (the revoke test) is fine: the registration is gone either way.
        return Task.FromResult(closed.IsOk || closed.Code is ErrorCode.Revoked or ErrorCode.InvalidHandle ? Result.Ok : closed);
    }

    /// <summary>Module code: records that it ran, and whether the unload had already returned.</summary>
    private sealed class Driver(long[] s) : IFileSystemDriver
    {
        public string TypeName => RacingDriverModule.TypeName;

        public async ValueTask<bool> ProbeAsync(IBlockDevice device, CancellationToken ct = default)
        {
            Interlocked.Increment(ref s[0]);
            if (Interlocked.Read(ref s[1]) != 0) { Interlocked.Increment(ref s[2]); AppContext.SetData(LateCallKey, Environment.StackTrace); }
            await Task.Yield(); // the call is inside module code across a scheduling point
            if (Interlocked.Read(ref s[1]) != 0) { Interlocked.Increment(ref s[2]); AppContext.SetData(LateCallKey, Environment.StackTrace); }
            Interlocked.Decrement(ref s[0]);
            return true;
        }

        public async ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, CancellationToken ct = default)
        {
            await Enter(s);
            Leave(s);
            return new RacingFileSystem(s);
        }
    }

    /// <summary>Module code running across a scheduling point, counted as inside and checked against the unload.</summary>
    private static async ValueTask Enter(long[] s)
    {
        Interlocked.Increment(ref s[0]);
        if (Interlocked.Read(ref s[1]) != 0) { Interlocked.Increment(ref s[2]); AppContext.SetData(LateCallKey, Environment.StackTrace); }
        await Task.Yield();
    }

    private static void Leave(long[] s)
    {
        if (Interlocked.Read(ref s[1]) != 0) { Interlocked.Increment(ref s[2]); AppContext.SetData(LateCallKey, Environment.StackTrace); }
        Interlocked.Decrement(ref s[0]);
    }

    /// <summary>The module's filesystem: one file, "/f", whose every call is counted module code.</summary>
    private sealed class RacingFileSystem(long[] s) : IFileSystem, IFileNode
    {
        private byte[] _data = "racing"u8.ToArray();

        public string TypeName => RacingDriverModule.TypeName;
        public bool IsReadOnly => false;
        public FileKind Kind => FileKind.File;

        private async ValueTask<T> Run<T>(Func<T> body)
        {
            await Enter(s);
            try { return body(); }
            finally { Leave(s); }
        }

        private Result<FileStat> Stat() => new FileStat("f", FileKind.File, _data.Length, DateTimeOffset.UnixEpoch);
        private static KernelError Missing(string path) => Errors.Of(ErrorCode.NotFound, path);

        public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) =>
            Run<Result<FileStat>>(() => path == "/f" ? Stat() : Missing(path));
        public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
            Run<Result<IReadOnlyList<DirectoryEntry>>>(() => Result<IReadOnlyList<DirectoryEntry>>.Success([new DirectoryEntry("f", FileKind.File, _data.Length)]));
        public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) =>
            Run<Result<IFileNode>>(() => path == "/f" ? Result<IFileNode>.Success(this) : Missing(path));
        public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) => Run(() => Result.Fail(ErrorCode.AlreadyExists, path));
        public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) => Run(() => Result.Fail(ErrorCode.NotSupported, path));
        public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) => Run(() => Result.Fail(ErrorCode.NotSupported, path));
        public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) => Run(() => Result.Fail(ErrorCode.NotSupported, from));
        public ValueTask<Result> FlushAsync(CancellationToken ct = default) => Run(() => Result.Ok);
        public async ValueTask DisposeAsync() => await Run(() => 0);

        public ValueTask<Result<FileStat>> StatAsync(CancellationToken ct = default) => Run(Stat);
        public ValueTask<Result<int>> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) => Run<Result<int>>(() =>
        {
            if (offset >= _data.Length) return Result<int>.Success(0);
            int n = Math.Min(buffer.Length, _data.Length - (int)offset);
            _data.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return Result<int>.Success(n);
        });
        public ValueTask<Result> WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) => Run(() =>
        {
            if (offset + data.Length > 4096) return Result.Fail(ErrorCode.NoSpace, "the racing file holds 4 KiB");
            if (offset + data.Length > _data.Length) Array.Resize(ref _data, (int)offset + data.Length);
            data.Span.CopyTo(_data.AsSpan((int)offset));
            return Result.Ok;
        });
        public ValueTask<Result> TruncateAsync(long length, CancellationToken ct = default) => Run(() => Result.Fail(ErrorCode.NotSupported, "truncate"));

        /// <summary>Synchronous module code: counted, no scheduling point.</summary>
        public void Release()
        {
            Interlocked.Increment(ref s[0]);
            if (Interlocked.Read(ref s[1]) != 0) { Interlocked.Increment(ref s[2]); AppContext.SetData(LateCallKey, Environment.StackTrace); }
            Interlocked.Decrement(ref s[0]);
        }
    }
}
