using System.Text;
using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Sandbox;
using Photon.Sandbox.Syscalls;
using Photon.Sandbox.Wasi;

namespace Photon.Cli.Commands;

using Photon.Kernel.Boot;

/// <summary>
/// `photon run PROGRAM.wasm [args…] [--tenant /t] [--grant IMAGE=ro|rw[@/dir]]… [--env K=V]… [--fuel N] [--memory MiB]`:
/// boots a fresh kernel whose config holds the tenant, one block device and mount per granted disk image (FAT or ext4,
/// auto-detected; bound at /&lt;tenant&gt;/mnt/&lt;dir&gt; with the grant's rights) and the sandbox; init then starts the
/// program as a WASI command in the tenant with each mount granted and preopened at /&lt;dir&gt;, and the command's
/// exit code is the program's. Guest stdout/stderr are this process's; stdin is passed when redirected.
/// Exit codes: the program's own; 125 when Photon could not run it (usage, boot, a grant, a module that does not load);
/// 134 when the guest trapped, ran out of fuel or was killed.
/// </summary>
public static class RunCommand
{
    public const string Usage =
        "photon run PROGRAM.wasm [args…] [--tenant /t] [--grant IMAGE=ro|rw[@/dir]]… [--env K=V]… [--fuel N] [--memory MiB] [-- args…]";

    public const int PhotonFailed = 125;
    public const int GuestFaulted = 134;

    /// <summary>Largest stdin handed to a guest (it is read whole before the guest starts).</summary>
    public const int MaxStdinBytes = 16 * 1024 * 1024;

    /// <summary>One granted disk image: preopened in the guest at "/" + <paramref name="Dir"/>.</summary>
    public sealed record Grant(string Image, bool Writable, string Dir);

    public sealed record Options(string Program, IReadOnlyList<string> Args, string Tenant, IReadOnlyList<Grant> Grants,
        IReadOnlyList<KeyValuePair<string, string>> Env, long Fuel, long MemoryBytes);

    private sealed class StreamOutput(Stream stdout, Stream stderr) : IWasiOutput
    {
        public void Write(int fd, ReadOnlySpan<byte> data) => (fd == 2 ? stderr : stdout).Write(data);
    }

    public static async Task<int> RunAsync(string[] args)
    {
        byte[] stdin = [];
        if (Console.IsInputRedirected)
        {
            using var ms = new MemoryStream();
            var buf = new byte[65536];
            using var input = Console.OpenStandardInput();
            int n;
            while ((n = input.Read(buf)) > 0 && ms.Length <= MaxStdinBytes) ms.Write(buf, 0, n);
            if (ms.Length > MaxStdinBytes) { Console.Error.WriteLine($"photon run: stdin is larger than {MaxStdinBytes} bytes"); return PhotonFailed; }
            stdin = ms.ToArray();
        }
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        return await RunAsync(args, new StreamOutput(stdout, stderr), stdin, Console.Error);
    }

