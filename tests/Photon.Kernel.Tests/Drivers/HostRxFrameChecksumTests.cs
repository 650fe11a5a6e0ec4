using System.Buffers;
using System.Buffers.Binary;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host.Net;
using Xunit;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>The host device's copying receive with the checksum verdict reported (the NicDriver path): only TCP takes
/// the verdict, so a partial UDP checksum from a local sender (dnsmasq's DHCP offers and DNS answers on a TAP) must
/// still be finished in the copy — left partial, the stack's UDP check dropped every one of them.</summary>
public sealed class HostRxFrameChecksumTests
{
    private static readonly byte[] Src = [10, 79, 0, 1], Dst = [10, 79, 0, 2];

    private static byte[] Frame(byte protocol, int transportLength, int checksumOffset)
    {
        var f = new byte[14 + 20 + transportLength];
        f[12] = 0x08; // IPv4
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + transportLength));
        f[22] = 64;
        f[23] = protocol;
        Src.CopyTo(f, 26);
        Dst.CopyTo(f, 30);
        for (int i = 34 + checksumOffset + 2; i < f.Length; i++) f[i] = (byte)(i * 7);
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
        ulong sum = PseudoSum(protocol, transportLength);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34 + checksumOffset), (ushort)sum);
        return f;
    }

    private static ulong PseudoSum(byte protocol, int length) =>
        (ulong)((Src[0] << 8 | Src[1]) + (Src[2] << 8 | Src[3]) + (Dst[0] << 8 | Dst[1]) + (Dst[2] << 8 | Dst[3]) + protocol + length);

    private static bool ChecksumHolds(byte[] frame, byte protocol)
    {
        int length = frame.Length - 34;
        ulong sum = PseudoSum(protocol, length);
        for (int i = 34; i + 1 < frame.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(i));
        if (length % 2 == 1) sum += (ulong)frame[^1] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return sum == 0xFFFF;
    }

    private static (byte[] Copy, bool Verified) Receive(byte[] frame, int checksumOffset, bool report)
    {
        var pooled = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.CopyTo(pooled, 0);
        var rx = new HostRxFrame(pooled, frame.Length, new RxChecksumInfo(RxChecksum.Partial, 34, checksumOffset));
        var into = new byte[frame.Length];
        int n = rx.CopyOut(into, report, out bool verified);
        Assert.Equal(frame.Length, n);
        return (into, verified);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_partial_udp_checksum_is_finished_in_the_copy_and_not_reported_verified(bool report)
    {
        var frame = Frame(17, 8 + 301, 6);
        Assert.False(ChecksumHolds(frame, 17));
        var (copy, verified) = Receive(frame, 6, report);
        Assert.False(verified);
        Assert.True(ChecksumHolds(copy, 17));
    }

    [Fact]
    public void A_partial_tcp_checksum_is_reported_verified_and_left_for_the_stack_not_to_read()
    {
        var frame = Frame(6, 20 + 1000, 16);
        var (copy, verified) = Receive(frame, 16, report: true);
        Assert.True(verified);
        Assert.Equal(frame, copy); // untouched: no pass over the payload

        // A consumer that cannot be told still gets a finished, valid checksum.
        var (finished, told) = Receive(frame, 16, report: false);
        Assert.False(told);
        Assert.True(ChecksumHolds(finished, 6));
    }
}
