using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;
using Photon.Net.Wire;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issue #17: virtio-net receive checksum offload (GUEST_CSUM). A device that marks frames DATA_VALID or
/// NEEDS_CSUM (a Linux host behind QEMU sends partial checksums) has them taken without a software checksum; without
/// the feature the same frames are verified (a bad one dropped). A hostile device — csum_start/csum_offset outside the
/// frame or inside the Ethernet header, a segmentation type never negotiated — costs the frame, counted, never an
/// exception, and the connection recovers once the device behaves.</summary>
public sealed class VirtioNetGuestChecksumTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x66], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x67];
    private const ulong GuestCsum = 1UL << 1;
    private const int HeaderSize = 12, CsumStart = 14 + 20;

    /// <summary>Two model devices back to back; B (the receiver under test) offers GUEST_CSUM unless told not to.</summary>
    private static Task<VirtioNetCable> Cable(bool offerGuestCsum = true) =>
        VirtioNetCable.OpenAsync(MacA, MacB, "0000:00:06.0", "0000:00:07.0", queueSize: 64,
            b => { if (!offerGuestCsum) b.OfferedFeatures &= ~GuestCsum; });

    private static Task<(TcpConnection Client, TcpConnection Server, TcpListener Listener)> Connect(VirtioNetCable p) => p.ConnectAsync(7100);

    private static bool IsTcpData(byte[] f) =>
        f.Length > CsumStart + 20 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6 && (f[14] & 0xF) == 5
        && f.Length - CsumStart - (f[CsumStart + 12] >> 4) * 4 > 0;

    /// <summary>What a Linux host hands QEMU with CHECKSUM_PARTIAL: the TCP checksum field holds only the folded
    /// pseudo-header sum.</summary>
    private static void MakePartial(byte[] f)
    {
        int tcpLength = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - 20;
        var src = Ipv4Address.Read(f.AsSpan(26));
        var dst = Ipv4Address.Read(f.AsSpan(30));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(CsumStart + 16),
            (ushort)~InternetChecksum.Finish(InternetChecksum.PseudoHeader(src, dst, 6, tcpLength)));
    }

    private static byte[] Header(byte flags, int csumStart = 0, int csumOffset = 0, byte gsoType = 0)
    {
        var h = new byte[HeaderSize];
        h[0] = flags;
        h[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), (ushort)csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), (ushort)csumOffset);
        return h;
    }

    private static async Task<byte[]> Transfer(TcpConnection client, TcpConnection server, int bytes)
    {
        var data = RandomNumberGenerator.GetBytes(bytes);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync().WaitAsync(Timeout)).IsOk);
        Assert.Equal(data, await received.WaitAsync(Timeout));
        return data;
    }

    [Fact]
    public async Task Partial_checksums_from_the_host_are_taken_without_a_software_checksum()
    {
        await using var p = await Cable();
        Assert.NotEqual(0UL, p.DevB.Features & GuestCsum);
        var (client, server, listener) = await Connect(p);
        await using var _ = listener;
        long nonData = 0; // pure ACKs and the FIN: left alone, so rightly verified in software
        p.B.ReceiveHeader = f =>
        {
            if (!IsTcpData(f))
            {
                if (f.Length > CsumStart && f[23] == 6) Interlocked.Add(ref nonData, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - 20);
                return null;
            }
            MakePartial(f);
            return Header(1, CsumStart, 16); // NEEDS_CSUM
        };
        long softwareBefore = p.Right[Counter.TcpChecksumBytesVerifiedSoftware];
        await Transfer(client, server, 256 * 1024);
        long trusted = p.Right[Counter.TcpChecksumsVerifiedByNic];
        Assert.True(trusted >= 256 * 1024 / 1460, $"{trusted} segments trusted");
        Assert.Equal(Interlocked.Read(ref nonData), p.Right[Counter.TcpChecksumBytesVerifiedSoftware] - softwareBefore); // no data segment in software
        Assert.True(p.DevB.Stats.Rx.ChecksumsVerified >= trusted);
        Assert.Equal(0, p.Right.Dropped(DropReason.BadChecksum));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_frame_marked_data_valid_is_trusted_only_when_guest_csum_was_negotiated(bool offered)
    {
        await using var p = await Cable(offerGuestCsum: offered);
        Assert.Equal(offered, (p.DevB.Features & GuestCsum) != 0);
        var (client, server, listener) = await Connect(p);
        await using var _ = listener;
        int corrupted = 0;
        p.B.ReceiveHeader = f =>
        {
            if (!IsTcpData(f) || corrupted >= 4) return null;
            corrupted++;
            f[CsumStart + 16] ^= 0x5A; // a checksum that does not match: only a device's DATA_VALID can vouch for it
            return Header(2);          // DATA_VALID
        };
        Assert.True((await client.SendAsync(new byte[1000]).WaitAsync(Timeout)).IsOk);
        var buffer = new byte[1000];
        var n = await server.ReceiveAsync(buffer).WaitAsync(Timeout); // without the feature: after retransmissions
        Assert.Equal(1000, n.Value);
        if (offered) { Assert.Equal(0, p.Right.Dropped(DropReason.BadChecksum)); Assert.Equal(1, corrupted); }
        else Assert.Equal(4, p.Right.Dropped(DropReason.BadChecksum));
    }

    public static TheoryData<string, int, int, byte> HostileHeaders => new()
    {
        { "csum_start beyond the frame", 4000, 16, 0 },
        { "csum_offset beyond the frame", CsumStart, 60000, 0 },
        { "csum field's last byte one past the end", CsumStart, -1, 0 }, // offset set to frame length - start - 1 below
        { "csum_start inside the Ethernet header", 6, 16, 0 },
        { "gso_type TCPV4 never negotiated", CsumStart, 16, 1 },
        { "gso_type with ECN only", CsumStart, 16, 0x80 },
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public async Task A_hostile_header_costs_the_frame_never_an_exception_and_the_connection_recovers(string what, int start, int offset, byte gso)
    {
        await using var p = await Cable();
        var (client, server, listener) = await Connect(p);
        await using var _ = listener;
        int hostile = 0;
        p.B.ReceiveHeader = f =>
        {
            if (!IsTcpData(f) || hostile >= 6) return null;
            hostile++;
            MakePartial(f);
            return Header(1, start, offset < 0 ? f.Length - start - 1 : offset, gso);
        };
        await Transfer(client, server, 64 * 1024);
        Assert.True(hostile == 6, what);
        Assert.Equal(6, p.DevB.Stats.Rx.BadHeaders);
        Assert.Equal(0, p.Right.Dropped(DropReason.BadChecksum)); // dropped by the driver, before the stack saw them
    }

    [Fact]
    public async Task The_copying_receive_path_finishes_a_partial_checksum_in_the_copy()
    {
        var b = new VirtioNetModel(MacB, address: "0000:00:08.0");
        await using var dev = (await VirtioNetDevice.OpenAsync(b.Function, Timers, new VirtioNetOptions(QueueSize: 16)).WaitAsync(Timeout)).Value;
        var frame = Frames.Ipv4(MacB, TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 6,
            Frames.Tcp(TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 4000, 80, 1, 1, 0x18, 1000, RandomNumberGenerator.GetBytes(301)));
        var partial = (byte[])frame.Clone();
        MakePartial(partial);
        Assert.NotEqual(frame, partial);
        b.ReceiveHeader = f => Header(1, CsumStart, 16);
        b.Inject(partial);
        var into = new byte[2048];
        int n = await dev.ReceiveAsync(into).AsTask().WaitAsync(Timeout);
        Assert.Equal(frame, into[..n]); // the checksum the sender would have computed, to the byte
    }
}
