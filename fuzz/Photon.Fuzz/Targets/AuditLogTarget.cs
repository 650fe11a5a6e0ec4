using Photon.Kernel;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;

namespace Photon.Fuzz.Targets;

/// <summary>
/// An audit log file and its head record as the verifier reads them from disk: whatever the bytes, verification must
/// end in a report (intact, or the first bad record and why), never throw. Input layout: one mode byte (bit 0: a head
/// record is present, bit 1: check the chain with the HMAC key), a 2-byte big-endian head length and the head, then
/// the log. <see cref="MakeSeeds"/> writes real logs (HashChainedAuditLog) in this layout.
/// </summary>
public sealed class AuditLogTarget : IFuzzTarget
{
    private static readonly byte[] Key = "fuzz key, thirty-two bytes long!"u8.ToArray();

    public string Name => "audit";

    public void Run(byte[] input)
    {
        if (input.Length < 3) return;
        byte mode = input[0];
        int headLength = Math.Min((input[1] << 8) | input[2], input.Length - 3);
        byte[]? head = (mode & 1) != 0 ? input.AsSpan(3, headLength).ToArray() : null;
        var log = new MemoryLog(input.AsSpan(3 + headLength).ToArray(), head);
        var report = AuditLogVerifier.VerifyAsync(log, (mode & 2) != 0 ? Key : null).GetAwaiter().GetResult();
        // A report must be coherent: a record count, and a first bad record exactly when the log is not intact.
        if (report.Records < 0 || report.IsIntact != (report.FirstBadRecord == -1) || (!report.IsIntact && report.FirstBadRecord < 0))
            throw new FuzzFinding($"incoherent report: {report} (first bad record {report.FirstBadRecord})");
    }

    /// <summary>Real logs of a few capability events, plain and keyed, with and without their head record.</summary>
    public static void MakeSeeds(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (bool keyed in new[] { false, true })
        {
            var storage = new MemoryLog([], null);
            var sink = HashChainedAuditLog.OpenAsync(storage, new NoTimers(), new AuditLogOptions { Key = keyed ? Key : null })
                .GetAwaiter().GetResult().Value;
            var caps = new CapabilityManager(sink);
            var root = caps.Create(new GenericObject("seed"), Rights.Read | Rights.Delegate, Principal.Kernel).Value;
            var child = caps.Derive(root, Rights.Read, new Principal("p", "/t")).Value;
            caps.Check(child, Rights.Delegate);
            caps.Revoke(root);
            sink.DisposeAsync().AsTask().GetAwaiter().GetResult();
            var log = storage.Contents;
            var head = storage.ReadHeadAsync().AsTask().GetAwaiter().GetResult() ?? [];
            byte mode = (byte)(keyed ? 2 : 0);
            File.WriteAllBytes(Path.Combine(dir, $"{(keyed ? "keyed" : "plain")}-no-head"), [mode, 0, 0, .. log]);
            File.WriteAllBytes(Path.Combine(dir, $"{(keyed ? "keyed" : "plain")}-head"),
                [(byte)(mode | 1), (byte)(head.Length >> 8), (byte)head.Length, .. head, .. log]);
        }
    }

    private sealed class MemoryLog(byte[] data, byte[]? head) : IAppendLogStorage
    {
        private readonly MemoryStream _data = Filled(data);
        private byte[]? _head = head;

        private static MemoryStream Filled(byte[] bytes)
        {
            var stream = new MemoryStream();
            stream.Write(bytes);
            return stream;
        }

        public byte[] Contents => _data.ToArray();
        public string Name => "fuzz";
        public long Length => _data.Length;

        public ValueTask AppendAsync(ReadOnlyMemory<byte> more, CancellationToken ct = default)
        {
            _data.Write(more.Span);
            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken ct = default) => ValueTask.CompletedTask;

        public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            var all = _data.GetBuffer();
            int n = (int)Math.Clamp(_data.Length - offset, 0, buffer.Length);
            if (n > 0) all.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }

        public ValueTask WriteHeadAsync(ReadOnlyMemory<byte> newHead, CancellationToken ct = default)
        {
            _head = newHead.ToArray();
            return ValueTask.CompletedTask;
        }

        public ValueTask<byte[]?> ReadHeadAsync(CancellationToken ct = default) => ValueTask.FromResult(_head);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class NoTimers : IKernelTimers
    {
        public TimeSpan Now => TimeSpan.Zero;
        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(due, cancellationToken);
    }
}
