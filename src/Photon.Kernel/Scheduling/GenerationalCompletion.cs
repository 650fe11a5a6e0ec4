using System.Threading.Tasks.Sources;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// A reusable awaitable completion, completed at most once per generation: each <see cref="Arm"/> starts a new one, and
/// a completion names the generation it was decided for (<see cref="TrySetResult"/>). The generation and the completed
/// bit share one word, so a late completion of an older use (a deferred wake, a cancellation) can never complete a newer
/// one (no ABA). What a parked socket call and a host receive ring's reader reuse instead of a completion source and task
/// per wait.
/// </summary>
internal class GenerationalCompletion<T> : IValueTaskSource<T>
{
    private ManualResetValueTaskSourceCore<T> _core;
    private int _state; // generation << 1 | completed
    private bool _armed;

    /// <summary>The current use's generation.</summary>
    public int Generation => Volatile.Read(ref _state) >> 1;

    /// <summary>Completed in the current generation?</summary>
    public bool IsCompleted => (Volatile.Read(ref _state) & 1) != 0;

    /// <summary>Starts a new generation (by the one owner, before anyone may complete it; the previous use's result was
    /// taken) and returns it.</summary>
    protected int Arm(bool runContinuationsAsynchronously)
    {
        if (_armed) _core.Reset(); // new version; the old generation's awaiter has taken its result
        _armed = true;
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        int generation = (short)_core.Version;
        Volatile.Write(ref _state, generation << 1); // published after the reset: the generation's first word
        return generation;
    }

    /// <summary>Completes generation <paramref name="generation"/> only: false when it has moved on or that generation
    /// already completed.</summary>
    public bool TrySetResult(T value, int generation)
    {
        int pending = generation << 1;
        if (Interlocked.CompareExchange(ref _state, pending | 1, pending) != pending) return false;
        _core.SetResult(value);
        return true;
    }

    /// <summary>The current generation's completion, to await once.</summary>
    public ValueTask<T> AsValueTask() => new(this, _core.Version);

    /// <summary>Called once the awaiter has taken the current generation's result.</summary>
    protected virtual void OnResultTaken() { }

    T IValueTaskSource<T>.GetResult(short token)
    {
        var r = _core.GetResult(token);
        OnResultTaken();
        return r;
    }

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
