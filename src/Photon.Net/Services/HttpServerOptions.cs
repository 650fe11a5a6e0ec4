namespace Photon.Net.Services;

/// <summary>
/// The HTTP server's limits against clients that hold connections (issue #15: 500 slowloris and 200 silent connections
/// were all still open a minute later). Defaults follow common servers (nginx: client_header_timeout, send_timeout).
/// </summary>
public sealed record HttpServerOptions
{
    /// <summary>Time from accept until the whole header block has arrived; a slower client is reset.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time to hand the whole response to TCP; a client that does not read is reset.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections served at once; beyond it new ones are reset on accept.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>Connections one source address may hold at once.</summary>
    public int MaxConnectionsPerSource { get; init; } = 32;

    public int MaxHeaderBytes { get; init; } = 8192;
}
