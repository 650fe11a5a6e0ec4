using System.Reflection;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Security;

/// <summary>What the kernel holds, for "everything came back" checks: live capabilities, free frames, and each
/// tenant's quota usage (memory, tasks, capabilities).</summary>
internal sealed record KernelFootprint(long LiveCapabilities, long FreeFrames, IReadOnlyList<QuotaUsage> Tenants)
{
    public bool Equals(KernelFootprint? other) =>
        other is not null && LiveCapabilities == other.LiveCapabilities && FreeFrames == other.FreeFrames && Tenants.SequenceEqual(other.Tenants);

    public override int GetHashCode() => HashCode.Combine(LiveCapabilities, FreeFrames, Tenants.Count);

    public override string ToString() =>
        $"caps {LiveCapabilities}, free frames {FreeFrames}, " + string.Join("; ", Tenants.Select(t => $"{t.Tenant}: {t.MemoryBytes} B, {t.Tasks} tasks, {t.Capabilities} caps"));
}

/// <summary>
/// A kernel wired the way boot wires it (capabilities with an audit sink, namespaces, memory, processes, IPC whose
/// unreachable cycles are collected after every teardown, tenant quotas) for the security regression tests of issue
/// #9. Tests act as processes through <see cref="Sys"/> (the real syscall layer) or the <see cref="SyscallShims"/>.
/// </summary>
internal sealed class SecurityKernel : IDisposable
{
    private readonly Dictionary<string, CapabilityToken> _tenants = new(StringComparer.Ordinal);

    public SecurityKernel(long memoryBytes = 32 * 1024 * 1024, bool audit = true)
    {
        Physical = new PhysicalMemory(memoryBytes);
        Audit = audit ? new InMemoryAuditSink() : null;
        Caps = new CapabilityManager(Audit);
        Namespaces = new NamespaceManager(Caps);
        Memory = new MemoryManager(Physical, Caps);
        Processes = new ProcessManager(Caps, Namespaces, Memory);
        Ipc = new IpcManager(Caps, Namespaces, new HostTimers(new HostClock()));
        Processes.ProcessDestroyed += () => Ipc.CollectUnreachable();
        Quotas.Attach(Caps, Memory, Processes, Ipc, Namespaces);
        Sys = new SyscallTable(Processes, Ipc);
    }

    public PhysicalMemory Physical { get; }
    public InMemoryAuditSink? Audit { get; }
    public CapabilityManager Caps { get; }
    public NamespaceManager Namespaces { get; }
    public MemoryManager Memory { get; }
    public ProcessManager Processes { get; }
    public IpcManager Ipc { get; }
    public TenantQuotas Quotas { get; } = new();
    public SyscallTable Sys { get; }

    /// <summary>The all-rights capability to a top-level tenant namespace, created on first use.</summary>
    public CapabilityToken Tenant(string name)
    {
        if (!_tenants.TryGetValue(name, out var t)) _tenants[name] = t = Namespaces.CreateChild(Namespaces.RootCapability, name).Value;
        return t;
    }

    public Process Spawn(string name, CapabilityToken ns, Rights nsRights = Rights.Read | Rights.Enumerate) => SpawnWithControl(name, ns, nsRights).Process;

    public (Process Process, CapabilityToken Control) SpawnWithControl(string name, CapabilityToken ns, Rights nsRights = Rights.Read | Rights.Enumerate) =>
        Processes.Spawn(name, ns, nsRights).Value;

    public Task<Result> DestroyAsync(CapabilityToken control) => Processes.DestroyAsync(control);

    /// <summary>Moves a handle out of one process's table into another's, re-issued to and charged to the receiver —
    /// what a spawner does when it hands a new process one end of a channel.</summary>
    public Handle Give(Process from, Handle h, Process to)
    {
        var token = from.Handles.Remove(h).Value;
        var moved = Caps.MoveForKernel(token, to.Principal, to.Principal).Value;
        return to.AddHandle(moved).Value;
    }