    /// <summary>Runs with the guest's output going to <paramref name="output"/> and Photon's own messages to <paramref name="errors"/>.</summary>
    public static async Task<int> RunAsync(string[] args, IWasiOutput output, byte[] stdin, TextWriter errors)
    {
        var parsed = Parse(args);
        if (!parsed.IsOk) { errors.WriteLine($"photon run: {parsed.Error.Message}\nusage: {Usage}"); return PhotonFailed; }
        var o = parsed.Value;
        byte[] wasm;
        try { wasm = await File.ReadAllBytesAsync(o.Program); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { errors.WriteLine($"photon run: {o.Program}: {e.Message}"); return PhotonFailed; }

        var booted = await PhotonKernel.BootAsync(Config(o, LinuxPlatform.Create()));
        if (!booted.IsOk) { errors.WriteLine($"photon run: boot failed: {booted.Error}"); return PhotonFailed; }
        await using var kernel = booted.Value;
        var result = await kernel.RunAsync(() => Task.Run(() => Start(kernel, o, wasm, output, stdin)), "run");
        if (result.IsOk) return result.Value;
        errors.WriteLine($"photon run: {result.Error}");
        return result.Code is ErrorCode.Faulted or ErrorCode.QuotaExceeded ? GuestFaulted : PhotonFailed;
    }

    /// <summary>The system `photon run` boots: the tenant, the filesystem modules, a device and a mount per grant, and
    /// the sandbox with a tenant quota that fits one instance of the requested size.</summary>
    public static KernelConfig Config(Options o, Photon.Kernel.Hal.Platform platform)
    {
        var components = new List<IKernelComponent> { new TenantComponent(o.Tenant) };
        if (o.Grants.Count > 0)
        {
            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")));
            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Ext4")));
        }
        for (int i = 0; i < o.Grants.Count; i++)
        {
            var g = o.Grants[i];
            components.Add(new BlockDeviceComponent($"grant{i}", g.Image, readOnly: !g.Writable));
            components.Add(new MountComponent($"grant{i}", $"grant{i}", [new MountBinding($"/{o.Tenant}/mnt/{g.Dir}", RightsOf(g))],
                new MountOptions(ReadOnly: !g.Writable)));
        }
        components.Add(new SandboxComponent(new TenantQuota(MaxInstances: 1, MaxMemoryBytes: o.MemoryBytes)));
        return new KernelConfig { Platform = platform, Components = components, EchoLog = false, ModulePins = ShippedModules.Pins, BuiltInModules = ShippedModules.BuiltIns };
    }

    /// <summary>What a grant lets the guest do on its mount: read and list, and with rw create, write and delete.
    /// Delegate lets init pass the binding on to the guest; no grant carries Manage (unmount).</summary>
    public static Rights RightsOf(Grant g) =>
        Rights.Read | Rights.Enumerate | Rights.Delegate | (g.Writable ? Rights.Write | Rights.Create | Rights.Delete : Rights.None);

    private static Result<int> Start(PhotonKernel k, Options o, byte[] wasm, IWasiOutput output, byte[] stdin)
    {
        var sys = k.Sys;
        var init = k.Init;
        var tenant = sys.Namespaces.Open(init, "/" + o.Tenant, Rights.Read | Rights.Create | Rights.Bind);
        if (!tenant.IsOk) return tenant.Error;
        var sandbox = sys.Namespaces.Open(init, "/sandbox", Rights.Execute);
        if (!sandbox.IsOk) return sandbox.Error;
        var grants = new List<HandleGrant>();
        foreach (var g in o.Grants)
        {
            var h = sys.Namespaces.Open(init, $"/{o.Tenant}/mnt/{g.Dir}", RightsOf(g));
            if (!h.IsOk) return Errors.Of(h.Code, $"grant {g.Image}: {h.Error.Message}");
            grants.Add(new HandleGrant(g.Dir, h.Value, RightsOf(g) & ~Rights.Delegate));
        }
        var options = new WasiOptions
        {
            Args = [Path.GetFileName(o.Program), .. o.Args],
            Environment = o.Env,
            Preopens = o.Grants.Select(g => new WasiPreopen("/" + g.Dir, g.Dir)).ToArray(),
            Stdin = stdin,
            Output = output,
        };
        var instance = SandboxSyscalls.InstantiateWasi(init, sandbox.Value, tenant.Value, InstanceName(o.Program), wasm, grants, options,
            new SandboxLimits(FuelPerCall: o.Fuel, MaxMemoryBytes: o.MemoryBytes));
        if (!instance.IsOk) return instance.Error;
        var exit = instance.Value.RunCommand();
        instance.Value.Exited.Wait(TimeSpan.FromSeconds(10));
        return exit;
    }

    private static string InstanceName(string program)
    {
        var name = new string(Path.GetFileNameWithoutExtension(program).Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').Take(32).ToArray());
        return name.Length == 0 ? "program" : name;
    }

    public static Result<Options> Parse(string[] args)
    {
        string? program = null;
        var guestArgs = new List<string>();
        var grants = new List<Grant>();
        var env = new List<KeyValuePair<string, string>>();
        string tenant = "run";
        long fuel = 5_000_000_000, memoryMiB = 64;
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--") { guestArgs.AddRange(args[(i + 1)..]); break; }
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            try
            {
                switch (a)
                {
                    case "--tenant":
                        tenant = Next().Trim('/');
                        if (!Photon.Kernel.Namespaces.NamespacePath.ValidateName(tenant).IsOk) return Errors.Of(ErrorCode.InvalidName, $"bad tenant name '{tenant}'");
                        continue;
                    case "--grant":
                        var g = ParseGrant(Next());
                        if (!g.IsOk) return g.Error;
                        if (grants.Any(x => x.Dir == g.Value.Dir)) return Errors.Of(ErrorCode.InvalidArgument, $"two grants at /{g.Value.Dir}");
                        grants.Add(g.Value);
                        continue;
                    case "--env":
                        var kv = Next();
                        int eq = kv.IndexOf('=');
                        if (eq <= 0) return Errors.Of(ErrorCode.InvalidArgument, $"--env wants NAME=VALUE, not '{kv}'");
                        env.Add(new(kv[..eq], kv[(eq + 1)..]));
                        continue;
                    case "--fuel":
                        if (!long.TryParse(Next(), out fuel) || fuel <= 0 || fuel > SandboxLimits.MaxFuel) return Errors.Of(ErrorCode.InvalidArgument, $"--fuel must be 1..{SandboxLimits.MaxFuel}");
                        continue;
                    case "--memory":
                        if (!long.TryParse(Next(), out memoryMiB) || memoryMiB < 1 || memoryMiB > 4096) return Errors.Of(ErrorCode.InvalidArgument, "--memory must be 1..4096 (MiB)");
                        continue;
                }
            }
            catch (ArgumentException e) { return Errors.Of(ErrorCode.InvalidArgument, e.Message); }
            if (program is null) program = a;
            else guestArgs.Add(a);
        }
        if (program is null) return Errors.Of(ErrorCode.InvalidArgument, "no program given");
        return new Options(program, guestArgs, tenant, grants, env, fuel, memoryMiB * 1024 * 1024);
    }

    /// <summary>IMAGE=ro|rw[@/dir]; the directory defaults to the image's file name without its extension.</summary>
    public static Result<Grant> ParseGrant(string spec)
    {
        int eq = spec.LastIndexOf('=');
        if (eq <= 0) return Errors.Of(ErrorCode.InvalidArgument, $"--grant wants IMAGE=ro|rw[@/dir], not '{spec}'");
        var image = spec[..eq];
        var rest = spec[(eq + 1)..];
        int at = rest.IndexOf('@');
        var rights = at < 0 ? rest : rest[..at];
        var dir = (at < 0 ? Path.GetFileNameWithoutExtension(image) : rest[(at + 1)..]).Trim('/');
        if (rights is not ("rw" or "ro")) return Errors.Of(ErrorCode.InvalidArgument, $"grant rights are ro or rw, not '{rights}'");
        bool writable = rights == "rw";
        if (!Photon.Kernel.Namespaces.NamespacePath.ValidateName(dir).IsOk || dir is "sandbox")
            return Errors.Of(ErrorCode.InvalidName, $"'{dir}' cannot be a preopen name (one path segment: letters, digits, '-', '_', '.')");
        if (!File.Exists(image)) return Errors.Of(ErrorCode.NotFound, $"no disk image {image} (grants are FAT or ext4 images; make one from a directory with mkfs.ext4 -d DIR IMAGE SIZE)");
        return new Grant(Path.GetFullPath(image), writable, dir);
    }
}
