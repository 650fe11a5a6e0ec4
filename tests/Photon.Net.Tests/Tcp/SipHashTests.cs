using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>SipHash-2-4, which keys the SYN cookies, against the reference vectors of the SipHash paper (key 00..0f,
/// message 00..n-1): the empty message, a partial word, and a full word plus seven bytes.</summary>
public sealed class SipHashTests
{
    private const ulong K0 = 0x0706050403020100UL, K1 = 0x0f0e0d0c0b0a0908UL;

    [Theory]
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(1, 0x74f839c593dc67fdUL)]
    [InlineData(15, 0xa129ca6149be45e5UL)]
    public void Matches_the_reference_vectors(int length, ulong expected)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        Assert.Equal(expected, SipHash.Hash(K0, K1, message));
    }

    [Fact]
    public void Another_key_gives_another_hash()
    {
        byte[] message = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
        Assert.NotEqual(SipHash.Hash(K0, K1, message), SipHash.Hash(K0 ^ 1, K1, message));
        Assert.NotEqual(SipHash.Hash(K0, K1, message), SipHash.Hash(K0, K1, message.AsSpan(0, 20)));
    }
}
