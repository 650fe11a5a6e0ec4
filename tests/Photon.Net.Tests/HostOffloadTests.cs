using System.Diagnostics;
using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Photon.Net.Tcp;
using Xunit.Abstractions;

namespace Photon.Net.Tests;

/// <summary>
/// The host devices with checksum and segmentation offload through a virtio_net_hdr, against Linux in a namespace of
/// the test's own (names prefixed ptap-): an AF_PACKET socket on a veth end with Linux's default offloads on both ends,
/// and a TAP device. Bulk transfers both ways with nc, bytes checked by SHA-256; the device counters show that frames
/// larger than the MTU went out (TSO segments the host cut) and came in (Linux's own large segments, unsegmented).
/// Root only; skipped loudly otherwise.
/// </summary>
public sealed class HostOffloadTests(ITestOutputHelper output)
{
    private const int Bulk = 32 << 20;
    /// <summary>What both host devices offer with offloads on: checksum offload and TSO over IPv4 and IPv6.</summary>
    private const NetworkOffloads HostOffloads = NetworkOffloads.TcpChecksum | NetworkOffloads.TcpSegmentation | NetworkOffloads.Tcp6Segmentation;
    /// <summary>AF_PACKET also gathers: TCP payloads go to sendmmsg where they lie in the send buffer.</summary>
    private const NetworkOffloads PacketOffloads = HostOffloads | NetworkOffloads.ScatterGather;
    private static readonly byte[] PhotonMac = [2, 0x50, 0x54, 0, 0, 2];
    private readonly string _id = Random.Shared.Next(10000, 99999).ToString();

    private bool Skipped(string? why)
    {
        if (why is null) return false;
        output.WriteLine($"SKIPPED LOUDLY: host offload test not run: {why}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: host offload test not run: {why}");
        return true;
    }

    private static string? MissingTools()
    {
        foreach (var tool in new[] { "ip", "nc", "sha256sum", "ethtool" })
            if (HostShell.Sh($"command -v {tool}").Code != 0) return $"{tool} is not installed";
        return null;
    }

    private string Ns => "ptap-" + _id;
    private string InNs(string cmd) => $"ip netns exec {Ns} sh -c '{cmd}'";

