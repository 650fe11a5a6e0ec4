namespace Photon.Kernel.Scheduling;

/// <summary>
/// Work that a kernel object queues on a kernel CPU by itself, with no delegate or wrapper allocated per queueing: the
/// object (usually a pooled waiter) is the work item, passed to <see cref="KernelScheduler.Post(IKernelWorkItem, TaskPriority)"/>.
/// <see cref="Execute"/> runs on a CPU worker like any continuation: under the owner's context when it has one, watched
/// for starvation, charged to the owner's CPU account.
/// </summary>
public interface IKernelWorkItem
{
    void Execute();
}
