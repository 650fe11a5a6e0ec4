using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Io;
using Photon.Kernel.Modules;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// The kernel's table of filesystem drivers. Filesystem modules register their driver with a capability to the
/// registry that carries <see cref="Rights.Bind"/> and get back a registration capability: revoking it (or unloading
/// the module, which revokes everything the module holds) removes the driver. Mounting code reads the registry with
/// <see cref="Rights.Read"/> and probes devices against every registered driver.
/// </summary>
public sealed class FileSystemRegistry : KernelObject
{
    public override ObjectKind Kind => ObjectKind.FileSystemRegistry;

    public const int MaxDrivers = 64;

    private readonly CapabilityManager _caps;
    private readonly Lock _lock = new();
    private readonly List<DriverRegistration> _registrations = new();

    public FileSystemRegistry(CapabilityManager caps) : base("filesystems")
    {
        _caps = caps;
        Capability = caps.Create(this, Rights.Read | Rights.Bind | Rights.Enumerate | Rights.Delegate | Rights.Manage, Principal.Kernel).Value;
    }

    /// <summary>The kernel's capability to the registry (bind it into namespaces with fewer rights).</summary>
    internal CapabilityToken Capability { get; }

    /// <summary>
    /// Registers <paramref name="driver"/> (needs <see cref="Rights.Bind"/>). Returns a registration capability held
    /// by <paramref name="actor"/>; revoking it unregisters the driver.
    /// </summary>
    public Result<CapabilityToken> Register(CapabilityToken registry, IFileSystemDriver driver, Principal actor)
    {
        if (driver is null) return Errors.Of(ErrorCode.InvalidArgument, "no driver");
        var me = _caps.Check<FileSystemRegistry>(registry, Rights.Bind, actor);
        if (!me.IsOk) return me.Error;
        if (!ReferenceEquals(me.Value, this)) return Errors.Of(ErrorCode.WrongObjectType, "capability names another registry");
        string type;
        try { type = driver.TypeName; }
        catch (Exception e) when (e is not OutOfMemoryException) { return Errors.Of(ErrorCode.ModuleFault, $"driver TypeName threw {e.GetType().Name}"); }
        if (string.IsNullOrEmpty(type) || type.Length > 32 || !type.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
            return Errors.Of(ErrorCode.InvalidName, $"'{type}' is not a filesystem type name (a-z, 0-9, '-', '_', at most 32)");
        var registration = new DriverRegistration(this, type, driver, actor);
        lock (_lock)
        {
            if (_registrations.Any(r => r.TypeName == type)) return Errors.Of(ErrorCode.AlreadyExists, $"a '{type}' driver is already registered");
            if (_registrations.Count >= MaxDrivers) return Errors.Of(ErrorCode.QuotaExceeded, "too many filesystem drivers");
            _registrations.Add(registration);
        }
        var cap = _caps.Create(registration, Rights.Manage | Rights.Read, actor);
        if (!cap.IsOk) { Remove(registration); return cap.Error; }
        return cap.Value;
    }

    /// <summary>Unregisters the driver the registration capability names (needs <see cref="Rights.Manage"/>).</summary>
    public Result Unregister(CapabilityToken registration, Principal actor)
    {
        var r = _caps.Check<DriverRegistration>(registration, Rights.Manage, actor);
        if (!r.IsOk) return r.Error;
        return _caps.Revoke(registration, actor).AsResult();
    }

    /// <summary>Registered type names, in registration order.</summary>
    public IReadOnlyList<string> TypeNames
    {
        get { lock (_lock) return _registrations.Select(r => r.TypeName).ToArray(); }
    }

    /// <summary>The driver registered for <paramref name="typeName"/> (needs <see cref="Rights.Read"/>).</summary>
    public Result<IFileSystemDriver> Find(CapabilityToken registry, string typeName, Principal actor = default)
    {
        var me = _caps.Check<FileSystemRegistry>(registry, Rights.Read, actor);
        if (!me.IsOk) return me.Error;
        DriverRegistration? reg;
        lock (_lock) reg = _registrations.FirstOrDefault(r => r.TypeName == typeName);
        InterleavingSeam.Point(); // the driver's module may unload before the caller calls it
        return reg is null ? Errors.Of(ErrorCode.NotFound, $"no '{typeName}' driver is registered") : new RegisteredDriver(reg);
    }

    /// <summary>Asks every registered driver whether it recognises the device; the first that does wins (needs Read).</summary>
    public async ValueTask<Result<IFileSystemDriver>> ProbeAsync(CapabilityToken registry, IBlockDevice device, Principal actor = default,
        CancellationToken ct = default)
    {
        var me = _caps.Check<FileSystemRegistry>(registry, Rights.Read, actor);
        if (!me.IsOk) return me.Error;
        RegisteredDriver[] drivers;
        lock (_lock) drivers = _registrations.Select(r => new RegisteredDriver(r)).ToArray();
        foreach (var d in drivers)
        {
            try { if (await d.ProbeAsync(device, ct).ConfigureAwait(false)) return Result<IFileSystemDriver>.Success(d); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "probe cancelled"); }
            catch (Exception) { /* a driver that throws while probing simply does not recognise the device */ }
        }
        return Errors.Of(ErrorCode.NotSupported, $"no registered filesystem driver recognises {device.Name}");
    }

