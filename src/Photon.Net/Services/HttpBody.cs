namespace Photon.Net.Services;

/// <summary>Sends one piece of a response body; fails when the connection does (reset, deadline).</summary>
public delegate ValueTask<Result> HttpBodySink(ReadOnlyMemory<byte> piece, CancellationToken ct);

/// <summary>
/// A response body produced while it is sent, so a large file or a generated stream never sits in memory whole.
/// The server disposes it after sending, or when the response is not sent at all (HEAD, a failed connection).
/// </summary>
public abstract class HttpBody : IAsyncDisposable
{
    /// <summary>Exact byte count, or null when unknown (then HTTP/1.1 gets a chunked response).</summary>
    public abstract long? Length { get; }

    /// <summary>Writes the whole body through <paramref name="sink"/>, in pieces of a bounded size.</summary>
    public abstract ValueTask<Result> WriteAsync(HttpBodySink sink, CancellationToken ct);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
