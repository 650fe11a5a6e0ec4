using System.Runtime.CompilerServices;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// A reference to one generation of a pooled kernel task (<see cref="KernelScheduler.SpawnPooled"/>): the task object
/// and the id it was spawned with (every spawn takes a new one). The object is recycled once that generation ran to
/// completion, so every entry point first checks the id and the task's retired flag: a handle to a finished, recycled task reads RanToCompletion, joins at once, cancels
/// nothing and can never observe or affect the task that reuses the object. A handle that reaches the object itself
/// (join, cancel, <see cref="TryGetTask"/>) pins it first, so that generation is never recycled.
/// </summary>
public readonly struct KernelTaskHandle : IEquatable<KernelTaskHandle>
{
    private readonly KernelTask? _task;

    internal KernelTaskHandle(KernelTask task, int id)
    {
        _task = task;
        Id = id;
    }

    /// <summary>The task's id (its spawn number), kept in the handle: valid after the object was recycled.</summary>
    public int Id { get; }

    /// <summary>The task's state; RanToCompletion once it finished and its object was recycled.</summary>
    public KernelTaskState State => Task.StateOf(Id);

    /// <summary>True once the task finished (ran to completion, faulted or was canceled).</summary>
    public bool IsCompleted => State >= KernelTaskState.RanToCompletion;

    /// <summary>Completes when this generation finishes, with its outcome (at once if it already finished and was
    /// recycled: only a task that ran to completion is).</summary>
    public Task Join() => TryGetTask(out var task) ? task.Completion : System.Threading.Tasks.Task.CompletedTask;

    public TaskAwaiter GetAwaiter() => Join().GetAwaiter();

    /// <summary>Requests cancellation, as <see cref="KernelTask.Cancel"/>. False (and nothing done) when this generation
    /// already finished and its object was recycled.</summary>
    public bool Cancel()
    {
        if (!TryGetTask(out var task)) return false;
        task.Cancel();
        return true;
    }

    /// <summary>The task object itself, pinned so it is never recycled; false when this generation already finished
    /// and the object was recycled.</summary>
    public bool TryGetTask(out KernelTask task)
    {
        task = Task;
        return task.TryPin(Id);
    }

    private KernelTask Task => _task ?? throw new KernelException(ErrorCode.InvalidArgument, "default KernelTaskHandle names no task");

    public bool Equals(KernelTaskHandle other) => ReferenceEquals(_task, other._task) && Id == other.Id;
    public override bool Equals(object? obj) => obj is KernelTaskHandle other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_task, Id);
    public static bool operator ==(KernelTaskHandle a, KernelTaskHandle b) => a.Equals(b);
    public static bool operator !=(KernelTaskHandle a, KernelTaskHandle b) => !a.Equals(b);
    public override string ToString() => $"#{Id} ({(_task is null ? "none" : State.ToString())})";
}
