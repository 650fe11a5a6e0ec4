using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Bench;

/// <summary>
/// One IPC workload of the <c>ipccosts</c> rows run alone for a few seconds, for <c>perf record</c> (issue #11: where
/// each nanosecond of a round trip or a streamed message goes). <c>-- ipcprofile</c> with <c>PHOTON_PROFILE_LOOP</c> =
/// roundtrip, stream, batched (64 per send), channel-pingpong or channel-stream (the baselines), and
/// <c>PHOTON_PROFILE_ROUNDS</c> (default 5); prints CPU time and heap per message. The same setup as
/// <see cref="CostBenchmarks"/>: two processes, a channel of depth 256, both loops kernel tasks.
/// </summary>
public static class IpcProfileLoops
{
    public static IEnumerable<BenchResult> Run()
    {
        var loop = Environment.GetEnvironmentVariable("PHOTON_PROFILE_LOOP") ?? "roundtrip";
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_PROFILE_ROUNDS"), out var r) ? r : 5;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            using var two = new TwoProcessIpc(s);
            var (ipc, a, b) = (two.Ipc, two.A, two.B);
            var (ha, hb) = two.Channel(depth: 256);
            var small = new byte[16];
            var payload = new byte[64];
            Func<Task> body = loop switch
            {
                "roundtrip" => () => UserspaceBenchmarks.PhotonPingPongInto(s, ipc, a, ha, b, hb, small, 200_000),
                "stream" => () => UserspaceBenchmarks.PhotonStreamInto(s, ipc, a, ha, b, hb, payload, 1_000_000),
                "batched" => () => UserspaceBenchmarks.PhotonPackedStream(s, ipc, a, ha, b, hb, payload.Length, 2_048_000, 64),
                "channel-pingpong" => () => UserspaceBenchmarks.ChannelPingPong(small, 200_000),
                "channel-stream" => () => UserspaceBenchmarks.ChannelStream(payload, 1_000_000),
                _ => throw new ArgumentException($"unknown PHOTON_PROFILE_LOOP '{loop}'"),
            };
            long perRound = loop switch { "roundtrip" or "channel-pingpong" => 200_000, "batched" => 2_048_000, _ => 1_000_000 };
            CostBenchmarks.WarmUp(body);
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < rounds; i++) body().GetAwaiter().GetResult();
            long ops = perRound * rounds;
            var nsPerOp = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / ops;
            double bytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)ops;
            yield return new BenchResult($"{loop}: process CPU time", nsPerOp, "-", double.NaN, "ns/op", LowerIsBetter: true);
            yield return new BenchResult($"{loop}: heap allocated", bytes, "-", double.NaN, "B/op", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }
}
