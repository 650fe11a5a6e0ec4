using System.Diagnostics;
using Photon.Kernel;

namespace Photon.Sandbox;

/// <summary>A tenant's use of the sandbox, checked against its quota. Every reservation has exactly one release.</summary>
public sealed class TenantUsage(string tenant, TenantQuota quota)
{
    private readonly Lock _lock = new();
    private int _killed;

    public string Tenant { get; } = tenant;
    public TenantQuota Quota { get; } = quota;
    public int Instances { get; private set; }
    public long MemoryBytes { get; private set; }

    /// <summary>Bytes of compiled code the module cache holds for this tenant.</summary>
    public long CompiledBytes { get; private set; }

    public int Killed => Volatile.Read(ref _killed);

    internal void CountKill() => Interlocked.Increment(ref _killed);

    internal Result TryReserve(long memory)
    {
        if (memory < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative memory reservation");
        lock (_lock)
        {
            if (Instances >= Quota.MaxInstances) return Result.Fail(ErrorCode.QuotaExceeded, $"{Tenant} already runs {Instances} instances (quota {Quota.MaxInstances})");
            if (memory > Quota.MaxMemoryBytes - MemoryBytes) return Result.Fail(ErrorCode.QuotaExceeded, $"{Tenant} would use {MemoryBytes + memory} bytes of guest memory (quota {Quota.MaxMemoryBytes})");
            Instances++;
            MemoryBytes += memory;
            return Result.Ok;
        }
    }

    internal void Release(long memory)
    {
        lock (_lock)
        {
            Debug.Assert(Instances > 0 && memory <= MemoryBytes, "release without a reservation");
            Instances = Math.Max(0, Instances - 1);
            MemoryBytes = Math.Max(0, MemoryBytes - memory);
        }
    }

    /// <summary>Whether <paramref name="bytes"/> more compiled code fits the tenant's share.</summary>
    internal bool CompiledFits(long bytes)
    {
        lock (_lock) return bytes <= Quota.MaxCompiledBytes - CompiledBytes;
    }

    internal void ChargeCompiled(long bytes)
    {
        lock (_lock) CompiledBytes += bytes;
    }

    internal void RefundCompiled(long bytes)
    {
        lock (_lock)
        {
            Debug.Assert(bytes <= CompiledBytes, "compiled-code refund exceeds the charge");
            CompiledBytes = Math.Max(0, CompiledBytes - bytes);
        }
    }
}
