using System.Buffers.Binary;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;
using Photon.Sandbox;
using Photon.Sandbox.Wasi;

namespace Photon.Fuzz.Targets;

/// <summary>
/// Wasm host-function arguments. A fixed guest (<see cref="WasmHostCallGuest"/>) re-exports every "photon" import and
/// the WASI calls Photon implements; the input is a list of calls — one byte choosing the call, then its i32
/// arguments, 4 bytes each, little-endian (i64 arguments are two i32 halves) — so AFL chooses every pointer, length,
/// handle, fd, iovec count and flag. Each input gets a fresh instance over a fresh FAT volume (granted as "data" and
/// preopened as /data), a memory region and an IPC channel. Findings: a call that traps or kills the guest, an answer
/// that is not a typed error (photon: ≥ 0 or a defined negative ErrorCode; WASI: a defined errno), a host exception
/// the WASI layer had to catch ("host error" in the log), capabilities left behind after the instance stopped, or
/// broken capability invariants. A process crash (guest memory corruption reaching the host) is AFL's own finding.
/// </summary>
public sealed class WasmHostCallTarget : IFuzzTarget
{
    private const int MaxCalls = 64;
    private const int RegionBytes = 4096;

    /// <summary>A poll_oneoff with a hostile timeout legitimately sleeps; the supervisor stops the guest after this.</summary>
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(1);

    private static readonly Lazy<Kernel> Shared = new(() => new Kernel());

    public string Name => "wasm";

    /// <summary>Per input: a 64 KiB volume, the instance, and at most 64 calls moving at most 1 MiB each.</summary>
    private const long MaxAllocatedBytes = 256L * 1024 * 1024;

    public void Run(byte[] input) => AllocationBound.Run(Name, MaxAllocatedBytes, () => Shared.Value.Run(input));

    private sealed class Kernel
    {
        private readonly PhysicalMemory _phys = new(16 * 1024 * 1024);
        private readonly HostClock _clock = new();
        private readonly CapabilityManager _caps;
        private readonly NamespaceManager _ns;
        private readonly ProcessManager _pm;
        private readonly ChannelSyscalls _channels;
        private readonly VirtualFileSystem _vfs;
        private readonly WasmSandbox _sandbox;
        private readonly CapabilityToken _tenant, _region, _chan;
        private readonly Process _svc;
        private readonly Handle _mine, _theirs;
        private readonly byte[] _wasm = Wasmtime.Module.ConvertText(WasmHostCallGuest.Wat);

        public Kernel()
        {
            _caps = new CapabilityManager(new InMemoryAuditSink());
            _ns = new NamespaceManager(_caps);
            var mm = new MemoryManager(_phys, _caps);
            _pm = new ProcessManager(_caps, _ns, mm) { Timers = new HostTimers(_clock) };
            var ipc = new IpcManager(_caps, _ns, new HostTimers(_clock));
            _channels = new ChannelSyscalls(ipc);
            _vfs = new VirtualFileSystem(_caps, _ns);
            _sandbox = new WasmSandbox(_caps, _ns, _pm, mm, ipc, () => _clock.Monotonic, vfs: _vfs)
            {
                DefaultQuota = new TenantQuota(MaxInstances: 2, MaxMemoryBytes: 8 * 1024 * 1024),
            };
            _tenant = _ns.CreateChild(_ns.RootCapability, "tenant").Value;
            _region = mm.Allocate(RegionBytes, Principal.Kernel).Value;
            (_svc, _) = _pm.Spawn("svc", _tenant).Value;
            (_mine, _theirs) = _channels.CreateChannel(_svc).Value;
            _chan = _svc.TokenOf(_theirs).Value;
        }

