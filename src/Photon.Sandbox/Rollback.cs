using Photon.Kernel;

namespace Photon.Sandbox;

/// <summary>
/// The undo log of a multi-step setup: each step that changed something registers how to give it back; a failure
/// runs them newest first, so a setup either completes or leaves nothing behind.
/// </summary>
internal sealed class Rollback
{
    private readonly Stack<Action> _undo = new();

    public void Add(Action undo) => _undo.Push(undo);

    /// <summary>Undoes every step and returns <paramref name="error"/>, for <c>return rollback.Fail(e)</c>.</summary>
    public KernelError Fail(KernelError error)
    {
        Run();
        return error;
    }

    public void Run()
    {
        while (_undo.TryPop(out var step)) step();
    }

    /// <summary>The setup completed: nothing is undone any more.</summary>
    public void Commit() => _undo.Clear();
}
