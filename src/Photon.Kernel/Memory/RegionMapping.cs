using System.Buffers;
using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Memory;

/// <summary>
/// Zero-copy access to a region for a holder of <see cref="Rights.Map"/>, tied to the capability it was made
/// through: every access re-checks that capability (revoking it, or any capability it was derived from, makes the
/// next access fail with <see cref="ErrorCode.Revoked"/>) and runs under the region's gate, so the frames cannot be
/// reclaimed during it. The bytes are lent to a callback as a span that cannot outlive the call — there is no raw
/// span to keep. Dispose to unmap.
/// </summary>
public sealed class RegionMapping : IDisposable
{
    private readonly PhysicalMemory _physical;
    private readonly CapabilityManager _caps;
    private readonly CapabilityToken _through;
    private readonly Principal _holder;
    private MemoryRegion? _region;

    internal RegionMapping(PhysicalMemory physical, CapabilityManager caps, MemoryRegion region, CapabilityToken through, Principal holder, bool writable)
    {
        _physical = physical;
        _caps = caps;
        _region = region;
        _through = through;
        _holder = holder;
        IsWritable = writable;
        Length = region.Length;
    }

    public bool IsWritable { get; }
    public long Length { get; }

    /// <summary>True while the mapping is open and the capability it was made through is live.</summary>
    public bool IsValid => _region is { IsReclaimed: false } && _caps.Check(_through, Rights.Map, _holder).IsOk;

    /// <summary>Copies bytes out of the mapping.</summary>
    public Result Read(long offset, Span<byte> destination)
    {
        lock (GateOrNull() ?? new object())
        {
            var frames = Validate(offset, destination.Length, writable: false);
            if (!frames.IsOk) return frames.Error;
            _physical.Frames(frames.Value.FirstFrame, frames.Value.Pages, offset, destination.Length).CopyTo(destination);
            return Result.Ok;
        }
    }

    /// <summary>Copies bytes into the mapping (a writable mapping only).</summary>
    public Result Write(long offset, ReadOnlySpan<byte> source)
    {
        lock (GateOrNull() ?? new object())
        {
            var frames = Validate(offset, source.Length, writable: true);
            if (!frames.IsOk) return frames.Error;
            source.CopyTo(_physical.WritableFrames(frames.Value.FirstFrame, frames.Value.Pages, offset, source.Length));
            return Result.Ok;
        }
    }

    /// <summary>Lends <paramref name="length"/> bytes at <paramref name="offset"/> to <paramref name="action"/> for
    /// reading in place. The span is valid only during the call.</summary>
    public Result View<TState>(long offset, int length, TState state, ReadOnlySpanAction<byte, TState> action)
    {
        lock (GateOrNull() ?? new object())
        {
            var frames = Validate(offset, length, writable: false);
            if (!frames.IsOk) return frames.Error;
            action(_physical.Frames(frames.Value.FirstFrame, frames.Value.Pages, offset, length), state);
            return Result.Ok;
        }
    }

    /// <summary>Lends <paramref name="length"/> bytes at <paramref name="offset"/> to <paramref name="action"/> for
    /// reading and writing in place (a writable mapping only). The span is valid only during the call.</summary>
    public Result Update<TState>(long offset, int length, TState state, SpanAction<byte, TState> action)
    {
        lock (GateOrNull() ?? new object())
        {
            var frames = Validate(offset, length, writable: true);
            if (!frames.IsOk) return frames.Error;
            action(_physical.WritableFrames(frames.Value.FirstFrame, frames.Value.Pages, offset, length), state);
            return Result.Ok;
        }
    }

    public void Dispose() => _region = null;

    private object? GateOrNull() => Volatile.Read(ref _region)?.Gate;

    // Under the region's gate: the mapping must be open, the region not reclaimed, the capability live with Map.
    private Result<MemoryRegion> Validate(long offset, int length, bool writable)
    {
        var region = Volatile.Read(ref _region);
        if (region is null) return Errors.Of(ErrorCode.Closed, "mapping was disposed");
        if (region.IsReclaimed || !region.OwnsFrames) return Errors.Of(ErrorCode.Revoked, $"{region} was revoked while mapped");
        var cap = _caps.Check(_through, Rights.Map, _holder);
        if (!cap.IsOk) return cap.Code is ErrorCode.Revoked or ErrorCode.StaleCapability or ErrorCode.UnknownCapability
            ? Errors.Of(ErrorCode.Revoked, $"the capability this mapping was made through was revoked ({cap.Code})")
            : cap.Error;
        if (writable && !IsWritable) return Errors.Of(ErrorCode.AccessDenied, "mapping is read-only");
        if (offset < 0 || length < 0 || offset > region.Length - length)
            return Errors.Of(ErrorCode.OutOfRange, $"bytes {offset}..{offset + length} are outside the {region.Length}-byte mapping");
        return region;
    }
}
