using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Xunit.Abstractions;

namespace Photon.Net.Tests;

/// <summary>
/// The AF_PACKET receive thread sleeps in recvmmsg itself (MSG_WAITFORONE on a blocking socket with SO_RCVTIMEO), not
/// in poll(2) then recvmmsg: one syscall per wake. It must still answer every frame, come back to its stop flag while
/// idle, and stop when the device is closed — from another thread, from code the burst resumed on the receive thread
/// itself, and while frames are flowing. Root only (veth pairs and a namespace, names prefixed pbr-); skipped loudly
/// otherwise. Counts and outcomes, never times (a test timeout only turns a hang into a failure).
/// </summary>
public sealed class HostBlockingReceiveTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly byte[] Mac = [2, 0x50, 0x42, 0x52, 0, 2];
    private readonly string _id = Random.Shared.Next(10000, 99999).ToString();

    [Fact]
    public async Task Echoes_are_answered_with_no_poll_call_and_the_idle_thread_keeps_returning_from_its_blocking_read()
    {
        await WithVeth(async (a, ns) =>
        {
            var opened = PacketSocketDevice.Open(a, Mac, queues: 1);
            Assert.True(opened.IsOk, opened.ToString());
            await using var device = opened.Value;
            await using var stack = new NetworkStack(new HostTimers(new HostClock()));
            stack.AddInterface(device, Ipv4Cidr.Parse("10.78.0.2/24").Value).Unwrap();
            stack.Start();
            var ping = HostShell.Sh($"ip netns exec {ns} ping -c 20 -i 0.01 -w 60 10.78.0.2");
            output.WriteLine(ping.Output);
            PingOutput.AssertAllAnswered(ping.Output, 20);
            Assert.Equal(PingOutput.Counts(ping.Output).Received, stack[Counter.EchoRepliesSent]);
            // Idle: each SO_RCVTIMEO expiry is one more read (EAGAIN) — the thread is not stuck in the kernel for good.
            long reads = device.HostCalls.Reads;
            var deadline = DateTime.UtcNow + Timeout;
            while (device.HostCalls.Reads < reads + 2 && DateTime.UtcNow < deadline) await Task.Delay(20);
            var calls = device.HostCalls;
            output.WriteLine($"host calls: {calls}");
            Assert.True(calls.Reads >= reads + 2, "the idle receive thread did not come back from recvmmsg");
            Assert.Equal(0, calls.Waits); // never poll(2): the read is the wait
            Assert.True(calls.Writes >= 1, "no sendmmsg call for 20 echo replies"); // replies that waited for ARP go out together
        });
    }

    [Fact]
    public async Task Closing_an_idle_device_ends_a_pending_receive_with_Closed_and_returns()
    {
        await WithVeth(async (a, _) =>
        {
            var opened = PacketSocketDevice.Open(a, Mac, queues: 2);
            Assert.True(opened.IsOk, opened.ToString());
            var device = opened.Value;
            // Reads until the device is closed (the peer's own IPv6 neighbour discovery may bring a frame or two).
            var pending = Task.Run(async () =>
            {
                var buffer = new byte[2048];
                while (true) await device.ReceiveAsync(buffer);
            });
            // The threads are blocked in recvmmsg (nothing arrives on the quiet veth): close while they are.
            var deadline = DateTime.UtcNow + Timeout;
            while (device.HostCalls.Reads < 2 && DateTime.UtcNow < deadline) await Task.Delay(10);
            Assert.False(pending.IsCompleted);
            await device.DisposeAsync().AsTask().WaitAsync(Timeout);
            var e = await Assert.ThrowsAsync<KernelException>(() => pending.WaitAsync(Timeout));
            Assert.Equal(ErrorCode.Closed, e.Error.Code);
            Assert.Throws<KernelException>(() => device.SendAsync(new byte[60]).AsTask().GetAwaiter().GetResult());
        });
    }

    [Fact]
    public async Task Closing_from_code_the_burst_resumed_on_the_receive_thread_stops_that_thread()
    {
        await WithVeth(async (a, ns) =>
        {
            var opened = PacketSocketDevice.Open(a, Mac, queues: 1);
            Assert.True(opened.IsOk, opened.ToString());
            var device = opened.Value;
            // A ping's ARP request reaches the raw device (no stack answers it): the receive resumes on the receive
            // thread, which closes the device from there.
            var resumedOn = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
            var reader = Task.Run(async () =>
            {
                // Frames that arrived before the reader parked (the veth's own IPv6 chatter) complete the receive on
                // this pool thread at once: those are skipped until a receive resumes on the receive thread.
                Thread thread;
                do
                {
                    await device.ReceiveAsync(new byte[2048]).ConfigureAwait(false);
                    thread = Thread.CurrentThread;
                } while (thread.Name?.StartsWith("hal-pkt-", StringComparison.Ordinal) != true);
                await device.DisposeAsync().ConfigureAwait(false);
                resumedOn.TrySetResult(thread);
            });
            var ping = HostShell.ShAsync($"ip netns exec {ns} ping -c 3 -i 0.2 -W 1 10.78.0.2");
            var thread = await resumedOn.Task.WaitAsync(Timeout);
            await reader.WaitAsync(Timeout);
            await ping;
            output.WriteLine($"resumed on {thread.Name}");
            Assert.StartsWith("hal-pkt-", thread.Name);
            Assert.True(thread.Join(Timeout), "the receive thread did not leave its loop after closing its own device");
            var e = await Assert.ThrowsAsync<KernelException>(() => device.ReceiveAsync(new byte[2048]).AsTask().WaitAsync(Timeout));
            Assert.Equal(ErrorCode.Closed, e.Error.Code);
        });
    }

    [Fact]
    public async Task Devices_closed_while_frames_flow_each_stop_and_end_their_pending_receive()
    {
        await WithVeth(async (a, ns) =>
        {
            // Echo requests to the device's MAC (a static neighbour entry; no stack answers them), flooded while devices
            // open and close under them.
            var neigh = HostShell.Sh($"ip -n {ns} neigh replace 10.78.0.9 lladdr 02:50:42:52:00:02 dev pbr-b{_id}");
            Assert.True(neigh.Code == 0, neigh.Output);
            var flood = HostShell.ShAsync($"ip netns exec {ns} ping -f -l 32 -w 4 10.78.0.9 >/dev/null 2>&1; true");
            int total = 0;
            for (int round = 0; round < 10; round++)
            {
                var opened = PacketSocketDevice.Open(a, Mac, queues: 1 + round % 2);
                Assert.True(opened.IsOk, opened.ToString());
                var device = opened.Value;
                var reader = Task.Run(async () =>
                {
                    var buffer = new byte[2048];
                    int frames = 0;
                    try { while (true) { await device.ReceiveAsync(buffer); frames++; } }
                    catch (KernelException e) when (e.Error.Code == ErrorCode.Closed) { return frames; }
                });
                await Task.Delay(round * 5);
                await device.DisposeAsync().AsTask().WaitAsync(Timeout);
                int got = await reader.WaitAsync(Timeout);
                output.WriteLine($"round {round}: {got} frames before close, host calls {device.HostCalls}");
                total += got;
            }
            await flood;
            Assert.True(total > 0, "no flooded frame reached any of the devices");
        });
    }

    private async Task WithVeth(Func<string, string, Task> body)
    {
        string ns = "pbr-" + _id, a = "pbr-a" + _id, b = "pbr-b" + _id;
        if (HostShell.Sh("command -v ip && command -v ping").Code != 0) { Skip("ip or ping is not installed"); return; }
        var setup = HostShell.Sh($"ip link add {a} type veth peer name {b} && ip netns add {ns} && ip link set {b} netns {ns} && " +
                                 $"ip -n {ns} addr add 10.78.0.1/24 dev {b} && ip -n {ns} link set {b} up && ip link set {a} up");
        try
        {
            if (setup.Code != 0) { Skip($"cannot create a veth pair and a namespace: {setup.Output}"); return; }
            await body(a, ns);
        }
        finally
        {
            HostShell.Sh($"ip netns del {ns}");
            HostShell.Sh($"ip link del {a}");
        }
    }

    private void Skip(string why)
    {
        output.WriteLine($"SKIPPED LOUDLY: blocking-receive test not run: {why}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: blocking-receive test not run: {why}");
    }
}
