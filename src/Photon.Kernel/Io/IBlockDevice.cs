namespace Photon.Kernel.Io;

/// <summary>
/// A sector-addressed block device as filesystems see it. Every call returns a typed result: out-of-range sectors,
/// misaligned buffers and device faults are errors, never exceptions.
/// </summary>
public interface IBlockDevice
{
    string Name { get; }

    /// <summary>512 or 4096.</summary>
    int SectorSize { get; }

    long SectorCount { get; }

    bool IsReadOnly { get; }

    /// <summary>Reads buffer.Length / SectorSize whole sectors starting at <paramref name="lba"/>.</summary>
    ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes data.Length / SectorSize whole sectors; completion means the device acknowledged the write.</summary>
    ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Completes once every acknowledged write is durable.</summary>
    ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default);
}
