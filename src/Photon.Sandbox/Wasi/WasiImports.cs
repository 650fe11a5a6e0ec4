using Photon.Kernel.Syscalls;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// The <c>wasi_snapshot_preview1</c> import module as Photon host functions — not Wasmtime's built-in WASI, which
/// would reach the host filesystem directly. Every call goes through <see cref="WasiContext"/> to the kernel's
/// syscall layer as the guest's process. Calls Photon does not offer answer ENOSYS (or ENOTSUP for sockets, links
/// and times), so a program linked against them still loads. No exception other than <c>proc_exit</c>'s leaves a
/// call: a host bug is logged and answered with EIO.
/// </summary>
internal static class WasiImports
{
    public const string Module = "wasi_snapshot_preview1";

    private delegate WasiErrno Call(Caller c, ReadOnlySpan<ValueBox> a);

    public static void Define(Linker linker, WasiContext cx)
    {
        void Def(string name, string sig, Call body)
        {
            var kinds = sig.Select(ch => ch == 'l' ? ValueKind.Int64 : ValueKind.Int32).ToArray();
            linker.DefineFunction(Module, name, (Caller c, ReadOnlySpan<ValueBox> a, Span<ValueBox> r) =>
            {
                WasiErrno e;
                try { e = body(c, a); }
                catch (WasiExitException) { throw; }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    cx.Instance.AddLog($"wasi {name}: host error {ex.GetType().Name}: {ex.Message}");
                    e = WasiErrno.Io;
                }
                r[0] = (int)e;
            }, kinds, [ValueKind.Int32]);
        }

        static int I(ReadOnlySpan<ValueBox> a, int i) => a[i].AsInt32();
        static long L(ReadOnlySpan<ValueBox> a, int i) => a[i].AsInt64();
        var env = WasiProcessCalls.EnvStrings(cx.Options);

        Def("args_sizes_get", "ii", (c, a) => WasiProcessCalls.SizesGet(c, cx.Options.Args, I(a, 0), I(a, 1)));
        Def("args_get", "ii", (c, a) => WasiProcessCalls.Get(c, cx.Options.Args, I(a, 0), I(a, 1)));
        Def("environ_sizes_get", "ii", (c, a) => WasiProcessCalls.SizesGet(c, env, I(a, 0), I(a, 1)));
        Def("environ_get", "ii", (c, a) => WasiProcessCalls.Get(c, env, I(a, 0), I(a, 1)));
        Def("clock_res_get", "ii", (c, a) => WasiProcessCalls.ClockResGet(c, I(a, 0), I(a, 1)));
        Def("clock_time_get", "ili", (c, a) => WasiProcessCalls.ClockTimeGet(cx, c, I(a, 0), I(a, 2)));
        Def("random_get", "ii", (c, a) => WasiProcessCalls.RandomGet(cx, c, I(a, 0), I(a, 1)));
        // A guest is one thread: there is nothing of its own to yield to, and the kernel CPU it runs on is preempted by
        // the host anyway (the sandbox, above the HAL, does not touch host threads).
        Def("sched_yield", "", (c, a) => WasiErrno.Success);
        Def("poll_oneoff", "iiii", (c, a) => WasiPollCalls.PollOneoff(cx, c, I(a, 0), I(a, 1), I(a, 2), I(a, 3)));
        Def("proc_raise", "i", (c, a) => WasiErrno.NoSys);
        linker.DefineFunction(Module, "proc_exit", (int code) => throw new WasiExitException(code));

