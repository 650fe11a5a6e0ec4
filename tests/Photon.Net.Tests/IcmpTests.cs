using Photon.Kernel;
using System.Buffers.Binary;
using Photon.Kernel.Hal.Host;

namespace Photon.Net.Tests;

public class IcmpTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private static Ipv4Address Ip(string s) => Ipv4Address.Parse(s).Value;

    [Fact]
    public async Task Two_stacks_on_a_wire_resolve_each_other_and_ping()
    {
        var (a, b) = WireEnd.Pair();
        await using var left = new EthernetInterface(a, Ip("10.9.0.1"), 24, Timers);
        await using var right = new EthernetInterface(b, Ip("10.9.0.2"), 24, Timers);
        left.Start();
        right.Start();
        var rtt = await left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2));
        Assert.True(rtt.IsOk, rtt.ToString());
        Assert.Contains(left.ArpCache, e => e.Address == Ip("10.9.0.2") && e.Mac == "02:00:00:00:00:02");
        Assert.Equal(1, right.EchoRepliesSent);
        Assert.Equal(ErrorCode.Unreachable, (await left.PingAsync(Ip("10.9.0.77"), TimeSpan.FromMilliseconds(300))).Code);
    }

    [Fact]
    public async Task Pings_survive_a_lossy_wire_by_retrying()
    {
        var (a, b) = WireEnd.Pair(loss: 0.3, seed: 5);
        await using var left = new EthernetInterface(a, Ip("10.9.0.1"), 24, Timers);
        await using var right = new EthernetInterface(b, Ip("10.9.0.2"), 24, Timers);
        left.Start();
        right.Start();
        int ok = 0;
        for (int i = 0; i < 20; i++) if ((await left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromMilliseconds(300))).IsOk) ok++;
        Assert.InRange(ok, 5, 19); // some lost, some through — and never a hang
    }

    [Fact]
    public void Addresses_parse_strictly()
    {
        Assert.Equal("10.0.0.255", Ip("10.0.0.255").ToString());
        foreach (var bad in new[] { "10.0.0", "10.0.0.256", "a.b.c.d", "1.2.3.4.5", "", "01234.1.1.1", " 1.2.3.4" })
            Assert.Equal(ErrorCode.InvalidArgument, Ipv4Address.Parse(bad).Code);
        Assert.True(Ip("10.9.0.7").InSubnet(Ip("10.9.0.0"), 24));
        Assert.False(Ip("10.9.1.7").InSubnet(Ip("10.9.0.0"), 24));
    }

    [Fact]
    public async Task Malformed_and_mutated_frames_are_dropped_and_counted_never_thrown()
    {
        var (a, _) = WireEnd.Pair();
        await using var nic = new EthernetInterface(a, Ip("10.9.0.1"), 24, Timers);
        // A valid echo request to mutate.
        var good = new byte[14 + 20 + 16];
        new byte[] { 2, 0, 0, 0, 0, 1 }.CopyTo(good, 0);
        new byte[] { 2, 0, 0, 0, 0, 9 }.CopyTo(good, 6);
        good[12] = 0x08;
        good[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(good.AsSpan(16), 36);
        good[22] = 64;
        good[23] = 1;
        Ip("10.9.0.9").Write(good.AsSpan(26));
        Ip("10.9.0.1").Write(good.AsSpan(30));
        BinaryPrimitives.WriteUInt16BigEndian(good.AsSpan(24), InternetChecksum.Compute(good.AsSpan(14, 20)));
        good[34] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(good.AsSpan(36), InternetChecksum.Compute(good.AsSpan(34)));

        var rng = new Random(3);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] frame;
            switch (rng.Next(4))
            {
                case 0: frame = new byte[rng.Next(0, 100)]; rng.NextBytes(frame); break;
                case 1: frame = good[..rng.Next(0, good.Length)]; break;
                default:
                    frame = (byte[])good.Clone();
                    for (int k = 0; k < 1 + rng.Next(3); k++) frame[rng.Next(frame.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
            }
            await nic.HandleFrameAsync(frame);
        }
        Assert.True(nic.Dropped(DropReason.Truncated) > 0);
        Assert.True(nic.Dropped(DropReason.BadChecksum) > 0);
        Assert.True(nic.Dropped(DropReason.NotForUs) > 0);
        Assert.Equal(20_000, nic.FramesReceived);
    }
}
