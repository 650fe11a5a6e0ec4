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
    private int _holds;
    private bool _sealed;

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

    /// <summary>
    /// Takes a long-lived reference to the module's code that outlives any one call (a filesystem mounted through
    /// the export, like a Linux superblock's module reference): the module cannot unload while one is held. False
    /// once unload has sealed the rundown. Calls inside may still take one after <see cref="Close"/> (a revoked
    /// registration): the module itself stays loaded.
    /// </summary>
    public bool TryHold()
    {
        lock (_lock)
        {
            if (_sealed) return false;
            _holds++;
            return true;
        }
    }

    /// <summary>Gives back a reference taken with <see cref="TryHold"/>.</summary>
    public void ReleaseHold()
    {
        lock (_lock) _holds--;
    }

    /// <summary>References held now.</summary>
    public int Holds
    {
        get { lock (_lock) return _holds; }
    }

    /// <summary>Unload's check, in one step with refusing new references: false while any is held (nothing
    /// changes), otherwise no <see cref="TryHold"/> succeeds any more.</summary>
    public bool TrySeal(out int holds)
    {
        lock (_lock)
        {
            holds = _holds;
            if (holds > 0) return false;
            _sealed = true;
            return true;
        }
    }

    /// <summary>Undoes <see cref="TrySeal"/> when unload is refused because another export is still held.</summary>
    public void Unseal()
    {
        lock (_lock) _sealed = false;
    }
}

/// <summary>A kernel object through which the kernel calls code a module supplied (a registered driver or service).
/// A module that adopts a capability to one (<see cref="ModuleContext.Adopt"/>) is not unloaded until its calls drained.</summary>
public interface IModuleExport
{
    CallRundown Calls { get; }
}
