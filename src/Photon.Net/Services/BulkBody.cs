namespace Photon.Net.Services;

/// <summary>
/// A generated body of any size for throughput runs (`GET /bulk?bytes=N`): a fixed pseudo-random 64 KiB block
/// repeated, so nothing is read from disk and a client can check it (<see cref="Fill"/> gives the same bytes).
/// </summary>
public sealed class BulkBody(long bytes, bool announceLength = true) : HttpBody
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Bulk bodies above this are refused (64 GiB: hours at the rates measured; a bound, not a target).</summary>
    public const long MaxBytes = 64L << 30;

    private static readonly byte[] Block = MakeBlock();

    public long Bytes { get; } = bytes;

    public override long? Length => announceLength ? Bytes : null;

    public override async ValueTask<Result> WriteAsync(HttpBodySink sink, CancellationToken ct)
    {
        for (long sent = 0; sent < Bytes;)
        {
            int n = (int)Math.Min(BlockSize, Bytes - sent);
            var r = await sink(Block.AsMemory(0, n), ct).ConfigureAwait(false);
            if (!r.IsOk) return r;
            sent += n;
        }
        return Result.Ok;
    }

    /// <summary>The body's bytes from offset 0 (for checking what a client received).</summary>
    public static void Fill(Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i += BlockSize)
            Block.AsSpan(0, Math.Min(BlockSize, destination.Length - i)).CopyTo(destination[i..]);
    }

    /// <summary>Parses `bytes=N` (a plain decimal, 0..<see cref="MaxBytes"/>); other query parameters are ignored.</summary>
    public static HttpResponse Respond(HttpRequest request)
    {
        var value = request.QueryValue("bytes");
        if (value is null || value.Length > 19 || !value.All(char.IsAsciiDigit) || !long.TryParse(value, out var n) || n > MaxBytes)
            return HttpResponse.Text(400, $"bulk needs ?bytes=N with N at most {MaxBytes}\n");
        bool chunked = request.QueryValue("chunked") == "1";
        return new HttpResponse(200, "application/octet-stream", ReadOnlyMemory<byte>.Empty) { Stream = new BulkBody(n, !chunked) };
    }

    private static byte[] MakeBlock()
    {
        var b = new byte[BlockSize];
        new Random(15).NextBytes(b);
        return b;
    }
}
