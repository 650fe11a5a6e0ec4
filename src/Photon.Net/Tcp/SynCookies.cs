using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Photon.Net.Tcp;

/// <summary>
/// SYN cookies (RFC 4987 §3.6, Linux's layout): when a listener's SYN cache is full, the SYN-ACK's initial sequence
/// number carries the only state the handshake needs, and nothing is stored. The cookie is a 6-bit time counter (64 s
/// steps), a 2-bit index into <see cref="MssTable"/> and 24 bits of a keyed hash over the four-tuple, the client's ISN,
/// the counter and the MSS index under a per-stack 128-bit secret — <see cref="SipHash"/>-2-4, as Linux uses: a PRF is all
/// a cookie needs (an off-path attacker must not predict it), and HMAC-SHA256 made a cookie SYN-ACK cost several echo replies. The ACK completing the handshake (ACK − 1 = cookie) is accepted
/// within two counter steps. What a cookie cannot carry is given up, as Linux does without timestamps: window scaling,
/// SACK and timestamps are not offered on a cookie SYN-ACK.
/// </summary>
internal sealed class SynCookies
{
    internal static readonly ushort[] MssTable = [536, 1220, 1440, 1460];
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(64);
    private const int MaxAgeSteps = 2;

    private readonly ulong _key0 = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
    private readonly ulong _key1 = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8));

    /// <summary>The cookie (our ISN) for a SYN from <paramref name="remote"/> to <paramref name="local"/>, and the MSS it encodes
    /// (the largest table entry not above what the peer and our route allow).</summary>
    public (SeqNumber Iss, ushort Mss) Make(IpEndpoint local, IpEndpoint remote, SeqNumber clientIsn, int mssLimit, TimeSpan now)
    {
        int index = 0;
        for (int i = MssTable.Length - 1; i >= 0; i--) if (MssTable[i] <= mssLimit) { index = i; break; }
        uint counter = Counter(now);
        return (new SeqNumber(counter << 26 | (uint)index << 24 | Mac(local, remote, clientIsn, counter, index)), MssTable[index]);
    }

    /// <summary>Checks the ACK of a cookie handshake; returns the MSS the cookie encoded, or null for a forged or stale one.</summary>
    public ushort? Check(IpEndpoint local, IpEndpoint remote, SeqNumber clientIsn, SeqNumber cookie, TimeSpan now)
    {
        uint value = cookie.Value;
        uint counter = value >> 26;
        int index = (int)(value >> 24 & 3);
        uint age = (Counter(now) - counter) & 63;
        if (age > MaxAgeSteps) return null;
        return (value & 0xFFFFFF) == Mac(local, remote, clientIsn, counter, index) ? MssTable[index] : null;
    }

    private static uint Counter(TimeSpan now) => (uint)(now.Ticks / Step.Ticks) & 63;

    private uint Mac(IpEndpoint local, IpEndpoint remote, SeqNumber clientIsn, uint counter, int index)
    {
        // Both addresses as they are on the wire (4 or 16 bytes each: an IPv6 cookie hashes all 128 bits of each).
        Span<byte> input = stackalloc byte[2 * Ipv6Address.Length + 13];
        int at = local.Address.Write(input);
        at += remote.Address.Write(input[at..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[at..], local.Port);
        BinaryPrimitives.WriteUInt16BigEndian(input[(at + 2)..], remote.Port);
        BinaryPrimitives.WriteUInt32BigEndian(input[(at + 4)..], clientIsn.Value);
        BinaryPrimitives.WriteUInt32BigEndian(input[(at + 8)..], counter);
        input[at + 12] = (byte)index;
        return (uint)SipHash.Hash(_key0, _key1, input[..(at + 13)]) & 0xFFFFFF;
    }
}
