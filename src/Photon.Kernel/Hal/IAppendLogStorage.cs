namespace Photon.Kernel.Hal;

/// <summary>
/// Append-only persistent storage for logs (the audit log). Appends go to the end; <see cref="FlushAsync"/> makes
/// everything appended so far durable; a small "head" record (count and last hash) is replaced atomically so a dropped
/// tail can be detected.
/// </summary>
public interface IAppendLogStorage : IAsyncDisposable
{
    string Name { get; }
    long Length { get; }
    ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default);
    ValueTask FlushAsync(CancellationToken ct = default);
    ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default);

    /// <summary>Atomically replaces the head record.</summary>
    ValueTask WriteHeadAsync(ReadOnlyMemory<byte> head, CancellationToken ct = default);

    /// <summary>The head record, or null if none was ever written.</summary>
    ValueTask<byte[]?> ReadHeadAsync(CancellationToken ct = default);
}
