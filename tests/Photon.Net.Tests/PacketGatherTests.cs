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
/// The AF_PACKET device gathering TCP payloads from the send buffer (sendmmsg iovecs, issue #11) against Linux `nc` in
/// a namespace of the test's own (names carry "tcp11"): through <see cref="NicDriver"/>'s TX queue pair, where a frame
/// waits in the ring for the controller task before it is sent, and with the interface deleted in the middle of a
/// burst. Root only; skipped loudly otherwise.
/// </summary>
public sealed class PacketGatherTests(ITestOutputHelper output)
{
    /// <summary>Large sends copied into the send buffer (not lent): what these tests check is the buffer's bytes gathered
    /// by reference (lent bytes are copied into frames, see <c>ByteRing.CanGatherByReference</c>).</summary>
    private static readonly NetworkStackOptions GatherFromTheRing = new() { TcpLendLargeSends = false };

    private const int Bulk = 32 << 20;
    private static readonly byte[] PhotonMac = [2, 0x50, 0x54, 0, 0, 11];
    private readonly string _id = Random.Shared.Next(1000, 9999).ToString();
    private string Ns => "tcp11-g" + _id;
    private string VethA => "tcp11a" + _id;
    private string VethB => "tcp11b" + _id;

    private bool Skipped(string? why)
    {
        if (why is null) return false;
        output.WriteLine($"SKIPPED LOUDLY: AF_PACKET gather test not run: {why}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: AF_PACKET gather test not run: {why}");
        return true;
    }

    private string? Setup(string subnet)
    {
        foreach (var tool in new[] { "ip", "nc", "sha256sum" })
            if (HostShell.Sh($"command -v {tool}").Code != 0) return $"{tool} is not installed";
        var r = HostShell.Sh($"ip link add {VethA} type veth peer name {VethB} && ip netns add {Ns} && ip link set {VethB} netns {Ns} && " +
                             $"ip -n {Ns} addr add {subnet}.1/24 dev {VethB} && ip -n {Ns} link set {VethB} up && ip -n {Ns} link set lo up && ip link set {VethA} up");
        return r.Code == 0 ? null : $"cannot create a veth pair and a namespace: {r.Output}";
    }

    private void Teardown()
    {
        HostShell.Sh($"ip netns del {Ns}");
        HostShell.Sh($"ip link del {VethA}");
    }

    private static async Task<TcpConnection> Connect(NetworkStack stack, string subnet)
    {
        Photon.Kernel.Result<TcpConnection> conn = default;
        for (int i = 0; i < 100; i++) // until nc listens
        {
            conn = await stack.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse($"{subnet}.1").Value, 9411));
            if (conn.IsOk || conn.Code != ErrorCode.ConnectionRefused) break;
            await Task.Delay(100);
        }
        Assert.True(conn.IsOk, conn.ToString());
        return conn.Value;
    }

    [Fact]
    public async Task Through_the_nic_drivers_tx_queue_pair_gathered_frames_move_32MB_exactly()
    {
        const string subnet = "10.79.11";
        try
        {
            if (Skipped(Setup(subnet))) return;
            var opened = PacketSocketDevice.Open(VethA, PhotonMac, queues: 1, offloads: true);
            Assert.True(opened.IsOk, opened.ToString());
            await using var device = opened.Value;
            Assert.True((device.Offloads & NetworkOffloads.ScatterGather) != 0, device.OffloadStatus);
            // DirectTransmit off: every frame waits in the TX ring for the driver's controller task, after the stack's
            // lock is released and while the writer keeps filling the send buffer; two TX queues, so each gathered frame
            // is steered by the flow hash of its headers.
            var (nic, _) = NicDriver.Start(device, new CapabilityManager(), new NicOptions(TxQueues: 2, OwnsDevice: false, DirectTransmit: false)).Value;
            await using (nic)
            {
                await using var stack = new NetworkStack(new HostTimers(new HostClock()), GatherFromTheRing);
                Assert.True((stack.AddInterface(nic, Ipv4Cidr.Parse($"{subnet}.2/24").Value).Value.Offloads & NetworkOffloads.ScatterGather) != 0);
                stack.Start();
                var data = RandomNumberGenerator.GetBytes(Bulk);
                var sink = HostShell.ShAsync($"ip netns exec {Ns} sh -c 'nc -l -p 9411 < /dev/null | sha256sum'", 300_000);
                var conn = await Connect(stack, subnet);
                for (int off = 0; off < Bulk; off += 1 << 20)
                    Assert.True((await conn.SendAsync(data.AsMemory(off, 1 << 20))).IsOk);
                await conn.CloseAsync();
                var got = await sink;
                output.WriteLine($"by reference {stack[Counter.TcpPayloadBytesByReference]}, copied {stack[Counter.TcpPayloadBytesCopiedOut]}, large frames sent {device.LargeFramesSent}");
                Assert.StartsWith(Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant(), got.Output);
                Assert.True(stack[Counter.TcpPayloadBytesByReference] >= Bulk);
                Assert.True(device.LargeFramesSent > 0);
                Assert.Equal(0, nic.Stats.TxErrors);
            }
        }
        finally { Teardown(); }
    }

    [Fact]
    public async Task An_interface_deleted_mid_burst_fails_sends_typed_and_everything_closes()
    {
        const string subnet = "10.79.12";
        try
        {
            if (Skipped(Setup(subnet))) return;
            var opened = PacketSocketDevice.Open(VethA, PhotonMac, queues: 1, offloads: true);
            Assert.True(opened.IsOk, opened.ToString());
            var device = opened.Value;
            var stack = new NetworkStack(new HostTimers(new HostClock()), GatherFromTheRing);
            stack.AddInterface(device, Ipv4Cidr.Parse($"{subnet}.2/24").Value).Unwrap();
            stack.Start();
            var sink = HostShell.ShAsync($"ip netns exec {Ns} sh -c 'nc -l -p 9411 < /dev/null > /dev/null'", 300_000);
            var conn = await Connect(stack, subnet);
            var data = RandomNumberGenerator.GetBytes(1 << 20);
            var sender = Task.Run(async () =>
            {
                for (int i = 0; i < 4096; i++) // far more than can go before the interface is gone
                {
                    var r = await conn.SendAsync(data);
                    if (!r.IsOk) return r;
                }
                return Photon.Kernel.Result.Ok;
            });
            await StackTests.WaitUntil(() => stack[Counter.TcpPayloadBytesByReference] > 8 << 20, 120_000);
            Assert.Equal(0, HostShell.Sh($"ip link del {VethA}").Code); // both ends of the pair, mid-burst
            await StackTests.WaitUntil(() => device.Counters(0).TxErrors > 0, 120_000);
            // The stack counts the refused frames and keeps going; closing it ends the stuck sender with a typed error.
            await stack.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            var result = await sender.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.False(result.IsOk);
            output.WriteLine($"sender ended with {result}; device tx errors {device.Counters(0).TxErrors}");
            await device.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(ErrorCode.Closed, (await Assert.ThrowsAsync<Photon.Kernel.KernelException>(
                async () => await device.SendAsync(new byte[60]))).Code);
            HostShell.Sh($"ip netns pids {Ns} | xargs -r kill"); // the nc this test started, waiting on a link that is gone
            await sink.WaitAsync(TimeSpan.FromSeconds(120));
        }
        finally { Teardown(); }
    }
}
