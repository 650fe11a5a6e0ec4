namespace Photon.Kernel.Hal;

/// <summary>
/// Raw, byte-addressed persistent storage as the platform offers it (an image file on the host backend, a controller
/// on bare metal). Drivers build sector-addressed <see cref="Photon.Kernel.Io.IBlockDevice"/>s on top of it.
/// Offsets and lengths are validated by the driver; implementations may throw <see cref="KernelException"/> with
/// <see cref="ErrorCode.IoError"/> on host failure.
/// </summary>
public interface IBlockStorage : IAsyncDisposable
{
    string Name { get; }
    long Length { get; }
    bool IsReadOnly { get; }

    /// <summary>Reads up to buffer.Length bytes at <paramref name="offset"/>; returns bytes read (short only at end).</summary>
    ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default);

    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable (fsync on the host).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);
}
