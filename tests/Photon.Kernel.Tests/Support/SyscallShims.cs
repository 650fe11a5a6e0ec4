using System.Runtime.CompilerServices;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests;

/// <summary>
/// Test shorthand: a test that acts as a process writes <c>p.AllocateMemory(n)</c> or <c>ipc.TrySend(p, …)</c>, and
/// this routes the call through the real syscall layer with <c>p</c> as the caller — the same path a process, a Wasm
/// guest or a native service takes. Nothing here checks anything itself.
/// </summary>
internal static class SyscallShims
{
    private static readonly ConditionalWeakTable<ProcessManager, SyscallTable> Tables = new();
    private static readonly ConditionalWeakTable<IpcManager, ChannelSyscalls> Channels = new();

    private static SyscallTable Sys(Process p) =>
        Tables.GetValue(p.Manager, pm => new SyscallTable(pm, new IpcManager(pm.Capabilities, pm.Namespaces, new NoTimers())));

    private static ChannelSyscalls Chan(IpcManager ipc) => Channels.GetValue(ipc, i => new ChannelSyscalls(i));

    // ---- handles, namespaces, memory ----
    public static Result<Handle> AllocateMemory(this Process p, long bytes) => Sys(p).Memory.Allocate(p, bytes);
    public static Result ReadMemory(this Process p, Handle h, long offset, Span<byte> dst) => Sys(p).Memory.Read(p, h, offset, dst);
    public static Result WriteMemory(this Process p, Handle h, long offset, ReadOnlySpan<byte> src) => Sys(p).Memory.Write(p, h, offset, src);
    public static Result<RegionMapping> MapMemory(this Process p, Handle h) => Sys(p).Memory.Map(p, h);
    public static Result FreeMemory(this Process p, Handle h) => Sys(p).Memory.Free(p, h);
    public static Result<(Handle Low, Handle High)> SplitMemory(this Process p, Handle h, long at) => Sys(p).Memory.Split(p, h, at);
    public static Result<Handle> ShareReadOnly(this Process p, Handle h) => Sys(p).Memory.ShareReadOnly(p, h);
    public static Result<Handle> Delegate(this Process p, Handle h, Process target, Rights rights) => Sys(p).Handles.DelegateTo(p, h, target, rights);
    public static Result<int> RevokeDerived(this Process p, Handle h) => Sys(p).Handles.RevokeDerived(p, h);
    public static Result<Handle> Duplicate(this Process p, Handle h, Rights rights) => Sys(p).Handles.Duplicate(p, h, rights);
    public static Result Bind(this Process p, Handle ns, string name, Handle h, Rights rights) => Sys(p).Namespaces.Bind(p, ns, name, h, rights);

    // ---- IPC: the old IpcManager call shapes, now the channel syscalls ----
    public static Result<(Handle A, Handle B)> CreateChannel(this IpcManager ipc, Process p, int depth = IpcManager.DefaultDepth) => Chan(ipc).CreateChannel(p, depth);
    public static Result TrySend(this IpcManager ipc, Process p, Handle h, ReadOnlySpan<byte> data, IReadOnlyList<HandleTransfer>? handles = null) => Chan(ipc).TrySend(p, h, data, handles);
    public static Task<Result> SendAsync(this IpcManager ipc, Process p, Handle h, ReadOnlyMemory<byte> data, IReadOnlyList<HandleTransfer>? handles = null, CancellationToken ct = default) => Chan(ipc).SendAsync(p, h, data, handles, ct);
    public static Result<IpcMessage> TryReceive(this IpcManager ipc, Process p, Handle h) => Chan(ipc).TryReceive(p, h);
    public static Task<Result<IpcMessage>> ReceiveAsync(this IpcManager ipc, Process p, Handle h, CancellationToken ct = default) => Chan(ipc).ReceiveAsync(p, h, ct).AsTask();
    public static Task<Result<int>> WaitAnyAsync(this IpcManager ipc, Process p, IReadOnlyList<Handle> hs, CancellationToken ct = default) => Chan(ipc).WaitAnyAsync(p, hs, ct);
    public static Result Close(this IpcManager ipc, Process p, Handle h) => Chan(ipc).Close(p, h);
    public static Task<Result<IpcMessage>> CallAsync(this IpcManager ipc, Process p, Handle h, ReadOnlyMemory<byte> request, TimeSpan timeout, IReadOnlyList<HandleTransfer>? handles = null, CancellationToken ct = default) => Chan(ipc).CallAsync(p, h, request, timeout, handles, ct);
    public static Task<Result> ReplyAsync(this IpcManager ipc, Process p, IpcMessage request, ReadOnlyMemory<byte> reply, IReadOnlyList<HandleTransfer>? handles = null) => Chan(ipc).ReplyAsync(p, request, reply, handles);
    public static Result<Handle> Listen(this IpcManager ipc, Process p, int backlog = 16) => Chan(ipc).Listen(p, backlog);
    public static Result<Handle> Connect(this IpcManager ipc, Process p, string path, int depth = IpcManager.DefaultDepth) => Chan(ipc).Connect(p, path, depth);
    public static Task<Result<(Handle Endpoint, Principal Client)>> AcceptAsync(this IpcManager ipc, Process p, Handle listener, CancellationToken ct = default) => Chan(ipc).AcceptAsync(p, listener, ct);

    private sealed class NoTimers : Photon.Kernel.Scheduling.IKernelTimers
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        public TimeSpan Now => _clock.Elapsed;
        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(due, cancellationToken);
    }
}