        Def("fd_read", "iiii", (c, a) => WasiFdCalls.Read(cx, c, I(a, 0), I(a, 1), I(a, 2), null, I(a, 3)));
        Def("fd_pread", "iiili", (c, a) => WasiFdCalls.Read(cx, c, I(a, 0), I(a, 1), I(a, 2), L(a, 3), I(a, 4)));
        Def("fd_write", "iiii", (c, a) => WasiFdCalls.Write(cx, c, I(a, 0), I(a, 1), I(a, 2), null, I(a, 3)));
        Def("fd_pwrite", "iiili", (c, a) => WasiFdCalls.Write(cx, c, I(a, 0), I(a, 1), I(a, 2), L(a, 3), I(a, 4)));
        Def("fd_seek", "ilii", (c, a) => WasiFdCalls.Seek(cx, c, I(a, 0), L(a, 1), I(a, 2), I(a, 3)));
        Def("fd_tell", "ii", (c, a) => WasiFdCalls.Tell(cx, c, I(a, 0), I(a, 1)));
        Def("fd_close", "i", (c, a) => WasiFdCalls.Close(cx, I(a, 0)));
        Def("fd_fdstat_get", "ii", (c, a) => WasiFdCalls.FdstatGet(cx, c, I(a, 0), I(a, 1)));
        Def("fd_fdstat_set_flags", "ii", (c, a) => WasiFdCalls.FdstatSetFlags(cx, I(a, 0), I(a, 1)));
        Def("fd_fdstat_set_rights", "ill", (c, a) => cx.Fds.TryGet(I(a, 0), out _) ? WasiErrno.Success : WasiErrno.BadF);
        Def("fd_filestat_get", "ii", (c, a) => WasiFdCalls.FilestatGet(cx, c, I(a, 0), I(a, 1)));
        Def("fd_filestat_set_size", "il", (c, a) => WasiFdCalls.FilestatSetSize(cx, I(a, 0), L(a, 1)));
        Def("fd_filestat_set_times", "illi", (c, a) => WasiErrno.NotSup);
        Def("fd_readdir", "iiili", (c, a) => WasiFdCalls.Readdir(cx, c, I(a, 0), I(a, 1), I(a, 2), L(a, 3), I(a, 4)));
        Def("fd_prestat_get", "ii", (c, a) => WasiFdCalls.PrestatGet(cx, c, I(a, 0), I(a, 1)));
        Def("fd_prestat_dir_name", "iii", (c, a) => WasiFdCalls.PrestatDirName(cx, c, I(a, 0), I(a, 1), I(a, 2)));
        Def("fd_sync", "i", (c, a) => WasiFdCalls.Sync(cx, I(a, 0)));
        Def("fd_datasync", "i", (c, a) => WasiFdCalls.Sync(cx, I(a, 0)));
        Def("fd_advise", "illi", (c, a) => cx.Fds.TryGet(I(a, 0), out _) ? WasiErrno.Success : WasiErrno.BadF); // advice may be ignored
        Def("fd_allocate", "ill", (c, a) => WasiErrno.NotSup);
        Def("fd_renumber", "ii", (c, a) => WasiErrno.NoSys);

        Def("path_open", "iiiiillii", (c, a) => WasiPathCalls.Open(cx, c, I(a, 0), I(a, 1), I(a, 2), I(a, 3), I(a, 4), L(a, 5), I(a, 7), I(a, 8)));
        Def("path_filestat_get", "iiiii", (c, a) => WasiPathCalls.FilestatGet(cx, c, I(a, 0), I(a, 1), I(a, 2), I(a, 3), I(a, 4)));
        Def("path_create_directory", "iii", (c, a) => WasiPathCalls.CreateDirectory(cx, c, I(a, 0), I(a, 1), I(a, 2)));
        Def("path_unlink_file", "iii", (c, a) => WasiPathCalls.UnlinkFile(cx, c, I(a, 0), I(a, 1), I(a, 2)));
        Def("path_remove_directory", "iii", (c, a) => WasiPathCalls.RemoveDirectory(cx, c, I(a, 0), I(a, 1), I(a, 2)));
        Def("path_rename", "iiiiii", (c, a) => WasiPathCalls.Rename(cx, c, I(a, 0), I(a, 1), I(a, 2), I(a, 3), I(a, 4), I(a, 5)));
        Def("path_filestat_set_times", "iiiilli", (c, a) => WasiErrno.NotSup);
        Def("path_link", "iiiiiii", (c, a) => WasiErrno.NotSup);
        Def("path_symlink", "iiiii", (c, a) => WasiErrno.NotSup);
        Def("path_readlink", "iiiiii", (c, a) => WasiErrno.NotSup);

        Def("sock_accept", "iii", (c, a) => WasiErrno.NotSup);
        Def("sock_recv", "iiiiii", (c, a) => WasiErrno.NotSup);
        Def("sock_send", "iiiii", (c, a) => WasiErrno.NotSup);
        Def("sock_shutdown", "ii", (c, a) => WasiErrno.NotSup);
    }
}
