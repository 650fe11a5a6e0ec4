using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Ipc;

/// <summary>
/// Quota refunds gathered under an endpoint's lock and paid after it is released (the quota callback takes its own
/// locks: never called under an endpoint's). A batch almost always refunds one tenant, so the first principal is kept
/// inline and summed; any other gets a list, made only then.
/// </summary>
internal struct ChargeRefunds
{
    private Principal _first;
    private long _firstBytes;
    private bool _hasFirst;
    private List<(Principal To, long Bytes)>? _others;

    public void Add(Principal to, long bytes)
    {
        if (bytes == 0) return;
        if (!_hasFirst) { _first = to; _firstBytes = bytes; _hasFirst = true; return; }
        if (_first == to) { _firstBytes += bytes; return; }
        (_others ??= new()).Add((to, bytes));
    }

    /// <summary>Refunds everything gathered (negative charges) through <paramref name="quota"/>, if one is set.</summary>
    public readonly void Pay(Func<Principal, long, Result>? quota)
    {
        if (quota is null || !_hasFirst) return;
        quota(_first, -_firstBytes);
        if (_others is null) return;
        foreach (var (to, bytes) in _others) quota(to, -bytes);
    }
}