    internal void Remove(DriverRegistration registration)
    {
        lock (_lock) _registrations.Remove(registration);
    }
}

/// <summary>One registered driver; dropping its last capability unregisters it, closes its call rundown (no new call
/// runs the driver) and lets go of the driver object (so an unloaded module's code is not kept alive by the registry).</summary>
public sealed class DriverRegistration : KernelObject, IModuleExport
{
    public override ObjectKind Kind => ObjectKind.FileSystemDriver;

    private readonly FileSystemRegistry _registry;

    internal DriverRegistration(FileSystemRegistry registry, string typeName, IFileSystemDriver driver, Principal owner)
        : base($"fs-driver:{typeName}")
    {
        _registry = registry;
        TypeName = typeName;
        Driver = driver;
        Owner = owner;
    }

    public string TypeName { get; }
    public Principal Owner { get; }
    internal IFileSystemDriver? Driver { get; private set; }

    /// <summary>Calls into the driver: each enters here, so the module's unload can wait for them.</summary>
    public CallRundown Calls { get; } = new();

    protected override void OnLastCapabilityRevoked()
    {
        Calls.Close();
        _registry.Remove(this);
        Driver = null;
    }
}

/// <summary>
/// What the registry hands callers instead of the module's driver object: every call enters the registration's
/// <see cref="CallRundown"/> first, so a caller that found the driver before its module unloaded gets
/// <see cref="ErrorCode.Revoked"/> (or, probing, "not recognised") instead of running unloaded code.
/// </summary>
internal sealed class RegisteredDriver(DriverRegistration registration) : IFileSystemDriver
{
    public string TypeName => registration.TypeName;

    public async ValueTask<bool> ProbeAsync(IBlockDevice device, CancellationToken ct = default)
    {
        if (!registration.Calls.TryEnter()) return false;
        try { return registration.Driver is { } d && await d.ProbeAsync(device, ct).ConfigureAwait(false); }
        finally { registration.Calls.Exit(); }
    }

    /// <summary>Mounts through the driver; the filesystem it returns holds the module loaded until it is disposed
    /// (unmounted). A mount that finishes after the module's unload began is closed again and answers Revoked.</summary>
    public async ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, CancellationToken ct = default)
    {
        if (!registration.Calls.TryEnter()) return Revoked();
        try
        {
            if (registration.Driver is not { } d) return Revoked();
            var mounted = await d.MountAsync(device, options, ct).ConfigureAwait(false);
            if (!mounted.IsOk) return mounted;
            InterleavingSeam.Point(); // the module's unload may begin while its driver mounts
            if (registration.Calls.TryHold()) return new ModuleHeldFileSystem(mounted.Value, registration.Calls);
            // Still inside the call, so unload waits for this close before it unloads the code.
            try { await mounted.Value.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { /* the mount is refused either way */ }
            return Errors.Of(ErrorCode.Revoked, $"the '{TypeName}' module is unloading; the mount was closed");
        }
        finally { registration.Calls.Exit(); }
    }

    private Result<IFileSystem> Revoked() => Errors.Of(ErrorCode.Revoked, $"the '{TypeName}' driver was unregistered (its module unloaded)");
}
