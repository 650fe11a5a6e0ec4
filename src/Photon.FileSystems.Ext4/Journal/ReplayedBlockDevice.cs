using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// A read-only view of a device with a journal replayed in memory: reads see the replayed blocks, the device itself is
/// never written. A read-only mount of a volume that needs recovery runs on this, so it sees the committed state.
/// </summary>
internal sealed class ReplayedBlockDevice(IBlockDevice inner, IReadOnlyDictionary<long, byte[]> blocks, int blockSize) : IBlockDevice
{
    public string Name => inner.Name;
    public int SectorSize => inner.SectorSize;
    public long SectorCount => inner.SectorCount;
    public bool IsReadOnly => true;

    public async ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var r = await inner.ReadAsync(lba, buffer, cancellationToken).ConfigureAwait(false);
        if (!r.IsOk) return r;
        long start = lba * SectorSize, end = start + buffer.Length;
        for (long b = start / blockSize; b * blockSize < end; b++)
        {
            if (!blocks.TryGetValue(b, out var data)) continue;
            long from = Math.Max(start, b * blockSize), to = Math.Min(end, (b + 1) * blockSize);
            data.AsSpan((int)(from - b * blockSize), (int)(to - from)).CopyTo(buffer.Span[(int)(from - start)..]);
        }
        return Result.Ok;
    }

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Result.Fail(ErrorCode.ReadOnly, "ext4: the replayed journal view is read-only"));

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Result.Ok);
}