    [Fact]
    public async Task Af_packet_with_offloads_moves_32MB_each_way_with_Linux_defaults_and_large_frames_both_ways()
    {
        if (Skipped(MissingTools())) return;
        string a = "ptap-a" + _id, b = "ptap-b" + _id;
        var setup = HostShell.Sh($"ip link add {a} type veth peer name {b} && ip netns add {Ns} && ip link set {b} netns {Ns} && " +
                                 $"ip -n {Ns} addr add 10.79.0.1/24 dev {b} && ip -n {Ns} link set {b} up && ip -n {Ns} link set lo up && ip link set {a} up");
        try
        {
            if (Skipped(setup.Code == 0 ? null : $"cannot create a veth pair and a namespace: {setup.Output}")) return;
            // Linux's defaults stay on (tx checksumming and TSO on the veth): frames reach AF_PACKET with partial checksums.
            output.WriteLine(HostShell.Sh(InNs($"ethtool -k {b} | grep -E \"^(tx-checksumming|tcp-segmentation-offload)\"")).Output);
            var opened = PacketSocketDevice.Open(a, PhotonMac, queues: 1, offloads: true);
            Assert.True(opened.IsOk, opened.ToString());
            var device = opened.Value;
            Assert.Equal("on", device.OffloadStatus);
            Assert.Equal(PacketOffloads, device.Offloads);
            await RunBothWays(device, "10.79.0");

            // A bad offload request is refused with a typed error before it reaches the kernel.
            var badChecksum = OffloadedFrame.Wrap(new byte[100], new TxOffload(34, 200));
            var refused = await Assert.ThrowsAsync<Photon.Kernel.KernelException>(async () => await device.SendAsync(badChecksum));
            Assert.Equal(ErrorCode.InvalidArgument, refused.Code);
            var tooLong = OffloadedFrame.Wrap(new byte[HostNetworkDevice.MaxSegmentFrame + 1], new TxOffload(34, 16, 1448, 66));
            Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<Photon.Kernel.KernelException>(async () => await device.SendAsync(tooLong))).Code);
        }
        finally
        {
            HostShell.Sh($"ip netns del {Ns}");
            HostShell.Sh($"ip link del {a}");
        }
    }

    [Fact]
    public async Task Tap_with_offloads_moves_32MB_each_way_and_large_frames_both_ways()
    {
        if (Skipped(MissingTools())) return;
        string tap = "ptap-t" + _id;
        var opened = TapDevice.Open(tap, PhotonMac, 1, offloads: true);
        if (Skipped(opened.IsOk ? null : $"cannot create TAP device: {opened.Error}")) return;
        var device = opened.Value;
        try
        {
            var setup = HostShell.Sh($"ip netns add {Ns} && ip link set {tap} netns {Ns} && ip -n {Ns} addr add 10.79.1.1/24 dev {tap} && " +
                                     $"ip -n {Ns} link set {tap} up && ip -n {Ns} link set lo up");
            Assert.True(setup.Code == 0, setup.Output);
            Assert.Equal("on", device.OffloadStatus);
            // TUNSETOFFLOAD turned the TAP's own offloads on: Linux may hand it large segments with partial checksums.
            var features = HostShell.Sh(InNs($"ethtool -k {tap}")).Output;
            Assert.Contains("tcp-segmentation-offload: on", features);
            await RunBothWays(device, "10.79.1");
        }
        finally
        {
            HostShell.Sh($"ip netns del {Ns}");
            await device.DisposeAsync();
        }
    }

    [Fact]
    public async Task Tap_with_offloads_under_the_nic_driver_moves_32MB_each_way_and_large_frames_both_ways()
    {
        // The kernel's network component runs the stack on NicDriver over the platform's TAP, which it opens with
        // offloads: the driver's receive buffers must take Linux's 64 KiB segments whole, and TSO frames pass through.
        if (Skipped(MissingTools())) return;
        string tap = "ptap-n" + _id;
        var opened = new HostNetworkSource().Open(tap, PhotonMac, 2);
        if (Skipped(opened.IsOk ? null : $"cannot create TAP device: {opened.Error}")) return;
        var device = (TapDevice)opened.Value;
        var (nic, _) = NicDriver.Start(device, new CapabilityManager()).Value;
        try
        {
            var setup = HostShell.Sh($"ip netns add {Ns} && ip link set {tap} netns {Ns} && ip -n {Ns} addr add 10.79.2.1/24 dev {tap} && " +
                                     $"ip -n {Ns} link set {tap} up && ip -n {Ns} link set lo up");
            Assert.True(setup.Code == 0, setup.Output);
            Assert.Equal("on", device.OffloadStatus);
            Assert.Equal(HostOffloads, nic.Offloads);
            Assert.Equal(HostNetworkDevice.MaxSegmentFrame6, nic.LargestReceivedFrame);
            Assert.True(nic.MinReceiveBuffer >= HostNetworkDevice.MaxSegmentFrame6, $"receive buffers of {nic.MinReceiveBuffer} bytes would cut a segment");
            await RunBothWays(nic, device, "10.79.2");
            Assert.Equal(0, nic.Stats.Rx.Sum(q => q.Errors));
        }
        finally
        {
            HostShell.Sh($"ip netns del {Ns}");
            await nic.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_offloads_the_nic_drivers_receive_buffers_stay_frame_sized()
    {
        string tap = "ptap-p" + _id;
        var opened = new HostNetworkSource(offloads: false).Open(tap, PhotonMac, 1);
        if (Skipped(opened.IsOk ? null : $"cannot create TAP device: {opened.Error}")) return;
        var (nic, _) = NicDriver.Start(opened.Value, new CapabilityManager()).Value;
        await using (nic)
        {
            Assert.Equal("off", ((TapDevice)opened.Value).OffloadStatus);
            Assert.Equal(NetworkOffloads.None, nic.Offloads);
            Assert.Equal(1514, nic.LargestReceivedFrame);
            Assert.Equal(1514, nic.MinReceiveBuffer);
        }
    }

    /// <summary>Gives Linux's end <paramref name="address"/> at once (no DAD) in the test's namespace.</summary>
    private string Ipv6Setup(string linuxInterface, string address) =>
        $"ip netns exec {Ns} sysctl -qw net.ipv6.conf.{linuxInterface}.accept_dad=0 net.ipv6.conf.{linuxInterface}.disable_ipv6=0 && " +
        $"ip -n {Ns} -6 addr add {address}/64 dev {linuxInterface} nodad";

    [Fact]
    public async Task Af_packet_with_offloads_moves_32MB_each_way_over_IPv6_with_TSO6_and_checksum_offload()
    {
        if (Skipped(MissingTools())) return;
        string a = "ptap-6a" + _id, b = "ptap-6b" + _id;
        var setup = HostShell.Sh($"ip link add {a} type veth peer name {b} && ip netns add {Ns} && ip link set {b} netns {Ns} && " +
                                 $"ip -n {Ns} addr add 10.79.3.1/24 dev {b} && {Ipv6Setup(b, "fd79:3::1")} && " +
                                 $"ip -n {Ns} link set {b} up && ip -n {Ns} link set lo up && ip link set {a} up");
        try
        {
            if (Skipped(setup.Code == 0 ? null : $"cannot create a veth pair and a namespace with IPv6: {setup.Output}")) return;
            var opened = PacketSocketDevice.Open(a, PhotonMac, queues: 1, offloads: true);
            Assert.True(opened.IsOk, opened.ToString());
            await using var device = opened.Value;
            Assert.Equal(PacketOffloads, device.Offloads);
            await RunBothWays(device, device, "10.79.3", "fd79:3");
        }
        finally
        {
            HostShell.Sh($"ip netns del {Ns}");
            HostShell.Sh($"ip link del {a}");
        }
    }

    [Fact]
    public async Task Tap_with_offloads_under_the_nic_driver_moves_32MB_each_way_over_IPv6_with_TSO6()
    {
        if (Skipped(MissingTools())) return;
        string tap = "ptap-6n" + _id;
        var opened = new HostNetworkSource().Open(tap, PhotonMac, 1);
        if (Skipped(opened.IsOk ? null : $"cannot create TAP device: {opened.Error}")) return;
        var device = (TapDevice)opened.Value;
        var (nic, _) = NicDriver.Start(device, new CapabilityManager()).Value;
        try
        {
            var setup = HostShell.Sh($"ip netns add {Ns} && ip link set {tap} netns {Ns} && ip -n {Ns} addr add 10.79.4.1/24 dev {tap} && " +
                                     $"{Ipv6Setup(tap, "fd79:4::1")} && ip -n {Ns} link set {tap} up && ip -n {Ns} link set lo up");
            Assert.True(setup.Code == 0, setup.Output);
            // TUNSETOFFLOAD asked for TSO6 too: Linux may hand the TAP its large IPv6 segments.
            Assert.Contains("tx-tcp6-segmentation: on", HostShell.Sh(InNs($"ethtool -k {tap}")).Output);
            Assert.Equal(HostOffloads, nic.Offloads);
            await RunBothWays(nic, device, "10.79.4", "fd79:4");
            Assert.Equal(0, nic.Stats.Rx.Sum(q => q.Errors));
        }
        finally
        {
            HostShell.Sh($"ip netns del {Ns}");
            await nic.DisposeAsync();
        }
    }

    private Task RunBothWays(HostNetworkDevice device, string subnet) => RunBothWays(device, device, subnet);

    /// <summary>A stack on <paramref name="device"/> at .2 sends <see cref="Bulk"/> bytes to nc at .1, then nc sends as
    /// many back; both checked by SHA-256, and the device must have sent and received frames over the MTU.</summary>
    /// <remarks><paramref name="host"/> is the host device under <paramref name="device"/> (itself, or the NIC driver's).</remarks>
    /// <remarks>With <paramref name="ipv6Prefix"/> (e.g. "fd79:1"), both transfers run over IPv6 between
    /// <c>{prefix}::2</c> (Photon) and <c>{prefix}::1</c> (Linux, which the caller configured): TSO6 and checksum
    /// offload over the IPv6 pseudo-header.</remarks>
    private async Task RunBothWays(INetworkDevice device, HostNetworkDevice host, string subnet, string? ipv6Prefix = null)
    {
        await using var stack = new NetworkStack(new HostTimers(new HostClock()), new NetworkStackOptions { Ipv6RetransTimer = TimeSpan.FromMilliseconds(200), TcpLendLargeSends = false /* the buffer's bytes by reference */ });
        var nic = stack.AddInterface(device, Ipv4Cidr.Parse($"{subnet}.2/24").Value).Value;
        Assert.Equal(host.Offloads, nic.Offloads);
        stack.Start();
        var linux = new IpEndpoint(Ipv4Address.Parse($"{subnet}.1").Value, 9400);
        string photonAddress = $"{subnet}.2", nc = "nc";
        if (ipv6Prefix is not null)
        {
            stack.AddIpv6Address(nic, new Ipv6Cidr(Ipv6Address.Parse($"{ipv6Prefix}::2").Value, 64)).Unwrap();
            await StackTests.WaitUntil(() => Ipv6StackTests.Locked(stack, () => nic.Ipv6.Addresses.All(a => a.State == Ipv6AddressState.Preferred)), 60_000);
            linux = new IpEndpoint(Ipv6Address.Parse($"{ipv6Prefix}::1").Value, 9400);
            photonAddress = $"{ipv6Prefix}::2";
            nc = "nc -6";
        }

        // Photon -> Linux.
        var data = RandomNumberGenerator.GetBytes(Bulk);
        var sink = HostShell.ShAsync(InNs($"{nc} -l -p 9400 < /dev/null | sha256sum"), 300_000);
        var sw = Stopwatch.StartNew();
        Photon.Kernel.Result<TcpConnection> conn = default;
        for (int i = 0; i < 50; i++) // until nc listens
        {
            conn = await stack.Tcp.ConnectAsync(linux);
            if (conn.IsOk || conn.Code != ErrorCode.ConnectionRefused) break;
            await Task.Delay(100);
        }
        Assert.True(conn.IsOk, conn.ToString());
        for (int off = 0; off < Bulk; off += 1 << 20)
            Assert.True((await conn.Value.SendAsync(data.AsMemory(off, 1 << 20))).IsOk);
        await conn.Value.CloseAsync();
        var sent = await sink;
        output.WriteLine($"Photon -> Linux {Bulk >> 20} MiB in {sw.Elapsed.TotalSeconds:0.00} s; large frames sent {host.LargeFramesSent}, TSO sends {stack[Counter.TcpSegmentationOffloads]}");
        Assert.StartsWith(Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant(), sent.Output);
        Assert.True(host.LargeFramesSent > 0, "no frame over the MTU was sent: TSO not used");
        Assert.True(stack[Counter.TcpSegmentationOffloads] > 0);
        Assert.Equal(0, stack[Counter.TcpChecksumBytesSoftware]);
        // A device that gathers gets every payload byte by reference, over either family.
        if ((host.Offloads & NetworkOffloads.ScatterGather) != 0)
        {
            Assert.True(stack[Counter.TcpPayloadBytesByReference] >= Bulk, $"{stack[Counter.TcpPayloadBytesByReference]} bytes by reference");
        }

        // Linux -> Photon.
        await using var listener = stack.Tcp.Listen(9401).Value;
        var accept = listener.AcceptAsync();
        var send = HostShell.ShAsync(InNs($"head -c {Bulk} /dev/urandom > /tmp/{Ns}.bin; sha256sum < /tmp/{Ns}.bin; {nc} -N {photonAddress} 9401 < /tmp/{Ns}.bin; rm -f /tmp/{Ns}.bin"), 300_000);
        var inbound = (await accept.WaitAsync(TimeSpan.FromSeconds(60))).Value;
        sw.Restart();
        var received = await StackTests.ReadAll(inbound).WaitAsync(TimeSpan.FromMinutes(3));
        await inbound.CloseAsync();
        var linuxSide = await send;
        output.WriteLine($"Linux -> Photon {Bulk >> 20} MiB in {sw.Elapsed.TotalSeconds:0.00} s; large frames received {host.LargeFramesReceived}, dropped {host.DroppedFrames}, bad headers {host.MalformedOffloadHeaders}");
        Assert.True(linuxSide.Code == 0, linuxSide.Output);
        Assert.Equal(Bulk, received.Length);
        Assert.StartsWith(Convert.ToHexString(SHA256.HashData(received)).ToLowerInvariant(), linuxSide.Output);
        Assert.True(host.LargeFramesReceived > 0, "no frame over the MTU arrived: Linux's segments were cut before us");
        Assert.Equal(0, host.MalformedOffloadHeaders);
        // What the host vouched for reaches the stack on either path (direct, or copied through NicDriver's buffers):
        // Linux's segments come with partial or verified checksums, so the stack checks (nearly) none of them itself.
        Assert.True(stack[Counter.TcpChecksumsVerifiedByNic] > 0, "no checksum taken as verified by the device");
        Assert.True(stack[Counter.TcpChecksumBytesVerifiedSoftware] < Bulk / 2,
            $"{stack[Counter.TcpChecksumBytesVerifiedSoftware]} bytes verified in software of {Bulk} received");
    }
}
