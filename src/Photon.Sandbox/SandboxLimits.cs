using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Sandbox;

/// <summary>CPU and memory limits of one instance. <see cref="Validate"/> runs before anything is reserved.</summary>
public sealed record SandboxLimits(long FuelPerCall = 50_000_000, long MaxMemoryBytes = 4 * 1024 * 1024, int MaxTableElements = 10_000)
{
    /// <summary>More fuel than this per call is a mistake, not a budget (minutes of CPU at Wasmtime's rate).</summary>
    public const long MaxFuel = 100_000_000_000;

    /// <summary>One Wasm page: a guest with a memory needs at least this much.</summary>
    public const long MinMemory = 64 * 1024;

    /// <summary>The whole 32-bit Wasm address space (65,536 pages).</summary>
    public const long MaxMemory = 4L * 1024 * 1024 * 1024;

    public const int MaxTable = 1_000_000;

    public Result Validate()
    {
        // Every value goes to Wasmtime unsigned (fuel is a ulong, the table limit a uint): a negative one would wrap.
        if (FuelPerCall is <= 0 or > MaxFuel)
            return Result.Fail(ErrorCode.InvalidArgument, $"FuelPerCall {FuelPerCall} is outside 1..{MaxFuel}");
        if (MaxMemoryBytes is < MinMemory or > MaxMemory)
            return Result.Fail(ErrorCode.InvalidArgument, $"MaxMemoryBytes {MaxMemoryBytes} is outside {MinMemory}..{MaxMemory}");
        if (MaxTableElements is < 0 or > MaxTable)
            return Result.Fail(ErrorCode.InvalidArgument, $"MaxTableElements {MaxTableElements} is outside 0..{MaxTable}");
        return Result.Ok;
    }
}

/// <summary>
/// What one tenant (a top-level namespace) may use across all its instances: how many run at once, how much guest
/// memory they may reserve, and how many bytes of compiled code the sandbox keeps for it.
/// </summary>
public sealed record TenantQuota(int MaxInstances = 8, long MaxMemoryBytes = 32 * 1024 * 1024, long MaxCompiledBytes = 16 * 1024 * 1024)
{
    public Result Validate()
    {
        if (MaxInstances < 0) return Result.Fail(ErrorCode.InvalidArgument, $"MaxInstances {MaxInstances} is negative");
        if (MaxMemoryBytes < 0) return Result.Fail(ErrorCode.InvalidArgument, $"MaxMemoryBytes {MaxMemoryBytes} is negative");
        if (MaxCompiledBytes < 0) return Result.Fail(ErrorCode.InvalidArgument, $"MaxCompiledBytes {MaxCompiledBytes} is negative");
        return Result.Ok;
    }
}

/// <summary>A capability granted to a guest: bound at <paramref name="Name"/> in the instance's own namespace.</summary>
public sealed record SandboxGrant(string Name, CapabilityToken Capability, Rights Rights);
