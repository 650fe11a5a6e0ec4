using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Photon.Bench;

/// <summary>What the network benchmarks need from the Linux host: shell commands (ip, nc, tc), a TCP connect that
/// waits for the peer's listener, and a reproducible payload.</summary>
internal static class BenchHost
{
    /// <summary>The same pseudo-random bytes in every run (seed 1), so both sides of a ratio move identical data.</summary>
    public static byte[] Payload(int bytes)
    {
        var data = new byte[bytes];
        new Random(1).NextBytes(data);
        return data;
    }

    /// <summary>Connects, retrying for ~5 s while the peer's listener comes up.</summary>
    public static Socket ConnectRetry(IPEndPoint ep)
    {
        for (int i = 0; ; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try { s.Connect(ep); return s; }
            catch (SocketException) when (i < 50) { s.Dispose(); Thread.Sleep(100); }
        }
    }

    public static void Check((int Code, string Output) r)
    {
        if (r.Code != 0) throw new InvalidOperationException(r.Output);
    }

    /// <summary>Runs <paramref name="cmd"/> with sh -c; exit code and stdout+stderr.</summary>
    public static (int Code, string Output) Sh(string cmd)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", cmd]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result + e.Result);
    }
}
