using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Block;

/// <summary>
/// Wraps HAL storage and injects faults for tests and drills: reads or writes touching chosen sectors fail with
/// <see cref="ErrorCode.IoError"/>, and a "short write" sector makes a write persist only its first half before failing
/// (what a torn write on power loss looks like). A failed write is never acknowledged.
/// </summary>
public sealed class FaultInjectingStorage(IBlockStorage inner, int sectorSize) : IBlockStorage
{
    private readonly HashSet<long> _badReads = new();
    private readonly HashSet<long> _badWrites = new();
    private readonly HashSet<long> _shortWrites = new();
    private readonly Lock _lock = new();

    public string Name => inner.Name;
    public long Length => inner.Length;
    public bool IsReadOnly => inner.IsReadOnly;
    public long InjectedFaults { get; private set; }

    public void FailReads(long sector) { lock (_lock) _badReads.Add(sector); }
    public void FailWrites(long sector) { lock (_lock) _badWrites.Add(sector); }
    public void ShortWrite(long sector) { lock (_lock) _shortWrites.Add(sector); }
    public void Heal() { lock (_lock) { _badReads.Clear(); _badWrites.Clear(); _shortWrites.Clear(); } }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Hits(_badReads, offset, buffer.Length) is { } s)
            throw new KernelException(ErrorCode.IoError, $"injected read fault at sector {s}");
        return inner.ReadAsync(offset, buffer, cancellationToken);
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (Hits(_badWrites, offset, data.Length) is { } s)
            throw new KernelException(ErrorCode.IoError, $"injected write fault at sector {s}");
        if (Hits(_shortWrites, offset, data.Length) is { } t)
        {
            int half = Math.Max(sectorSize, data.Length / 2 / sectorSize * sectorSize);
            await inner.WriteAsync(offset, data[..Math.Min(half, data.Length)], cancellationToken).ConfigureAwait(false);
            throw new KernelException(ErrorCode.IoError, $"injected short write at sector {t}");
        }
        await inner.WriteAsync(offset, data, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private long? Hits(HashSet<long> set, long offset, int length)
    {
        lock (_lock)
        {
            if (set.Count == 0) return null;
            for (long s = offset / sectorSize; s < (offset + length + sectorSize - 1) / sectorSize; s++)
                if (set.Contains(s)) { InjectedFaults++; return s; }
        }
        return null;
    }
}
