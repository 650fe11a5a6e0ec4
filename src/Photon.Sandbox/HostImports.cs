using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Ipc;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;
using Wasmtime;

namespace Photon.Sandbox;

/// <summary>
/// The "photon" import module: the only way a guest reaches the kernel. Each function is a syscall in Zircon's shape —
/// check every guest-supplied pointer, length and flag first, then make one call into the kernel's syscall layer as
/// the guest's own process (which resolves the handles and checks their rights — the same code native processes use). Every failure comes back as a negative <see cref="ErrorCode"/>; nothing a guest passes throws.
/// Bytes a call moves are charged to the call's fuel (<see cref="WasmInstance.BytesPerFuel"/>), as WASI's are: a
/// guest cannot make the host copy without bound inside one call's budget.
/// </summary>
internal static class HostImports
{
    public const int MaxLogBytes = 4096;
    public const int MaxFilePathBytes = 4096;

    /// <summary>Largest single file transfer; bigger requests are short reads/writes, as with read(2).</summary>
    public const int MaxFileIoBytes = 1024 * 1024;

    private const int OpenFlagsMask = 7;

    /// <remarks>Each instance gets its own linker, so functions that never touch guest memory are bound to the
    /// instance's <paramref name="store"/> (<see cref="Function.FromCallback{TResult}(Store, Func{TResult})"/>): a call
    /// then skips the <see cref="Caller"/> the linker-level wrappers build per call (two native calls and a handle
    /// lookup, most of a cheap call's cost).</remarks>
    public static Linker Build(Engine engine, Store store, WasmInstance inst, SyscallTable sys, Func<TimeSpan> now)
    {
        var vfs = sys.Files;
        var linker = new Linker(engine);
        var p = inst.Process;

        linker.DefineFunction("photon", "log", (Caller c, int ptr, int len) =>
        {
            if (len > MaxLogBytes || !GuestMemory.TryCopy(c, ptr, len, out var bytes)) return Err(ErrorCode.OutOfRange);
            inst.AddLog(Encoding.UTF8.GetString(bytes));
            return 0;
        });

        linker.Define("photon", "clock_now", Function.FromCallback(store, () => (long)now().TotalNanoseconds));

        linker.DefineFunction("photon", "open", (Caller c, int ptr, int len, int rights) =>
        {
            if (len > NamespacePath.MaxPathLength || !GuestMemory.TryCopy(c, ptr, len, out var bytes)) return Err(ErrorCode.OutOfRange);
            if ((rights & ~(int)Rights.All) != 0) return Err(ErrorCode.InvalidArgument);
            var h = sys.Namespaces.Open(p, Encoding.UTF8.GetString(bytes), (Rights)rights);
            return h.IsOk ? h.Value.Value : Err(h.Code);
        });

        linker.DefineFunction("photon", "region_read", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (!GuestMemory.TryGetSpan(c, ptr, len, out var span)) return Err(ErrorCode.OutOfRange);
            var r = sys.Memory.Read(p, new Handle(handle), offset, span);
            if (r.IsOk) inst.ChargeBytes(len);
            return Code(r, len);
        });

