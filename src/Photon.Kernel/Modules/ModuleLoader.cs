using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Modules;

/// <summary>Per-load settings.</summary>
public sealed record ModuleLoadOptions
{
    /// <summary>String arguments the module sees in <see cref="ModuleContext.Arguments"/>.</summary>
    public IReadOnlyDictionary<string, string> Arguments { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Loads driver and filesystem modules — <b>trusted kernel code</b>, like Linux kernel modules — as separate assemblies
/// in collectible load contexts, and unloads them again. A module runs in the kernel's own host process with the whole
/// .NET runtime at hand (reflection, P/Invoke, files): nothing here confines it, so loading one is an administrator's
/// decision. The loader is a kernel object and <see cref="LoadAsync"/> needs a capability to it with
/// <see cref="Rights.Manage"/>, held by the kernel (bind a derived one only where an administrator should have it);
/// with <see cref="ModulePins"/> set it also refuses any image whose SHA-256 is not pinned. Untrusted extensions run as
/// WebAssembly (Photon.Sandbox), which is a real boundary.
/// Loading a module: read its image and private dependencies once (through the HAL <see cref="IModuleImageSource"/>),
/// check them, read its manifest, create /modules/&lt;name&gt;, bind into it exactly the capabilities the manifest asks
/// for (each derived from the loading principal's own binding, so a correct module never holds more than its loader may
/// hand on — least-privilege bookkeeping, revoked at unload, not a sandbox), spawn the module's process, and call its
/// entry point's StartAsync under a timeout. Unloading (or a fault) stops the module, destroys its process (revoking
/// every handle it held, which frees its memory regions), destroys its namespace, and unloads its code.
/// A module that throws from an entry point is marked faulted (<see cref="ErrorCode.ModuleFault"/>); one that hangs
/// is detected by a kernel timer (<see cref="ErrorCode.TimedOut"/>); either way it is stripped of every capability.
/// That handles bugs, not malice: a module can still crash or subvert the kernel.
/// </summary>
public sealed class ModuleLoader : KernelObject
{
    public override ObjectKind Kind => ObjectKind.ModuleLoader;

    public const int MaxFaultRecords = 64;

    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _namespaces;
    private readonly ProcessManager _processes;
    private readonly IKernelTimers _timers;
    private readonly IModuleImageSource _images;
    private readonly KernelLog? _log;
    private readonly CapabilityToken _modulesNamespace;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LoadedModule> _running = new(StringComparer.Ordinal);
    private readonly Queue<LoadedModule> _faulted = new();

    /// <param name="modulesNamespace">Capability (Create, Bind, Manage) to the namespace module namespaces are made in
    /// (conventionally /modules).</param>
    /// <summary>The syscall table module contexts hand their modules (the kernel's; a private one if none is set).</summary>
    public Syscalls.SyscallTable? Sys { get; set; }

    /// <param name="pins">Allowed image digests; null turns pinning off (any image the caller names may load).</param>
    public ModuleLoader(CapabilityManager caps, NamespaceManager namespaces, ProcessManager processes, IKernelTimers timers,
        IModuleImageSource images, CapabilityToken modulesNamespace, KernelLog? log = null, ModulePins? pins = null,
        BuiltInModules? builtIns = null)
        : base("module-loader")
    {
        BuiltIns = builtIns;
        _caps = caps;
        _namespaces = namespaces;
        _processes = processes;
        _timers = timers;
        _images = images;
        _modulesNamespace = modulesNamespace;
        _log = log;
        Pins = pins;
        Capability = caps.Create(this, Rights.Manage | Rights.Read | Rights.Delegate, Principal.Kernel).Value;
    }

    /// <summary>The kernel's capability to the loader: <see cref="Rights.Manage"/> authorises loading native (trusted)
    /// code. Keep it with the kernel; derive it only for an administrator.</summary>
    internal CapabilityToken Capability { get; }

    /// <summary>Allowed image digests, or null when pinning is off.</summary>
    public ModulePins? Pins { get; }

    /// <summary>Modules compiled into this kernel binary: a load naming one starts it without reading a file.</summary>
    public BuiltInModules? BuiltIns { get; }

    /// <summary>Whether this runtime can load module code from an image at all (not in an ahead-of-time build).</summary>
    public static bool CanLoadImages => System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;

    /// <summary>Whether this loader loads module images (false: built-in modules only). Defaults to
    /// <see cref="CanLoadImages"/>; a kernel may also turn loading off to run only the code it was built with.</summary>
    public bool LoadsImages { get; init; } = CanLoadImages;

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bounds how long teardown waits for a module's own tasks to observe cancellation.</summary>
    public TimeSpan TeardownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Running modules, then the most recent faulted ones.</summary>
    public IReadOnlyList<LoadedModule> Modules
    {
        get { lock (_lock) return _running.Values.OrderBy(m => m.Name, StringComparer.Ordinal).Concat(_faulted).ToArray(); }
    }

    public Result<LoadedModule> Find(string name)
    {
        lock (_lock) return _running.TryGetValue(name, out var m) ? m : Errors.Of(ErrorCode.NotFound, $"no module '{name}' is loaded");
    }

    /// <summary>
    /// Loads the module at <paramref name="location"/> on behalf of <paramref name="loader"/>, who must present
    /// <paramref name="authority"/>, a capability to this loader with <see cref="Rights.Manage"/> (refusals are
    /// audited). <paramref name="loaderNamespace"/> is where the manifest's capability paths are looked up. Returns the
    /// module and a control capability (Manage, Read, Delegate) for <see cref="UnloadAsync"/>.
    /// </summary>
    [RequiresUnreferencedCode("Module assemblies are loaded and activated by reflection.")]
    public async Task<Result<(LoadedModule Module, CapabilityToken Control)>> LoadAsync(CapabilityToken authority, string location,
        CapabilityToken loaderNamespace, Principal loader, ModuleLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ModuleLoadOptions();
        // Loading runs code with the kernel's full power: authorise before touching the image.
        if (authority.IsNone)
            return _caps.RecordDenied(loader, authority, Rights.Manage,
                new(ErrorCode.AccessDenied, "loading a native module needs a capability to the module loader with Manage"));
        var self = _caps.Check<ModuleLoader>(authority, Rights.Manage, loader);
        if (!self.IsOk) return self.Error;
        if (!ReferenceEquals(self.Value, this))
            return _caps.RecordDenied(loader, authority, Rights.Manage, new(ErrorCode.AccessDenied, "capability names a different module loader"));
        var nsCheck = _caps.Check<Namespace>(loaderNamespace, Rights.Read, loader);
        if (!nsCheck.IsOk) return nsCheck.Error;

        if (BuiltIns?.Find(location) is { } builtIn) return await StartAsync(builtIn, location, loaderNamespace, loader, options, cancellationToken).ConfigureAwait(false);
        if (!LoadsImages)
            return Errors.Of(ErrorCode.NotSupported, $"'{location}': this kernel loads no module images (an ahead-of-time build cannot); " +
                (BuiltIns is { Names.Count: > 0 } b ? $"its built-in modules are {string.Join(", ", b.Names)}" : "it has no built-in modules"));

        var image = _images.ReadModule(location);
        if (!image.IsOk) return image.Error;
        var images = ModuleImageSet.Read(_images, location, image.Value, Pins);
        if (!images.IsOk)
        {
            // A pin refusal is a policy denial: on record like any other.
            if (images.Code == ErrorCode.AccessDenied) _caps.RecordDenied(loader, authority, Rights.Manage, images.Error);
            return images.Error;
        }

        // Load the code and read the manifest before any capability exists.
        var alc = new ModuleLoadContext(images.Value.AssemblyName, images.Value.Dependencies);
        Assembly assembly;
        ModuleManifest manifest;
        Type entryType;
        try
        {
            using (var stream = new MemoryStream(image.Value, writable: false)) assembly = alc.LoadFromStream(stream);
            var m = ModuleManifest.Read(assembly);
            if (!m.IsOk) { alc.Unload(); return m.Error; }
            (manifest, entryType) = m.Value;
        }
        catch (BadImageFormatException e) { alc.Unload(); return Errors.Of(ErrorCode.Corrupted, $"'{location}' is not a valid assembly: {e.Message}"); }
        catch (PlatformNotSupportedException e) { alc.Unload(); return Errors.Of(ErrorCode.NotSupported, $"'{location}' cannot be loaded by this runtime: {e.Message}"); }
        catch (Exception e) when (e is FileLoadException or TypeLoadException or ReflectionTypeLoadException)
        {
            alc.Unload();
            return Errors.Of(ErrorCode.ModuleFault, $"'{location}' cannot be loaded: {e.Message}");
        }

        var module = new LoadedModule(manifest.Name, location, manifest, alc, images.Value.Digest);
        return await StartAsync(module, entryType, () => (IKernelModule)Activator.CreateInstance(entryType)!, loaderNamespace, loader, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a built-in module: its manifest is read from the compiled-in assembly; the rest is a load's.</summary>
    private async Task<Result<(LoadedModule Module, CapabilityToken Control)>> StartAsync(BuiltInModule builtIn, string location,
        CapabilityToken loaderNamespace, Principal loader, ModuleLoadOptions options, CancellationToken cancellationToken)
    {
        var m = ModuleManifest.Read(builtIn.Assembly);
        if (!m.IsOk) return m.Error;
        var module = new LoadedModule(m.Value.Manifest.Name, location, m.Value.Manifest, alc: null, LoadedModule.BuiltInDigest);
        return await StartAsync(module, m.Value.EntryType, builtIn.Create, loaderNamespace, loader, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Registers, grants, spawns and starts a module whose code is in memory (loaded or built in).</summary>
    private async Task<Result<(LoadedModule Module, CapabilityToken Control)>> StartAsync(LoadedModule module,
        Type entryType, Func<IKernelModule> create,
        CapabilityToken loaderNamespace, Principal loader, ModuleLoadOptions options, CancellationToken cancellationToken)
    {
        var manifest = module.Manifest;
        var alc = module.LoadContext;
        lock (_lock)
        {
            if (_running.ContainsKey(manifest.Name))
            {
                alc?.Unload();
                return Errors.Of(ErrorCode.AlreadyExists, $"module '{manifest.Name}' is already loaded");
            }
            _running[manifest.Name] = module;
        }
        var control = _caps.Create(module, Rights.Manage | Rights.Read | Rights.Delegate, loader);
        if (!control.IsOk) { await TeardownAsync(module, loader).ConfigureAwait(false); Forget(module); return control.Error; }

        var setup = Grant(module, loaderNamespace, loader, options);
        if (!setup.IsOk)
        {
            Log(LogLevel.Warn, module, $"refused: {setup.Error}");
            await TeardownAsync(module, loader).ConfigureAwait(false);
            Forget(module);
            _caps.Revoke(control.Value);
            return setup.Error;
        }

        IKernelModule entry;
        try
        {
            entry = create();
            if (entry.GetType() != entryType) throw new InvalidOperationException($"made a {entry.GetType().Name}, the manifest names {entryType.Name}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var err = new KernelError(ErrorCode.ModuleFault, $"module '{manifest.Name}': constructor threw {Inner(e).GetType().Name}: {Inner(e).Message}");
            await FaultAsync(module, err, loader).ConfigureAwait(false);
            _caps.Revoke(control.Value);
            return err;
        }
        module.Entry = entry;

        var ctx = module.Context!;
        var started = await RunBoundedAsync(ct => entry.StartAsync(ctx, ct), StartTimeout, "start", module.Name, cancellationToken).ConfigureAwait(false);
        if (!started.IsOk)
        {
            await FaultAsync(module, started.Error, loader).ConfigureAwait(false);
            _caps.Revoke(control.Value);
            return started.Error;
        }
        module.State = ModuleState.Running;
        Log(LogLevel.Info, module, $"started (pid {module.Pid}, {manifest.Capabilities.Count} capabilities: " +
            string.Join(", ", manifest.Capabilities.Select(c => $"{c.LocalName}={c.Path} {c.Rights.ToShortString()}")) + ")");
        return (module, control.Value);
    }

    /// <summary>
    /// Stops and unloads the module the control capability names (needs <see cref="Rights.Manage"/>). Teardown always
    /// completes: if StopAsync throws or hangs the module is marked faulted, the error is returned, and its capabilities,
    /// memory and code are released all the same.
    /// </summary>
    public async Task<Result> UnloadAsync(CapabilityToken control, Principal actor = default, CancellationToken cancellationToken = default)
    {
        var m = _caps.Check<LoadedModule>(control, Rights.Manage, actor);
        if (!m.IsOk) return m.Error;
        var module = m.Value;
        IKernelModule? entry;
        lock (module.Gate)
        {
            if (module.State != ModuleState.Running) return Result.Fail(ErrorCode.Busy, $"module '{module.Name}' is {module.State}");
            var inUse = SealExports(module);
            if (!inUse.IsOk) return inUse;
            module.State = ModuleState.Stopping;
            entry = module.Entry;
        }
        var stopped = entry is null
            ? Result.Ok
            : await RunBoundedAsync(entry.StopAsync, StopTimeout, "stop", module.Name, cancellationToken).ConfigureAwait(false);
        entry = null;
        if (!stopped.IsOk)
        {
            await FaultAsync(module, stopped.Error, actor).ConfigureAwait(false);
        }
        else
        {
            await TeardownAsync(module, actor).ConfigureAwait(false);
            module.State = ModuleState.Unloaded;
            Forget(module);
            Log(LogLevel.Info, module, "unloaded");
        }
        // The module object itself goes away with its last capability.
        _caps.RevokeFromRoot(control, actor);
        return stopped;
    }

    // ---- internals ----

    /// <summary>
    /// Refuses the unload (Busy, nothing changed) while anything holds the module's code beyond one call — a
    /// filesystem mounted through its driver — as Linux refuses rmmod of a filesystem module with mounts. Otherwise
    /// seals every export, so no such reference can be taken from here on (a mount finishing meanwhile is refused).
    /// </summary>
    private static Result SealExports(LoadedModule module)
    {
        var exports = module.Context?.Exports ?? [];
        for (int i = 0; i < exports.Length; i++)
        {
            if (exports[i].TrySeal(out int holds)) continue;
            for (int j = 0; j < i; j++) exports[j].Unseal();
            return Result.Fail(ErrorCode.Busy,
                $"module '{module.Name}' is in use: {holds} filesystem{(holds == 1 ? "" : "s")} mounted through it (unmount first)");
        }
        return Result.Ok;
    }

    /// <summary>Creates the module's namespace, binds its grants, spawns its process and builds its context.</summary>
    private Result Grant(LoadedModule module, CapabilityToken loaderNamespace, Principal loader, ModuleLoadOptions options)
    {
        var ns = _namespaces.CreateChild(_modulesNamespace, module.Name);
        if (!ns.IsOk) return ns.Error;
        module.NamespaceCapability = ns.Value;
        foreach (var req in module.Manifest.Capabilities)
        {
            // The loader's own binding must carry every requested right (Lookup checks), and Bind derives with exactly
            // those rights, which needs Delegate on it: a module never gets more than its loader may hand on.
            var source = _namespaces.Lookup(loaderNamespace, req.Path, req.Rights, loader);
            if (!source.IsOk)
                return Errors.Of(source.Code, $"module '{module.Name}' asks for {req.Path} ({req.Rights.ToShortString()}): {source.Error.Message}");
            var bound = _namespaces.Bind(ns.Value, req.LocalName, source.Value, req.Rights, loader);
            if (!bound.IsOk)
                return Errors.Of(bound.Code, $"module '{module.Name}' asks for {req.Path} ({req.Rights.ToShortString()}): {bound.Error.Message}");
        }
        var spawned = _processes.Spawn(module.Name, ns.Value, Rights.Read | Rights.Enumerate);
        if (!spawned.IsOk) return spawned.Error;
        var (process, processControl) = spawned.Value;
        module.Process = process;
        module.ProcessControl = processControl;
        var grants = new Dictionary<string, Handle>(StringComparer.Ordinal);
        foreach (var req in module.Manifest.Capabilities)
        {
            var h = process.Open(req.LocalName, req.Rights);
            if (!h.IsOk) return h.Error;
            grants[req.LocalName] = h.Value;
        }
        var nsForModule = _caps.Derive(ns.Value, Rights.Read | Rights.Enumerate | Rights.Bind, process.Principal);
        if (!nsForModule.IsOk) return nsForModule.Error;
        var nsHandle = process.AddHandle(nsForModule.Value);
        if (!nsHandle.IsOk) return nsHandle.Error;
        module.Context = new ModuleContext(module.Name, process, nsHandle.Value, grants, options.Arguments, _timers, _log)
        {
            Sys = Sys ??= new Syscalls.SyscallTable(_processes, new Ipc.IpcManager(_caps, _namespaces, _timers)),
        };
        return Result.Ok;
    }

    /// <summary>Runs a module entry point with a kernel-timer deadline; exceptions and hangs become typed errors.</summary>
    private async Task<Result> RunBoundedAsync(Func<CancellationToken, Task<Result>> body, TimeSpan timeout, string what, string name,
        CancellationToken cancellationToken)
    {
        using var moduleCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<Result>? task;
        try { task = body(moduleCts.Token); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.ModuleFault, $"module '{name}': {what} threw {e.GetType().Name}: {e.Message}");
        }
        if (task is null) return Errors.Of(ErrorCode.ModuleFault, $"module '{name}': {what} returned no task");
        using var timerCts = new CancellationTokenSource();
        var deadline = _timers.Delay(timeout, timerCts.Token);
        var first = await Task.WhenAny(task, deadline).ConfigureAwait(false);
        if (first != task)
        {
            moduleCts.Cancel();
            // Whatever the abandoned task does later must not surface as an unobserved exception.
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            if (cancellationToken.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, $"module '{name}': {what} cancelled");
            return Errors.Of(ErrorCode.TimedOut, $"module '{name}': {what} did not finish within {timeout.TotalMilliseconds:F0} ms");
        }
        timerCts.Cancel();
        try
        {
            var r = await task.ConfigureAwait(false);
            return r.IsOk ? r : Errors.Of(ErrorCode.ModuleFault, $"module '{name}': {what} failed: {r.Error}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.ModuleFault, $"module '{name}': {what} threw {e.GetType().Name}: {e.Message}");
        }
    }

    private async Task FaultAsync(LoadedModule module, KernelError error, Principal actor)
    {
        module.Fault = error;
        module.State = ModuleState.Faulted;
        Log(LogLevel.Error, module, $"faulted: {error}");
        await TeardownAsync(module, actor).ConfigureAwait(false);
        lock (_lock)
        {
            _running.Remove(module.Name);
            _faulted.Enqueue(module);
            while (_faulted.Count > MaxFaultRecords) _faulted.Dequeue();
        }
    }

    private void Forget(LoadedModule module)
    {
        lock (_lock)
        {
            if (_running.TryGetValue(module.Name, out var m) && ReferenceEquals(m, module)) _running.Remove(module.Name);
        }
    }

    /// <summary>Revokes everything the module was given or created, then unloads its code.</summary>
    private async Task TeardownAsync(LoadedModule module, Principal actor)
    {
        var exports = module.Context?.Exports ?? [];
        if (module.Process is not null)
        {
            // Destroying the process revokes every handle (grants, adopted capabilities, memory regions) and cancels
            // its tasks; bounded so a module task that ignores cancellation cannot stall the kernel.
            using var cts = new CancellationTokenSource();
            var destroy = _processes.DestroyAsync(module.ProcessControl);
            var deadline = _timers.Delay(TeardownTimeout, cts.Token);
            var first = await Task.WhenAny(destroy, deadline).ConfigureAwait(false);
            cts.Cancel();
            if (first != destroy) Log(LogLevel.Warn, module, "its tasks ignored cancellation; abandoned");
            else if (destroy.Result is { IsOk: false } r) Log(LogLevel.Warn, module, $"process teardown: {r.Error}");
        }
        InterleavingSeam.Point(); // a caller may have found an export before the revoke and be about to enter it
        if (exports.Length > 0)
        {
            // The revokes above closed every export: wait for calls already inside the module's code, bounded like
            // the process teardown (a call that hangs in module code is abandoned, and logged).
            foreach (var e in exports) e.Close();
            using var cts = new CancellationTokenSource();
            var drained = Task.WhenAll(exports.Select(e => e.Drained));
            var deadline = _timers.Delay(TeardownTimeout, cts.Token);
            var first = await Task.WhenAny(drained, deadline).ConfigureAwait(false);
            cts.Cancel();
            if (first != drained) Log(LogLevel.Warn, module, "a call into its exports did not return; abandoned");
        }
        if (!module.NamespaceCapability.IsNone)
        {
            _namespaces.Destroy(module.NamespaceCapability, Principal.Kernel);
            _namespaces.Unbind(_modulesNamespace, module.Name, Principal.Kernel);
        }
        lock (module.Gate)
        {
            module.Entry = null;
            module.Context = null;
            module.Process = null;
            module.NamespaceCapability = CapabilityToken.None;
            module.ProcessControl = CapabilityToken.None;
            module.LoadContext?.Unload();
            module.LoadContext = null;
        }
    }

    private static Exception Inner(Exception e) => e is TargetInvocationException { InnerException: { } i } ? i : e;

    private void Log(LogLevel level, LoadedModule module, string message) => _log?.Write(level, $"module:{module.Name}", message);
}
