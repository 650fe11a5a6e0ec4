using System.Buffers;
using System.Text;
using Photon.Kernel.Processes;
using Photon.Net.Syscalls;

namespace Photon.Net.Services;

/// <summary>
/// An HTTP/1.1 server run by a process through socket syscalls: persistent connections with pipelining (requests are
/// answered one at a time, in order), Content-Length, chunked and close-delimited bodies, streamed bodies for large
/// files. It bounds what clients can hold (<see cref="HttpServerOptions"/>): header, idle and send deadlines, requests
/// per connection, read-ahead bytes, a total cap and a per-source cap, each enforced by closing or resetting the
/// connection so nothing of it lingers. Requests are parsed defensively (<see cref="HttpRequest"/>): bad input gets a
/// 4xx answer and the connection closes, never an exception.
/// </summary>
public sealed class HttpServer
{
    public delegate ValueTask<HttpResponse> Handler(HttpRequest request, CancellationToken ct);

    private const int CoalesceBodyBytes = 16 * 1024;
    private static readonly ReadOnlyMemory<byte> LastChunk = "0\r\n\r\n"u8.ToArray();

    private readonly Process _process;
    private readonly Handle _listener;
    private readonly Handler _handler;
    private readonly HttpServerOptions _options;
    private readonly Dictionary<IpAddress, int> _perSource = new();
    private int _active;
    private long _served, _refused, _timedOut, _idleClosed;

    public HttpServer(Process process, Handle listener, Handler handler, HttpServerOptions? options = null)
    {
        _process = process;
        _listener = listener;
        _handler = handler;
        _options = options ?? new HttpServerOptions();
    }

    /// <summary>A server whose handler maps the request target (path and query) to a response.</summary>
    public HttpServer(Process process, Handle listener, Func<string, HttpResponse> handler, HttpServerOptions? options = null)
        : this(process, listener, (r, _) => ValueTask.FromResult(handler(r.Target)), options) { }

    public int ActiveConnections => Volatile.Read(ref _active);
    public long RequestsServed => Interlocked.Read(ref _served);

    /// <summary>Connections reset on accept because a cap was reached.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Connections reset because a header or send deadline passed.</summary>
    public long TimedOut => Interlocked.Read(ref _timedOut);

    /// <summary>Kept-alive connections closed cleanly because no next request came within the idle deadline.</summary>
    public long IdleClosed => Interlocked.Read(ref _idleClosed);