    /// <summary>A channel whose first end <paramref name="a"/> holds and whose second end <paramref name="b"/> holds.</summary>
    public (Handle A, Handle B) Channel(Process a, Process b, int depth = IpcManager.DefaultDepth)
    {
        var (x, y) = Sys.Channels.CreateChannel(a, depth).Value;
        return ReferenceEquals(a, b) ? (x, y) : (x, Give(a, y, b));
    }

    public KernelFootprint Footprint() =>
        new(Caps.LiveCount, Physical.FreeFrames, _tenants.Keys.Order(StringComparer.Ordinal).Select(t => Quotas.Usage("/" + t)).ToArray());

    /// <summary>Audit events recorded since <paramref name="mark"/> (a count taken from <see cref="AuditMark"/>).</summary>
    public IReadOnlyList<CapabilityAuditEvent> AuditSince(long mark)
    {
        var all = Audit!.Snapshot();
        long first = Audit.TotalRecorded - all.Count;
        return all.Skip((int)Math.Max(0, mark - first)).ToArray();
    }

    public long AuditMark => Audit!.TotalRecorded;

    public void Dispose() => Physical.Dispose();
}

/// <summary>
/// Reads the buddy allocator's private bookkeeping (its per-frame bitmap and free lists) so a test can check that no
/// frame is both free and reachable through a live mapping. Test-only: the kernel exposes no such view.
/// </summary>
internal static class FrameProbe
{
    private static readonly FieldInfo Allocated = typeof(PhysicalMemory).GetField("_allocated", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._allocated not found: update FrameProbe");
    private static readonly FieldInfo FreeLists = typeof(PhysicalMemory).GetField("_freeLists", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._freeLists not found: update FrameProbe");
    private static readonly FieldInfo Cache = typeof(PhysicalMemory).GetField("_cache", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._cache not found: update FrameProbe");
    private static readonly FieldInfo Cached = typeof(PhysicalMemory).GetField("_cached", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._cached not found: update FrameProbe");
    private static readonly FieldInfo Lock = typeof(PhysicalMemory).GetField("_lock", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._lock not found: update FrameProbe");
    private static readonly FieldInfo FreeCount = typeof(PhysicalMemory).GetField("_freeFrames", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("PhysicalMemory._freeFrames not found: update FrameProbe");

    /// <summary>Per frame: true if it lies in a block on a free list or in the frame cache. Also checks that the bitmap and the free lists
    /// agree with each other and with <see cref="PhysicalMemory.FreeFrames"/>.</summary>
    public static bool[] FreeMap(PhysicalMemory phys)
    {
        // The allocator's lock is not reentrant: read the free count's field under it, not FreeFrames.
        using (((AllocatorSpinLock)Lock.GetValue(phys)!).Enter())
        {
            var bits = (ulong[])Allocated.GetValue(phys)!;
            var lists = (HashSet<long>[])FreeLists.GetValue(phys)!;
            var cache = (long[][])Cache.GetValue(phys)!;
            var cached = (int[])Cached.GetValue(phys)!;
            var free = new bool[phys.TotalFrames];
            long onLists = 0;
            void MarkFree(long start, int order)
            {
                for (long f = start; f < start + (1L << order); f++)
                {
                    if (free[f]) throw new InvalidOperationException($"frame {f} is on two free lists (or cached twice)");
                    free[f] = true;
                    onLists++;
                }
            }
            for (int order = 0; order < lists.Length; order++)
                foreach (long start in lists[order]) MarkFree(start, order);
            for (int order = 0; order < cache.Length; order++)
                for (int i = 0; i < cached[order]; i++) MarkFree(cache[order][i], order);
            for (long f = 0; f < phys.TotalFrames; f++)
            {
                bool allocated = (bits[f >> 6] & (1UL << (int)(f & 63))) != 0;
                if (allocated == free[f]) throw new InvalidOperationException($"frame {f}: allocated={allocated} but on a free list={free[f]}");
            }
            long freeFrames = (long)FreeCount.GetValue(phys)!;
            if (onLists != freeFrames) throw new InvalidOperationException($"free lists hold {onLists} frames, FreeFrames says {freeFrames}");
            return free;
        }
    }
}