        public void Run(byte[] input)
        {
            long capsBefore = _caps.LiveCount;
            var disk = new MemoryDisk(WasmHostCallGuest.FatImage);
            var mount = _vfs.MountAsync(new FatFileSystemDriver(), disk, new MountOptions(), Principal.Kernel).AsTask().GetAwaiter().GetResult();
            if (!mount.IsOk) throw new FuzzFinding($"the seed FAT volume does not mount: {mount.Error}");
            var started = _sandbox.InstantiateWasi(_tenant, "fuzz", _wasm,
            [
                new SandboxGrant("region", _region, Rights.Read | Rights.Write),
                new SandboxGrant("chan", _chan, Rights.Read | Rights.Write),
                new SandboxGrant("data", mount.Value, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create | Rights.Delete),
            ], new WasiOptions { Args = ["fuzz", "arg"], Environment = [new("K", "V")], Stdin = "stdin bytes"u8.ToArray(),
                Preopens = [new WasiPreopen("/data", "data")], Output = new DiscardOutput() },
            new SandboxLimits(MaxMemoryBytes: 1024 * 1024));
            if (!started.IsOk) throw new FuzzFinding($"the guest does not start: {started.Error}");
            var g = started.Value;
            bool watchdogFired = false;
            using (new Timer(_ => { watchdogFired = true; g.Stop(); }, null, Watchdog, Timeout.InfiniteTimeSpan))
            {
                try { Calls(g, input, () => Volatile.Read(ref watchdogFired)); }
                finally
                {
                    g.StopAsync().GetAwaiter().GetResult();
                    if (g.Log.FirstOrDefault(l => l.Contains("host error", StringComparison.Ordinal)) is { } hostError)
                        throw new FuzzFinding($"a host function threw: {hostError}");
                }
            }
            var unmounted = _vfs.UnmountAsync(mount.Value, Principal.Kernel).AsTask().GetAwaiter().GetResult();
            if (!unmounted.IsOk) throw new FuzzFinding($"unmount after the guest stopped: {unmounted.Error}");
            // What the guest sent, or what svc queued, is data, not capabilities; drain it so inputs stay independent.
            while (_channels.TryReceive(_svc, _mine).IsOk || _channels.TryReceive(_svc, _theirs).IsOk) { }
            if (_caps.LiveCount != capsBefore) throw new FuzzFinding($"capabilities leaked: {_caps.LiveCount} live, {capsBefore} before");
            var invariants = _caps.VerifyInvariants();
            if (!invariants.IsOk) throw new FuzzFinding($"capability invariants broken: {invariants}");
        }

        private static void Calls(WasmInstance g, byte[] input, Func<bool> stopped)
        {
            int at = 0;
            for (int n = 0; n < MaxCalls && at < input.Length; n++)
            {
                var call = WasmHostCallGuest.Calls[input[at++] % WasmHostCallGuest.Calls.Length];
                var args = new int[call.Arity];
                for (int i = 0; i < args.Length; i++, at += 4)
                    args[i] = at + 4 <= input.Length ? BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(at)) : 0;
                var r = g.Call(call.Export, args);
                if (Trace) Console.Error.WriteLine($"wasm: {call.Export}({string.Join(", ", args)}) = {r}");
                if (stopped()) return;
                if (!r.IsOk) throw new FuzzFinding($"{call.Export}({string.Join(", ", args)}) failed the guest: {r.Error}");
                bool typed = call.Wasi ? r.Value is >= 0 and <= MaxWasiErrno
                    : call.Export is "store32" or "load32" || r.Value >= 0 || (r.Value != int.MinValue && Enum.IsDefined((ErrorCode)(-r.Value)));
                if (!typed) throw new FuzzFinding($"{call.Export}({string.Join(", ", args)}) = {r.Value}: not a typed answer");
            }
        }

        /// <summary>FUZZ_TRACE=1 prints every call and its answer (triage of a replayed input).</summary>
        private static readonly bool Trace = Environment.GetEnvironmentVariable("FUZZ_TRACE") == "1";

        private const int MaxWasiErrno = 76; // ENOTCAPABLE, the last errno of wasi_snapshot_preview1
    }

    private sealed class DiscardOutput : IWasiOutput
    {
        public void Write(int fd, ReadOnlySpan<byte> data) { }
    }
}
