using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// Memory system calls: regions are allocated into the caller's handle table and charged to its tenant; every other
/// call resolves a region handle with the right it needs (Read, Write, Map, Delegate, Manage) first.
/// </summary>
public sealed class MemorySyscalls(MemoryManager memory)
{
    /// <summary>Allocates a zeroed region of at least <paramref name="bytes"/> (whole pages), charged to the caller.</summary>
    public Result<Handle> Allocate(Process caller, long bytes)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.allocate");
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var r = memory.Allocate(bytes, caller.Principal, $"mem@{caller.Principal.Name}");
        return r.IsOk ? caller.AddHandle(r.Value) : r.Error;
    }

    /// <summary>The region's length in bytes (any right).</summary>
    public Result<long> Length(Process caller, Handle region)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.length");
        var r = caller.Get<MemoryRegion>(region, Rights.None);
        return r.IsOk ? r.Value.Length : r.Error;
    }

    public Result Read(Process caller, Handle region, long offset, Span<byte> destination)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.read");
        var r = caller.GetWithToken<MemoryRegion>(region, Rights.Read);
        return r.IsOk ? memory.Read(r.Value.Token, offset, destination, caller.Principal) : r.Error;
    }

    public Result Write(Process caller, Handle region, long offset, ReadOnlySpan<byte> source)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.write");
        var r = caller.GetWithToken<MemoryRegion>(region, Rights.Write);
        return r.IsOk ? memory.Write(r.Value.Token, offset, source, caller.Principal) : r.Error;
    }

    /// <summary>Maps the region (needs Map; writable with Write too). Revoking the handle's capability, or any it was
    /// derived from, makes every later access through the mapping fail with Revoked.</summary>
    public Result<RegionMapping> Map(Process caller, Handle region)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.map");
        var r = caller.GetWithToken<MemoryRegion>(region, Rights.Map);
        return r.IsOk ? memory.Map(r.Value.Token, caller.Principal) : r.Error;
    }

    /// <summary>A new handle to the same region with only Read|Map (needs Delegate): what a process lends read-only.</summary>
    public Result<Handle> ShareReadOnly(Process caller, Handle region)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.share_read_only");
        var r = caller.GetWithToken<MemoryRegion>(region, Rights.Delegate);
        if (!r.IsOk) return r.Error;
        var shared = memory.ShareReadOnly(r.Value.Token, caller.Principal, caller.Principal);
        return shared.IsOk ? caller.AddHandle(shared.Value) : shared.Error;
    }

    /// <summary>Splits a region at a page boundary (needs Manage). Every capability to the original dies, including
    /// delegated ones and mappings; the caller gets handles to both halves. The original handle is closed.</summary>
    public Result<(Handle Low, Handle High)> Split(Process caller, Handle region, long atBytes)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.split");
        var r = caller.GetWithToken<MemoryRegion>(region, Rights.Manage);
        if (!r.IsOk) return r.Error;
        var halves = memory.Split(r.Value.Token, atBytes, caller.Principal);
        if (!halves.IsOk) return halves.Error;
        caller.Handles.Remove(region);
        var lo = caller.AddHandle(halves.Value.Low);
        var hi = caller.AddHandle(halves.Value.High);
        if (lo.IsOk && hi.IsOk) return (lo.Value, hi.Value);
        // Handle table full: give back both halves rather than leak one.
        if (lo.IsOk) caller.Close(lo.Value);
        if (hi.IsOk) caller.Close(hi.Value);
        return lo.IsOk ? hi.Error : lo.Error;
    }

    /// <summary>Frees a region (needs Manage): every capability to it dies and its frames return.</summary>
    public Result Free(Process caller, Handle region)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.mem.free");
        var t = caller.TokenOf(region);
        if (!t.IsOk) return t.Error;
        var r = memory.Free(t.Value, caller.Principal);
        if (r.IsOk) caller.Handles.Remove(region);
        return r;
    }
}
