using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Cli.Shell;

/// <summary>
/// The shell's own process and what it holds: its namespace handle and the handles it got from its commands
/// (control handles of the processes it spawned, mounts it made). Commands act only through <see cref="Sys"/> as
/// <see cref="Self"/>, so the shell can do exactly what its namespace capability allows — a shell started in
/// /tenant-a sees /tenant-a as "/" and nothing else.
/// </summary>
public sealed class ShellSession
{
    /// <summary>Rights the shell holds on its own namespace: look up, list, bind, create (processes, child namespaces), delegate.</summary>
    public const Rights NamespaceRights = Rights.Read | Rights.Enumerate | Rights.Bind | Rights.Create | Rights.Delegate;

    private ShellSession(SyscallTable sys, Process self, Handle root, Handle? sandbox, Handle? trace, TextWriter output)
    {
        Sys = sys;
        Self = self;
        Root = root;
        Sandbox = sandbox;
        Trace = trace;
        Out = output;
    }

    public SyscallTable Sys { get; }

    /// <summary>The shell's process: the caller of every system call it makes.</summary>
    public Process Self { get; }

    /// <summary>A handle to the shell's own namespace (its "/") with <see cref="NamespaceRights"/>.</summary>
    public Handle Root { get; }

    /// <summary>The Wasm sandbox (Execute only), delegated by init at start when the kernel has one.</summary>
    public Handle? Sandbox { get; }

    /// <summary>The kernel's trace control (Manage), delegated by init only to a shell in the root namespace: a tenant's
    /// shell cannot start or stop tracing, which sees every tenant's events.</summary>
    public Handle? Trace { get; }

    /// <summary>Where commands write (the terminal, or a buffer in tests).</summary>
    public TextWriter Out { get; }

    /// <summary>Control handles of the processes this shell spawned, by pid: the only processes it can kill.</summary>
    public Dictionary<int, Handle> Children { get; } = new();

    /// <summary>Set by <c>exit</c>.</summary>
    public bool ExitRequested { get; set; }

    /// <summary>
    /// Init spawns the shell as a process in <paramref name="namespacePath"/> ("/" or a tenant such as "/tenant-a")
    /// with <see cref="NamespaceRights"/>, and hands it Execute on /sandbox.
    /// </summary>
    public static Result<ShellSession> Start(PhotonKernel k, string namespacePath, TextWriter output)
    {
        var sys = k.Sys;
        var ns = sys.Namespaces.Open(k.Init, namespacePath == "/" ? "" : namespacePath, NamespaceRights);
        if (!ns.IsOk) return Errors.Of(ns.Code, $"cannot start a shell in {namespacePath}: {ns.Error.Message}");
        // Init keeps its handles to the namespace and the sandbox for as long as the kernel runs: the shell's
        // capabilities are derived from them, and closing a handle revokes what was derived from it.
        var spawned = sys.Processes.Spawn(k.Init, ns.Value, "shell", NamespaceRights);
        if (!spawned.IsOk) { sys.Handles.Close(k.Init, ns.Value); return spawned.Error; }
        var (control, self) = spawned.Value;
        var root = sys.Namespaces.Open(self, "", NamespaceRights);
        if (!root.IsOk) return root.Error;
        Handle? sandbox = null;
        if (sys.Namespaces.Open(k.Init, "/sandbox", Rights.Execute | Rights.Delegate) is { IsOk: true } sb)
        {
            var given = sys.Handles.Delegate(k.Init, sb.Value, control, Rights.Execute);
            if (given.IsOk) sandbox = given.Value;
            else sys.Handles.Close(k.Init, sb.Value);
        }
        Handle? trace = null;
        if (namespacePath == "/")
        {
            var given = sys.Handles.Delegate(k.Init, k.InitTrace, control, Rights.Manage | Rights.Read);
            if (given.IsOk) trace = given.Value;
        }
        return new ShellSession(sys, self, root.Value, sandbox, trace, output);
    }

    /// <summary>Runs <paramref name="body"/> as a task of the shell's process (charged to its tenant, cancelled when
    /// the process is destroyed) and waits for its result.</summary>
    public async Task<Result> RunAsTaskAsync(Func<CancellationToken, Task<Result>> body, string name)
    {
        Result outcome = Result.Ok;
        var started = Sys.Processes.StartTask(Self, async ct => outcome = await body(ct).ConfigureAwait(true), name);
        if (!started.IsOk) return started.Error;
        var done = await Errors.CatchAsync(() => started.Value).ConfigureAwait(false);
        return done.IsOk ? outcome : done;
    }
}
