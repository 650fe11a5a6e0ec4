namespace Photon.Kernel.Modules;

/// <summary>
/// Rundown protection for calls into module code (the pattern of Windows' ExAcquireRundownProtection): each call
/// enters before it runs the module's code and exits after; <see cref="Close"/> (at revoke) refuses new entries, and
/// <see cref="Drained"/> completes once it is closed and no call is inside. The module loader awaits it before it
/// unloads the code, so once unload has returned no call runs the module's code.
/// </summary>
public sealed class CallRundown
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inside;
    private bool _closed;

    /// <summary>Enters a call; false once closed (the caller reports Revoked and runs nothing).</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_closed) return false;
            _inside++;
            return true;
        }
    }

    /// <summary>Leaves a call entered with <see cref="TryEnter"/>.</summary>
    public void Exit()
    {
        bool drained;
        lock (_lock)
        {
            _inside--;
            drained = _closed && _inside == 0;
        }
        if (drained) _drained.TrySetResult();
    }

    /// <summary>Refuses new calls; calls already inside run to their end.</summary>
    public void Close()
    {
        bool drained;
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            drained = _inside == 0;
        }
        if (drained) _drained.TrySetResult();
    }

    /// <summary>Completes when closed and no call is inside.</summary>
    public Task Drained => _drained.Task;
}

/// <summary>A kernel object through which the kernel calls code a module supplied (a registered driver or service).
/// A module that adopts a capability to one (<see cref="ModuleContext.Adopt"/>) is not unloaded until its calls drained.</summary>
public interface IModuleExport
{
    CallRundown Calls { get; }
}
