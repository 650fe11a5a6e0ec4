using System.Text;
using Photon.Kernel.Processes;
using Photon.Net.Syscalls;

namespace Photon.Net.Services;

/// <summary>
/// A small HTTP/1.x server run by a process through socket syscalls (one request per connection, then close): enough
/// for Linux's curl to fetch pages and files from a service on Photon. It serves connections concurrently and bounds
/// what clients can hold (<see cref="HttpServerOptions"/>): a header deadline, a send deadline, a total cap and a per-source
/// cap, each enforced by resetting the connection so nothing of it lingers. Requests are parsed defensively: a header
/// block over the limit, a malformed request line or a method other than GET/HEAD gets a 4xx answer, never an exception.
/// </summary>
public sealed class HttpServer(Process process, Handle listener, Func<string, HttpResponse> handler, HttpServerOptions? options = null)
{
    private readonly HttpServerOptions _options = options ?? new HttpServerOptions();
    private readonly Dictionary<Ipv4Address, int> _perSource = new();
    private int _active;
    private long _served, _refused, _timedOut;

    public int ActiveConnections => Volatile.Read(ref _active);
    public long RequestsServed => Interlocked.Read(ref _served);

    /// <summary>Connections reset on accept because a cap was reached.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Connections reset because a header or send deadline passed.</summary>
    public long TimedOut => Interlocked.Read(ref _timedOut);

    /// <summary>Accepts and serves connections until the listener closes or <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        while (!ct.IsCancellationRequested)
        {
            var accepted = await SocketSyscalls.AcceptAsync(process, listener, ct).ConfigureAwait(false);
            if (!accepted.IsOk) return;
            var conn = accepted.Value;
            var ends = SocketSyscalls.Endpoints(process, conn);
            if (!ends.IsOk || !Admit(ends.Value.Remote.Address))
            {
                Interlocked.Increment(ref _refused);
                await SocketSyscalls.AbortAsync(process, conn).ConfigureAwait(false);
                continue;
            }
            _ = ServeAsync(conn, ends.Value.Remote.Address, ct);
        }
    }

    private bool Admit(Ipv4Address source)
    {
        lock (_perSource)
        {
            int fromSource = _perSource.GetValueOrDefault(source);
            if (_active >= _options.MaxConnections || fromSource >= _options.MaxConnectionsPerSource) return false;
            _perSource[source] = fromSource + 1;
            _active++;
            return true;
        }
    }

    private void Release(Ipv4Address source)
    {
        lock (_perSource)
        {
            _active--;
            if (--_perSource[source] == 0) _perSource.Remove(source);
        }
    }

    private async Task ServeAsync(Handle conn, Ipv4Address source, CancellationToken ct)
    {
        try
        {
            using var headerDeadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            headerDeadline.CancelAfter(_options.HeaderTimeout);
            var request = await ReadRequestAsync(conn, headerDeadline.Token).ConfigureAwait(false);
            if (request is not { } r)
            {
                if (headerDeadline.IsCancellationRequested && !ct.IsCancellationRequested) Interlocked.Increment(ref _timedOut);
                await SocketSyscalls.AbortAsync(process, conn).ConfigureAwait(false);
                return;
            }
            var (response, head) = r;
            var header = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 {response.Status} {HttpResponse.Reason(response.Status)}\r\nServer: photon\r\nContent-Type: {response.ContentType}\r\n" +
                $"Content-Length: {response.Body.Length}\r\nConnection: close\r\n\r\n");
            using var sendDeadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            sendDeadline.CancelAfter(_options.SendTimeout);
            var sent = await SocketSyscalls.SendAsync(process, conn, header, sendDeadline.Token).ConfigureAwait(false);
            if (sent.IsOk && !head) sent = await SocketSyscalls.SendAsync(process, conn, response.Body, sendDeadline.Token).ConfigureAwait(false);
            if (!sent.IsOk)
            {
                if (sendDeadline.IsCancellationRequested && !ct.IsCancellationRequested) Interlocked.Increment(ref _timedOut);
                await SocketSyscalls.AbortAsync(process, conn).ConfigureAwait(false);
                return;
            }
            Interlocked.Increment(ref _served);
            SocketSyscalls.Close(process, conn);
        }
        finally
        {
            Release(source);
        }
    }

    private async Task<(HttpResponse, bool Head)?> ReadRequestAsync(Handle conn, CancellationToken ct)
    {
        var buffer = new byte[_options.MaxHeaderBytes];
        int used = 0;
        while (true)
        {
            var n = await SocketSyscalls.ReceiveAsync(process, conn, buffer.AsMemory(used), ct).ConfigureAwait(false);
            if (!n.IsOk || n.Value == 0) return null;
            used += n.Value;
            int end = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Parse(Encoding.ASCII.GetString(buffer, 0, end));
            if (used == buffer.Length) return (HttpResponse.Text(431, "request header too large\n"), false);
        }
    }

    private (HttpResponse, bool Head) Parse(string head) => ParseHead(head, handler);

    /// <summary>The request head (up to the blank line) to a response; static so fuzz/Photon.Fuzz can drive it.</summary>
    internal static (HttpResponse, bool Head) ParseHead(string head, Func<string, HttpResponse> handler)
    {
        var line = head.Split("\r\n")[0].Split(' ');
        if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !line[1].StartsWith('/'))
            return (HttpResponse.Text(400, "bad request\n"), false);
        if (line[0] is not ("GET" or "HEAD")) return (HttpResponse.Text(405, "method not allowed\n"), false);
        try { return (handler(line[1]), line[0] == "HEAD"); }
        catch (Exception e) when (e is not OutOfMemoryException) { return (HttpResponse.Text(500, "handler failed\n"), false); }
    }
}
