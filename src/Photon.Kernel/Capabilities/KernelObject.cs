namespace Photon.Kernel.Capabilities;

/// <summary>
/// What a kernel object is, for audit records and listings: one member per concrete object type, declared by the type
/// itself (<see cref="KernelObject.Kind"/> is abstract), so a TCP connection can never be recorded as an IPC channel.
/// <c>ObjectKindTests</c> checks that no two object types share a kind.
/// </summary>
public enum ObjectKind
{
    Generic,
    MemoryRegion,
    Namespace,
    Process,
    /// <summary>One end of an IPC channel.</summary>
    Channel,
    IpcListener,
    /// <summary>An open file.</summary>
    File,
    Mount,
    FileSystemRegistry,
    FileSystemDriver,
    /// <summary>The block driver over platform storage (disk images on the host, a USB stick's SCSI disk).</summary>
    BlockDevice,
    /// <summary>A namespace of a real NVMe controller on the PCI bus.</summary>
    NvmeDisk,
    /// <summary>A NIC driver instance.</summary>
    NetworkInterface,
    /// <summary>A range of TCP or UDP ports a process may bind.</summary>
    PortGrant,
    /// <summary>The right to open outbound connections.</summary>
    NetworkAccess,
    TcpListener,
    TcpConnection,
    UdpSocket,
    Module,
    ModuleLoader,
    Sandbox,
    /// <summary>A device-written DMA buffer lent read-only to a consumer (zero-copy reads).</summary>
    DmaLoan,
    /// <summary>The right to start and stop the kernel's trace session.</summary>
    TraceControl,
    /// <summary>The right to see kernel-wide figures (run queues, device queues, memory).</summary>
    SystemMonitor,
    /// <summary>The right to look names up through the kernel's DNS stub resolver.</summary>
    DnsResolver,
}

/// <summary>
/// Anything a capability can name. Kernel objects are reachable only through capabilities; when the last capability
/// naming an object is revoked the object is told so it can release what it holds (memory, ports, devices).
/// </summary>
public abstract class KernelObject
{
    private static long s_nextObjectId;
    private int _liveCapabilities;

    private readonly string? _label;

    /// <param name="label">The object's name in audit records and listings; null to build it only when first asked
    /// (<see cref="DefaultLabel"/>), for objects created on a fast path.</param>
    protected KernelObject(string? label)
    {
        _label = label;
    }

    /// <summary>The object's type, as audit records and listings name it.</summary>
    public abstract ObjectKind Kind { get; }
    public string Label => _label ?? DefaultLabel();

    /// <summary>The label of an object created without one; built on each read (audit records, listings), so a
    /// fast path that creates many objects formats no string per object.</summary>
    protected virtual string DefaultLabel() => Kind.ToString();

    private long _objectId;

    /// <summary>A number unique among this kernel's objects, drawn when first read (listings, audit text), not at
    /// creation: an object created and destroyed on a fast path (a region allocated and freed) costs no shared atomic
    /// increment. Unique, but not in creation order.</summary>
    public long ObjectId
    {
        get
        {
            long id = Volatile.Read(ref _objectId);
            if (id != 0) return id;
            Interlocked.CompareExchange(ref _objectId, Interlocked.Increment(ref s_nextObjectId), 0);
            return Volatile.Read(ref _objectId);
        }
    }

    /// <summary>Number of unrevoked capabilities naming this object.</summary>
    public int LiveCapabilities => Volatile.Read(ref _liveCapabilities);

    /// <summary>True once every capability naming the object has been revoked.</summary>
    public bool IsDestroyed { get; private set; }

    internal void CapabilityIssued() => _liveCapabilities++;

    private int _inFlight;

    /// <summary>Capabilities to this object that sit in IPC messages not yet received. Live minus in-flight is how
    /// many holders outside message queues keep the object reachable (the IPC cycle collector's roots).</summary>
    internal int InFlightCapabilities => Volatile.Read(ref _inFlight);

    internal void AddInFlight(int delta) => Interlocked.Add(ref _inFlight, delta);

    /// <summary>Returns true when this was the last capability; the manager then calls <see cref="NotifyDestroyed"/>
    /// after releasing its lock.</summary>
    internal bool CapabilityRevoked()
    {
        if (--_liveCapabilities != 0) return false;
        IsDestroyed = true;
        return true;
    }

    internal void NotifyDestroyed() => OnLastCapabilityRevoked();

    /// <summary>Called (outside the capability manager's lock, so it may revoke other capabilities) when no capability
    /// names the object any more.</summary>
    protected virtual void OnLastCapabilityRevoked() { }

    public override string ToString() => $"{Kind}#{ObjectId}({Label})";
}

/// <summary>A plain object for tests and simple services that only need identity.</summary>
public sealed class GenericObject(string label) : KernelObject(label)
{
    public override ObjectKind Kind => ObjectKind.Generic;
}
