namespace Photon.Net.Tests;

/// <summary>The vectorized Internet checksum against RFC 1071 done byte by byte: every length and alignment around the
/// 32-byte blocks and the vector threshold, extreme contents (all zeros, all ones, carries in every lane), and a running
/// sum carried in as TCP's pseudo-header is.</summary>
public sealed class InternetChecksumTests
{
    /// <summary>RFC 1071 as written: big-endian 16-bit words, an odd byte padded, end-around carry on every add.</summary>
    private static ushort Reference(ReadOnlySpan<byte> data, uint start = 0)
    {
        uint sum = start;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    [Fact]
    public void Every_length_and_offset_around_the_vector_blocks_matches_rfc_1071()
    {
        var rng = new Random(11);
        var buffer = new byte[70_000];
        rng.NextBytes(buffer);
        for (int length = 0; length <= 1100; length++)
            for (int offset = 0; offset < 3; offset++)
                Assert.Equal(Reference(buffer.AsSpan(offset, length)), InternetChecksum.Compute(buffer.AsSpan(offset, length)));
        foreach (int length in new[] { 1460, 1500, 9000, 65_495, 65_535, 69_999 })
            Assert.Equal(Reference(buffer.AsSpan(1, length)), InternetChecksum.Compute(buffer.AsSpan(1, length)));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    [InlineData(0x80)]
    [InlineData(0x01)]
    public void Uniform_contents_fold_the_same_way(byte fill)
    {
        foreach (int length in new[] { 256, 257, 4096, 65_536 })
        {
            var data = Enumerable.Repeat(fill, length).ToArray();
            Assert.Equal(Reference(data), InternetChecksum.Compute(data));
        }
    }

    [Fact]
    public void A_running_sum_carried_in_adds_as_the_pseudo_header_does()
    {
        var data = new byte[3000];
        new Random(3).NextBytes(data);
        foreach (uint start in new uint[] { 0, 1, 0xFFFF, 0x1FFFE, 0x2_0000 })
        {
            uint folded = start;
            while (folded >> 16 != 0) folded = (folded & 0xFFFF) + (folded >> 16);
            Assert.Equal(Reference(data, folded), InternetChecksum.Finish(InternetChecksum.Sum(data, start)));
        }
    }
}