        linker.DefineFunction("photon", "region_write", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (!GuestMemory.TryGetSpan(c, ptr, len, out var span)) return Err(ErrorCode.OutOfRange);
            var r = sys.Memory.Write(p, new Handle(handle), offset, span);
            if (r.IsOk) inst.ChargeBytes(len);
            return Code(r, len);
        });

        linker.DefineFunction("photon", "ipc_send", (Caller c, int handle, int ptr, int len) =>
        {
            if (len > IpcManager.MaxMessageBytes || !GuestMemory.TryCopy(c, ptr, len, out var bytes)) return Err(ErrorCode.OutOfRange);
            inst.ChargeBytes(len);
            return Code(sys.Channels.TrySend(p, new Handle(handle), bytes), len);
        });

        linker.DefineFunction("photon", "ipc_recv", (Caller c, int handle, int ptr, int cap) =>
        {
            // Check the buffer before taking a message, so a bad buffer consumes nothing.
            if (!GuestMemory.TryGetSpan(c, ptr, cap, out _)) return Err(ErrorCode.OutOfRange);
            var m = sys.Channels.TryReceive(p, new Handle(handle));
            if (!m.IsOk) return Err(m.Code);
            // Capabilities sent to a guest would land in its table; it cannot name them yet, so close them.
            foreach (var h in m.Value.Handles) if (h != Handle.Invalid) sys.Handles.Close(p, h);
            // A message longer than the buffer is dropped, like a datagram read with a short buffer (MSG_TRUNC).
            if (m.Value.Data.Length > cap) return Err(ErrorCode.OutOfRange);
            // Host calls do not run guest code, so the range checked above is still the guest's.
            if (!GuestMemory.TryGetSpan(c, ptr, m.Value.Data.Length, out var span)) return Err(ErrorCode.OutOfRange);
            m.Value.Data.CopyTo(span);
            inst.ChargeBytes(m.Value.Data.Length);
            return m.Value.Data.Length;
        });

        // Files: a guest opens paths under the mounts bound in its namespace (a mount granted as "data" is "/data/...").
        // Host calls are synchronous; the VFS, filesystem and block paths never need a kernel CPU to complete
        // (ConfigureAwait(false) throughout), so waiting here is a blocking syscall, not a deadlock.
        linker.DefineFunction("photon", "file_open", (Caller c, int ptr, int len, int rights, int flags) =>
        {
            if (vfs is null) return Err(ErrorCode.NotSupported);
            if (len > MaxFilePathBytes || !GuestMemory.TryCopy(c, ptr, len, out var bytes)) return Err(ErrorCode.OutOfRange);
            if ((rights & ~(int)(Rights.Read | Rights.Write)) != 0 || (flags & ~OpenFlagsMask) != 0) return Err(ErrorCode.InvalidArgument);
            var h = vfs.OpenAsync(p, Encoding.UTF8.GetString(bytes), (Rights)rights, (OpenFlags)flags).AsTask().GetAwaiter().GetResult();
            return h.IsOk ? h.Value.Value : Err(h.Code);
        });

        linker.DefineFunction("photon", "file_read", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (vfs is null) return Err(ErrorCode.NotSupported);
            if (offset < 0 || !GuestMemory.TryGetSpan(c, ptr, len, out _)) return Err(ErrorCode.OutOfRange);
            // A pooled buffer: a guest looping on 1 MiB reads must not allocate 1 MiB of fresh heap per call.
            int want = Math.Min(len, MaxFileIoBytes);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(want, 1));
            try
            {
                var n = vfs.ReadAsync(p, new Handle(handle), offset, buffer.AsMemory(0, want)).AsTask().GetAwaiter().GetResult();
                if (!n.IsOk) return Err(n.Code);
                if (n.Value < 0 || n.Value > want || !GuestMemory.TryGetSpan(c, ptr, n.Value, out var span)) return Err(ErrorCode.OutOfRange);
                buffer.AsSpan(0, n.Value).CopyTo(span);
                inst.ChargeBytes(n.Value);
                return n.Value;
            }
            finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        });

        linker.DefineFunction("photon", "file_write", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (vfs is null) return Err(ErrorCode.NotSupported);
            if (offset < 0 || !GuestMemory.TryGetSpan(c, ptr, len, out var span)) return Err(ErrorCode.OutOfRange);
            var bytes = span[..Math.Min(len, MaxFileIoBytes)].ToArray();
            var w = vfs.WriteAsync(p, new Handle(handle), offset, bytes).AsTask().GetAwaiter().GetResult();
            if (w.IsOk) inst.ChargeBytes(bytes.Length);
            return w.IsOk ? bytes.Length : Err(w.Code);
        });

        linker.Define("photon", "file_close", Function.FromCallback(store, (int handle) =>
        {
            if (vfs is null) return Err(ErrorCode.NotSupported);
            var r = vfs.Close(p, new Handle(handle));
            return r.IsOk ? 0 : Err(r.Code);
        }));
        return linker;
    }

    private static int Err(ErrorCode code) => -(int)code;

    private static int Code(Result r, int ok) => r.IsOk ? ok : Err(r.Code);
}
