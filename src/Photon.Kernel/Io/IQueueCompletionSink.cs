namespace Photon.Kernel.Io;

/// <summary>
/// Where a <see cref="QueuePair{TRequest,TResult}"/> delivers the completions of requests submitted without a task
/// (<see cref="QueuePair{TRequest,TResult}.SubmitBatch(ReadOnlySpan{TRequest}, ReadOnlySpan{int}, IQueueCompletionSink{TResult}, Capabilities.CapabilityToken, Capabilities.Rights, Principal)"/>):
/// a consumer that keeps its own requests in flight (a NIC's posted receive buffers) and would otherwise pay a completion
/// source, a task and a cancellation registration for each.
/// </summary>
public interface IQueueCompletionSink<TResult>
{
    /// <summary>The request submitted with <paramref name="cookie"/> completed (once each; Closed when the pair closed).
    /// Called on the completing thread, outside the pair's lock, once the request's tag is free again — which is why the
    /// request is named by the submitter's cookie, not by its tag. Must be short and must not block.</summary>
    void OnCompleted(int cookie, Result<TResult> result);
}
