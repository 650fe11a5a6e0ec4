using Photon.Kernel.Memory;

namespace Photon.Net.Tests;

/// <summary>The piecewise copy the send and receive buffers use (vm16): every byte, in order, nothing written past the
/// destination's range, a too-small destination refused.</summary>
public sealed class PieceCopyTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2048)]
    [InlineData(2049)]
    [InlineData(65_549)]
    public void Piece_copy_moves_every_byte_in_order(int length)
    {
        var source = new byte[length];
        new Random(length).NextBytes(source);
        var destination = new byte[length + 3];
        PieceCopy.Copy(source, destination.AsSpan(1));
        Assert.Equal(source, destination[1..(length + 1)]);
        Assert.Equal(0, destination[0] | destination[length + 1] | destination[length + 2]); // nothing past either end
        Assert.Throws<ArgumentException>(() => PieceCopy.Copy(source.Length > 0 ? source : new byte[1], new byte[Math.Max(0, length - 1)]));
    }
}
