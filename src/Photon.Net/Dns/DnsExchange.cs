using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Scheduling;
using Photon.Net.Tcp;
using Photon.Net.Udp;

namespace Photon.Net.Dns;

/// <summary>What one exchange with one server saw, for the resolver's counters.</summary>
internal sealed class DnsExchangeStats
{
    public long Ignored;
}

/// <summary>
/// One question to one server, over the stack's own sockets. UDP (RFC 1035 §4.2.1): a fresh socket on a random
/// ephemeral port and a random 16-bit ID per query; a datagram is taken only if it comes from the server's address and
/// port and carries the query's ID (RFC 5452 §9.1) — anything else is ignored and counted, and the wait goes on until
/// the timeout, so spoofed, stray or malformed datagrams can neither answer nor end the query. TCP (RFC 7766): one
/// connection, the query and the answer each behind a two-byte length, the whole exchange within the timeout.
/// </summary>
internal sealed class DnsExchange(NetworkStack stack, IKernelTimers timers)
{
    private const int TcpLengthPrefix = 2;

    public async Task<Result<DnsAnswer>> OverUdpAsync(IpEndpoint server, string host, DnsType type, TimeSpan timeout, DnsExchangeStats stats, CancellationToken ct)
    {
        ushort id = (ushort)RandomNumberGenerator.GetInt32(65536);
        var query = DnsMessage.Query(id, host, type);
        if (!query.IsOk) return query.Error;
        var bound = stack.Udp.Bind(0);
        if (!bound.IsOk) return bound.Error;
        await using var socket = bound.Value;
        var sent = await socket.SendToAsync(server, query.Value).ConfigureAwait(false);
        if (!sent.IsOk) return sent.Error;
        KernelError? malformed = null;
        var r = await WithinAsync(timeout, ct, async stop =>
        {
            while (true)
            {
                var d = await socket.ReceiveAsync(stop).ConfigureAwait(false);
                if (!d.IsOk) return Result<DnsAnswer>.Fail(d.Error);
                var m = d.Value.Data;
                if (d.Value.From != server || m.Length < DnsMessage.HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(m) != id)
                {
                    Interlocked.Increment(ref stats.Ignored);
                    continue;
                }
                var answer = DnsMessage.ParseAnswer(m, id, host, type);
                if (answer.IsOk || answer.Code != ErrorCode.Corrupted) return answer;
                // From the right place with the right ID but malformed (or for another question): a spoofer who guessed
                // the ID could send this, so keep waiting for the real answer; it is the error if none comes.
                malformed = answer.Error;
                Interlocked.Increment(ref stats.Ignored);
            }
        }).ConfigureAwait(false);
        return !r.IsOk && r.Code == ErrorCode.TimedOut && malformed is { } bad ? bad : r;
    }

    public async Task<Result<DnsAnswer>> OverTcpAsync(IpEndpoint server, string host, DnsType type, TimeSpan timeout, CancellationToken ct)
    {
        ushort id = (ushort)RandomNumberGenerator.GetInt32(65536);
        var query = DnsMessage.Query(id, host, type);
        if (!query.IsOk) return query.Error;
        TcpConnection? connection = null;
        try
        {
            return await WithinAsync(timeout, ct, async stop =>
            {
                var c = await stack.Tcp.ConnectAsync(server, stop).ConfigureAwait(false);
                if (!c.IsOk) return Result<DnsAnswer>.Fail(c.Error);
                connection = c.Value;
                var framed = new byte[TcpLengthPrefix + query.Value.Length];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Value.Length);
                query.Value.CopyTo(framed, TcpLengthPrefix);
                var sent = await connection.SendAsync(framed, stop).ConfigureAwait(false);
                if (!sent.IsOk) return Result<DnsAnswer>.Fail(sent.Error);
                var prefix = new byte[TcpLengthPrefix];
                var got = await ReadExactlyAsync(connection, prefix, stop).ConfigureAwait(false);
                if (!got.IsOk) return Result<DnsAnswer>.Fail(got.Error);
                // At most 65,535 bytes by construction: the length prefix is 16 bits.
                var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                got = await ReadExactlyAsync(connection, message, stop).ConfigureAwait(false);
                if (!got.IsOk) return Result<DnsAnswer>.Fail(got.Error);
                var answer = DnsMessage.ParseAnswer(message, id, host, type);
                if (answer.IsOk && answer.Value.Truncated) return Errors.Of(ErrorCode.Corrupted, "answer over TCP has TC set");
                return answer;
            }).ConfigureAwait(false);
        }
        finally
        {
            // FIN after the exchange; the connection's own timers end it if the server never answers the FIN.
            if (connection is not null) _ = connection.CloseAsync();
        }
    }

    private static async Task<Result> ReadExactlyAsync(TcpConnection connection, byte[] buffer, CancellationToken ct)
    {
        for (int at = 0; at < buffer.Length;)
        {
            var n = await connection.ReceiveAsync(buffer.AsMemory(at), ct).ConfigureAwait(false);
            if (!n.IsOk) return n.Error;
            if (n.Value == 0) return Result.Fail(ErrorCode.Corrupted, "server closed the connection inside a DNS message");
            at += n.Value;
        }
        return Result.Ok;
    }

    /// <summary>Runs <paramref name="work"/> until it finishes or <paramref name="timeout"/> passes on the kernel's
    /// timers (then its token is cancelled and the result is <c>TimedOut</c>, or <c>Cancelled</c> if the caller cancelled).</summary>
    private async Task<Result<T>> WithinAsync<T>(TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task<Result<T>>> work)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var expiry = timers.Delay(timeout, stop.Token);
        var task = work(stop.Token);
        var first = await Task.WhenAny(task, expiry).ConfigureAwait(false);
        stop.Cancel();
        Result<T> result;
        try { result = await task.ConfigureAwait(false); }
        catch (OperationCanceledException) { result = Errors.Of(ErrorCode.Cancelled, "cancelled"); }
        if (first == task) return result;
        if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "DNS lookup cancelled");
        return Errors.Of(ErrorCode.TimedOut, $"no answer within {timeout.TotalMilliseconds:0} ms");
    }
}
