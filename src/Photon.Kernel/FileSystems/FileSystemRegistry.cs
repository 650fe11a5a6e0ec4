using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;

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
        lock (_lock)
        {
            var reg = _registrations.FirstOrDefault(r => r.TypeName == typeName);
            return reg?.Driver is { } d ? Result<IFileSystemDriver>.Success(d) : Errors.Of(ErrorCode.NotFound, $"no '{typeName}' driver is registered");
        }
    }

    /// <summary>Asks every registered driver whether it recognises the device; the first that does wins (needs Read).</summary>
    public async ValueTask<Result<IFileSystemDriver>> ProbeAsync(CapabilityToken registry, IBlockDevice device, Principal actor = default,
        CancellationToken ct = default)
    {
        var me = _caps.Check<FileSystemRegistry>(registry, Rights.Read, actor);
        if (!me.IsOk) return me.Error;
        IFileSystemDriver[] drivers;
        lock (_lock) drivers = _registrations.Select(r => r.Driver).OfType<IFileSystemDriver>().ToArray();
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

/// <summary>One registered driver; dropping its last capability unregisters it and lets go of the driver object (so an
/// unloaded module's code is not kept alive by the registry).</summary>
public sealed class DriverRegistration : KernelObject
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

    protected override void OnLastCapabilityRevoked()
    {
        _registry.Remove(this);
        Driver = null;
    }
}
