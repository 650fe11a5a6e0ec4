namespace Photon.Kernel.Drivers.Nvme;

/// <summary>
/// A controller's interrupt queues under NAPI-style busy polling at depth (<see cref="NvmeDriverOptions.DepthPoll"/>):
/// one token, so at most one interrupt line polls at a time, and it polls the others' queues too.
/// </summary>
internal sealed class DepthPollGroup(IReadOnlyList<NvmeQueuePair> queues)
{
    private int _held;

    public bool TryEnter() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    public void Exit() => Volatile.Write(ref _held, 0);

    /// <summary>Reaps every queue of the group but <paramref name="self"/>; returns how many completions were consumed.</summary>
    public int PollOthers(NvmeQueuePair self)
    {
        int n = 0;
        foreach (var q in queues) if (!ReferenceEquals(q, self)) n += q.Poll();
        return n;
    }

    public bool AnyInFlight()
    {
        foreach (var q in queues) if (q.InFlight > 0) return true;
        return false;
    }
}
