using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests;

/// <summary>
/// A block device that serves its first <see cref="FailAfter"/> requests (reads, writes and flushes alike) from the
/// device it wraps and answers every later one with <see cref="Failure"/> — an I/O error, or Revoked for a device
/// that went away. Requests served before the failure reach the inner device in order, so what is left on it is what
/// a real disk holds after the same failure.
/// </summary>
public sealed class FailingBlockDevice(IBlockDevice inner, long failAfter, ErrorCode failure = ErrorCode.IoError) : IBlockDevice
{
    private long _requests;

    public long FailAfter { get; } = failAfter;
    public ErrorCode Failure { get; } = failure;
    /// <summary>Every request seen, served or failed.</summary>
    public long Requests => Interlocked.Read(ref _requests);
    public bool HasFailed => Requests > FailAfter;
    public string Name => "failing";
    public int SectorSize => inner.SectorSize;
    public long SectorCount => inner.SectorCount;
    public bool IsReadOnly => inner.IsReadOnly;

    private bool Fails() => Interlocked.Increment(ref _requests) > FailAfter;

    private ValueTask<Result> Failed(string what) => ValueTask.FromResult(Result.Fail(Failure, $"injected {Failure} on {what} #{Requests}"));

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Fails() ? Failed("read") : inner.ReadAsync(lba, buffer, cancellationToken);

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        Fails() ? Failed("write") : inner.WriteAsync(lba, data, cancellationToken);

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) =>
        Fails() ? Failed("flush") : inner.FlushAsync(cancellationToken);
}
