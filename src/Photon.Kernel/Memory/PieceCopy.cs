namespace Photon.Kernel.Memory;

/// <summary>
/// Copies in pieces no larger than the runtime copies itself. .NET's <c>Span.CopyTo</c> moves up to 2 KiB with its own
/// vector loop and hands anything longer to the C library's <c>memmove</c>, which on a CPU advertising ERMS uses
/// <c>rep movsb</c> for mid-sized copies — one byte per translated-block round under QEMU's TCG (issue #17: the send
/// buffer's 400 KB copies ran at ~30 MB/s in the VM). Pieces of <see cref="Piece"/> keep every byte on the vector loop;
/// on real hardware the cost is one call per 2 KiB.
/// </summary>
internal static class PieceCopy
{
    /// <summary>The largest copy the runtime does in managed code (<c>SpanHelpers.MemmoveNativeThreshold</c> on x64).</summary>
    public const int Piece = 2048;

    /// <summary>Copies <paramref name="source"/> to the start of <paramref name="destination"/> (which must hold it; the two
    /// must not overlap).</summary>
    public static void Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (source.Length > destination.Length)
            throw new ArgumentException($"{source.Length} bytes into {destination.Length}", nameof(destination));
        while (source.Length > Piece)
        {
            source[..Piece].CopyTo(destination);
            source = source[Piece..];
            destination = destination[Piece..];
        }
        source.CopyTo(destination);
    }
}