    /// <summary>Accepts and serves connections until the listener closes or <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        while (!ct.IsCancellationRequested)
        {
            var accepted = await SocketSyscalls.AcceptAsync(_process, _listener, ct).ConfigureAwait(false);
            if (!accepted.IsOk) return;
            var conn = accepted.Value;
            var ends = SocketSyscalls.Endpoints(_process, conn);
            var source = ends.IsOk ? SourceKey(ends.Value.Remote.Address) : default;
            if (!ends.IsOk || !Admit(source))
            {
                Interlocked.Increment(ref _refused);
                await SocketSyscalls.AbortAsync(_process, conn).ConfigureAwait(false);
                continue;
            }
            _ = ServeAsync(conn, source, ct);
        }
    }

    /// <summary>What the per-source cap counts: an IPv4 address, or an IPv6 /64 — one host holds a whole /64 (SLAAC),
    /// so counting single IPv6 addresses would give it 2^64 budgets.</summary>
    internal static IpAddress SourceKey(IpAddress a) => a.IsV6 ? Ipv6Cidr.Mask(a.V6, 64) : a;

    private bool Admit(IpAddress source)
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

    private void Release(IpAddress source)
    {
        lock (_perSource)
        {
            _active--;
            if (--_perSource[source] == 0) _perSource.Remove(source);
        }
    }

    private enum Ending { Close, Abort }

    private async Task ServeAsync(Handle conn, IpAddress source, CancellationToken ct)
    {
        var ending = Ending.Abort;
        try { ending = await ServeRequestsAsync(conn, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException) { ending = Ending.Abort; }
        finally
        {
            if (ending == Ending.Close) SocketSyscalls.Close(_process, conn);
            else await SocketSyscalls.AbortAsync(_process, conn).ConfigureAwait(false);
            Release(source);
        }
    }

    /// <summary>Answers requests in arrival order until one side ends the connection; says how to end it.</summary>
    private async Task<Ending> ServeRequestsAsync(Handle conn, CancellationToken ct)
    {
        var reader = new HeadReader(_process, conn, _options.MaxHeaderBytes);
        // One deadline source per connection, re-armed for each wait (head, then send) and reset after it: a linked
        // source and a timer per request were a large share of what a request allocated (HttpAllocationTests). A
        // deadline that fired ends the connection, so a cancelled source is never reset.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        for (int n = 1; ; n++)
        {
            deadline.CancelAfter(n == 1 ? _options.HeaderTimeout : _options.IdleTimeout);
            var (head, outcome) = await reader.ReadAsync(deadline.Token).ConfigureAwait(false);
            if (outcome != HeadOutcome.DeadlineOrError && !deadline.TryReset()) outcome = HeadOutcome.DeadlineOrError;
            HttpRequest? request = null;
            HttpResponse response;
            switch (outcome)
            {
                case HeadOutcome.Complete:
                    request = HttpRequest.TryParse(head!, out var error);
                    response = request is null ? error! : await RespondAsync(request, ct).ConfigureAwait(false);
                    break;
                case HeadOutcome.TooLarge:
                    response = HttpResponse.Text(431, "request header too large\n");
                    break;
                case HeadOutcome.PeerClosed:
                    return reader.Buffered == 0 ? Ending.Close : Ending.Abort;
                default:
                    if (ct.IsCancellationRequested) return Ending.Abort;
                    if (n > 1 && reader.Buffered == 0)
                    {
                        Interlocked.Increment(ref _idleClosed);
                        return Ending.Close;
                    }
                    Interlocked.Increment(ref _timedOut);
                    return Ending.Abort;
            }
            bool keepAlive = request is not null && request.WantsKeepAlive && KeepsConnection(response.Status) && n < _options.MaxRequestsPerConnection;
            deadline.CancelAfter(_options.SendTimeout);
            var sent = await WriteAsync(conn, request, response, keepAlive, deadline.Token).ConfigureAwait(false);
            if (!sent.IsOk || !deadline.TryReset())
            {
                if (deadline.IsCancellationRequested && !ct.IsCancellationRequested) Interlocked.Increment(ref _timedOut);
                return Ending.Abort;
            }
            Interlocked.Increment(ref _served);
            if (!sent.Value) return Ending.Close;
        }
    }

    /// <summary>After a malformed request the stream cannot be trusted to be in step (400, 431), nor after a failure.</summary>
    private static bool KeepsConnection(int status) => status < 400 || status is 403 or 404 or 405 or 416;

    private async ValueTask<HttpResponse> RespondAsync(HttpRequest request, CancellationToken ct)
    {
        try { return await _handler(request, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException) { return HttpResponse.Text(500, "handler failed\n"); }
    }

    /// <summary>Frames and sends one response; the value says whether the connection stays open after it.</summary>
    private async ValueTask<Result<bool>> WriteAsync(Handle conn, HttpRequest? request, HttpResponse response, bool keepAlive, CancellationToken ct)
    {
        await using var stream = response.Stream;
        bool head = request?.IsHead == true;
        long? length = response.Length;
        bool chunked = length is null && request?.Http11 == true;
        if (length is null && !chunked) keepAlive = false; // HTTP/1.0: the end of the connection ends the body
        // One pooled buffer holds the head and, for a small in-memory body, the body too: they leave in one send (one
        // segment), and the send copies them into the socket buffer, so the buffer goes back once it returns.
        int inline = !head && stream is null && response.Body.Length <= CoalesceBodyBytes ? response.Body.Length : 0;
        var buffer = ArrayPool<byte>.Shared.Rent(ResponseHead.MaxSize(response) + inline);
        Result sent;
        try
        {
            int used = ResponseHead.Write(buffer, response, length, chunked, keepAlive);
            response.Body.Span[..inline].CopyTo(buffer.AsSpan(used));
            sent = await Send(buffer.AsMemory(0, used + inline), ct).ConfigureAwait(false);
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        if (sent.IsOk && !head && stream is null && inline < response.Body.Length)
            sent = await Send(response.Body, ct).ConfigureAwait(false);
        else if (sent.IsOk && !head && stream is not null)
        {
            sent = await stream.WriteAsync(chunked ? SendChunk : Send, ct).ConfigureAwait(false);
            if (sent.IsOk && chunked) sent = await Send(LastChunk, ct).ConfigureAwait(false);
        }
        return sent.IsOk ? keepAlive : sent.Error;

        async ValueTask<Result> Send(ReadOnlyMemory<byte> data, CancellationToken c) =>
            await SocketSyscalls.SendAsync(_process, conn, data, c).ConfigureAwait(false);

        // RFC 9112 §7.1: size in hex, CRLF, data, CRLF; an empty piece would end the body, so none is sent.
        async ValueTask<Result> SendChunk(ReadOnlyMemory<byte> piece, CancellationToken c)
        {
            if (piece.Length == 0) return Result.Ok;
            var framed = ArrayPool<byte>.Shared.Rent(piece.Length + 12); // the size (8 hex digits at most) and two CRLFs
            try
            {
                piece.Length.TryFormat(framed, out int digits, "x", System.Globalization.CultureInfo.InvariantCulture);
                framed[digits] = (byte)'\r';
                framed[digits + 1] = (byte)'\n';
                int prefix = digits + 2, total = prefix + piece.Length + 2;
                piece.Span.CopyTo(framed.AsSpan(prefix));
                framed[total - 2] = (byte)'\r';
                framed[total - 1] = (byte)'\n';
                return await Send(framed.AsMemory(0, total), c).ConfigureAwait(false);
            }
            finally { ArrayPool<byte>.Shared.Return(framed); }
        }
    }

    /// <summary>The request head (up to the blank line) to a response; static so fuzz/Photon.Fuzz can drive it.</summary>
    internal static (HttpResponse, bool Head) ParseHead(string head, Func<string, HttpResponse> handler)
    {
        var request = HttpRequest.TryParse(head, out var error);
        if (request is null) return (error!, false);
        try { return (handler(request.Target), request.IsHead); }
        catch (Exception e) when (e is not OutOfMemoryException) { return (HttpResponse.Text(500, "handler failed\n"), false); }
    }
}
