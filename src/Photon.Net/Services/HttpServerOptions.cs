namespace Photon.Net.Services;

/// <summary>
/// The HTTP server's limits against clients that hold connections (issue #15: 500 slowloris and 200 silent connections
/// were all still open a minute later). Defaults follow common servers (nginx: client_header_timeout, send_timeout,
/// keepalive_timeout; Apache: MaxKeepAliveRequests).
/// </summary>
public sealed record HttpServerOptions
{
    /// <summary>Time from accept until the first request's whole header block has arrived; a slower client is reset.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On a kept-alive connection, time from the end of one response until the next request's whole header
    /// block has arrived. A connection with nothing sent is closed cleanly; one with a partial request is reset.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time to hand one whole response to TCP; a client that does not read is reset.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections served at once; beyond it new ones are reset on accept.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>Connections one source address may hold at once.</summary>
    public int MaxConnectionsPerSource { get; init; } = 32;

    /// <summary>Requests answered on one connection; the last response says Connection: close.</summary>
    public int MaxRequestsPerConnection { get; init; } = 100;

    /// <summary>Bytes of request heads read ahead and not yet answered: one head must fit, and pipelined requests
    /// beyond it wait in TCP's receive window until earlier ones are answered.</summary>
    public int MaxHeaderBytes { get; init; } = 8192;
}
