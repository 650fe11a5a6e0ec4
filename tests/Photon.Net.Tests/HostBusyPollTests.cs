using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Xunit.Abstractions;

namespace Photon.Net.Tests;

/// <summary>
/// The host devices' opt-in busy-poll (<see cref="HostNetworkDevice.BusyPollMicroseconds"/>, SO_BUSY_POLL-like): off by
/// default, bounded, every frame still reaches the stack, and a receive thread whose window runs out goes back to
/// sleeping in poll(2) rather than spinning on. Root only (a veth pair and a namespace, names prefixed pbp-); skipped
/// loudly otherwise. Counts, never times: whether a window finds a frame depends on the load, so only the windows that
/// run out (the device idles after the last echo) are asserted.
/// </summary>
public sealed class HostBusyPollTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _id = Random.Shared.Next(10000, 99999).ToString();

    [Fact]
    public async Task A_busy_polling_AF_PACKET_device_answers_every_echo_and_falls_back_to_poll_when_idle()
    {
        string ns = "pbp-" + _id, a = "pbp-a" + _id, b = "pbp-b" + _id;
        if (HostShell.Sh("command -v ip && command -v ping").Code != 0) { Skip("ip or ping is not installed"); return; }
        var setup = HostShell.Sh($"ip link add {a} type veth peer name {b} && ip netns add {ns} && ip link set {b} netns {ns} && " +
                                 $"ip -n {ns} addr add 10.77.0.1/24 dev {b} && ip -n {ns} link set {b} up && ip link set {a} up");
        try
        {
            if (setup.Code != 0) { Skip($"cannot create a veth pair and a namespace: {setup.Output}"); return; }
            var opened = PacketSocketDevice.Open(a, [2, 0x50, 0x42, 0x50, 0, 2], queues: 1);
            Assert.True(opened.IsOk, opened.ToString());
            await using var device = opened.Value;
            Assert.Equal(0, device.BusyPollMicroseconds); // opt-in
            Assert.Throws<ArgumentOutOfRangeException>(() => device.BusyPollMicroseconds = -1);
            Assert.Throws<ArgumentOutOfRangeException>(() => device.BusyPollMicroseconds = HostNetworkDevice.MaxBusyPollMicroseconds + 1);
            Assert.Equal(0, device.BusyPollMicroseconds);
            device.BusyPollMicroseconds = HostNetworkDevice.MaxBusyPollMicroseconds;

            await using var stack = new NetworkStack(new HostTimers(new HostClock()));
            stack.AddInterface(device, Ipv4Cidr.Parse("10.77.0.2/24").Value).Unwrap();
            stack.Start();
            // Echoes 5 ms apart: each window (1 ms) ends before the next request, so the thread sleeps in poll between them.
            var ping = HostShell.Sh($"ip netns exec {ns} ping -c 20 -i 0.005 -w 60 10.77.0.2");
            output.WriteLine(ping.Output);
            PingOutput.AssertAllAnswered(ping.Output, 20);
            Assert.Equal(PingOutput.Counts(ping.Output).Received, stack[Counter.EchoRepliesSent]);
            // After the last echo nothing more arrives: the last window runs out and the thread returns to poll(2).
            var deadline = DateTime.UtcNow + Timeout;
            while (device.BusyPolls.Misses == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
            var (hits, misses) = device.BusyPolls;
            output.WriteLine($"busy-poll windows: {hits} found frames, {misses} ran out");
            Assert.True(misses >= 1, "a busy-poll window never ended");
            Assert.Equal(0, stack.Dropped(DropReason.InternalError));
        }
        finally
        {
            HostShell.Sh($"ip netns del {ns}");
            HostShell.Sh($"ip link del {a}");
        }
    }

    private void Skip(string why)
    {
        output.WriteLine($"SKIPPED LOUDLY: busy-poll test not run: {why}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: busy-poll test not run: {why}");
    }
}
