using Photon.Kernel.Capabilities;
using Photon.Kernel.Tests.Sandbox.Wasi;

namespace Photon.Kernel.Tests.Shell;

/// <summary>Each command group of `photon shell` against a booted demo kernel, as an administrator's shell (root
/// namespace) and as confined tenant shells.</summary>
public class ShellCommandGroupTests
{
    [Fact]
    public async Task Files_list_read_copy_make_and_remove_on_a_mount()
    {
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        Assert.Contains("HELLO.TXT", await a.Ok("ls /mnt/disk"));
        Assert.Contains("Hello from a FAT volume made by mkfs.vfat.", await a.Ok("cat /mnt/disk/HELLO.TXT"));
        await a.Ok("mkdir /mnt/disk/shell");
        Assert.Contains("43 bytes copied", await a.Ok("cp /mnt/disk/HELLO.TXT /mnt/disk/shell/COPY.TXT"));
        Assert.Equal(await a.Ok("cat /mnt/disk/HELLO.TXT"), await a.Ok("cat /mnt/disk/shell/COPY.TXT"));
        await a.Ok("rm /mnt/disk/shell/COPY.TXT");
        Assert.Equal(ErrorCode.NotFound, await a.Fails("cat /mnt/disk/shell/COPY.TXT"));
        // ls of a namespace (not a mount) lists what is bound there.
        Assert.Contains("disk/", await a.Ok("ls /mnt"));
    }

    [Fact]
    public async Task A_read_only_mount_refuses_writes_with_a_typed_error()
    {
        await using var k = await ShellKernel.BootAsync();
        var b = k.Open("/tenant-b");
        Assert.Contains("Hello from an ext4 volume", await b.Ok("cat /mnt/disk/hello.txt"));
        var code = await b.Fails("mkdir /mnt/disk/nope");
        Assert.True(code is ErrorCode.AccessDenied or ErrorCode.ReadOnly, code.ToString());
    }

    [Fact]
    public async Task A_tenant_shell_sees_only_its_tenant()
    {
        await using var k = await ShellKernel.BootAsync();
        var admin = k.Open("/");
        var b = k.Open("/tenant-b");
        var a = k.Open("/tenant-a");
        // Its "/" is /tenant-a: the other tenant, /dev and /sandbox are not there.
        var root = await a.Ok("ls /");
        Assert.Contains("mnt/", root);
        Assert.DoesNotContain("tenant-b", root);
        Assert.Equal(ErrorCode.NotFound, await a.Fails("ls /tenant-b/mnt/disk"));
        Assert.Equal(ErrorCode.InvalidName, await a.Fails("ls ../tenant-b/mnt/disk"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails("mount nvme1 /mnt/stolen ro"));
        Assert.DoesNotContain("tenant-b", await a.Ok("ns tree"));
        // ps lists only processes in /tenant-a; caps of a tenant-b process is NotFound, not a leak.
        await b.Ok("spawn worker");
        var bPid = b.Shell.Children.Keys.Single();
        var ps = await a.Ok("ps");
        Assert.Contains("/tenant-a", ps);
        Assert.DoesNotContain("/tenant-b", ps);
        Assert.Contains("worker", await admin.Ok("ps"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails($"caps {bPid}"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails($"caps {b.Shell.Self.Pid}"));
        Assert.Contains($"Process(worker[{bPid}])", await admin.Ok($"caps {b.Shell.Self.Pid}"));
        // Kill needs a control handle: tenant-a's shell has none for tenant-b's worker; even the admin shell,
        // which can see it, did not spawn it.
        Assert.Equal(ErrorCode.AccessDenied, await a.Fails($"kill {bPid}"));
        Assert.Equal(ErrorCode.AccessDenied, await admin.Fails($"kill {bPid}"));
        Assert.Contains($"killed {bPid}", await b.Ok($"kill {bPid}"));
        Assert.DoesNotContain("worker", await admin.Ok("ps"));
    }

    [Fact]
    public async Task Binding_needs_rights_the_shell_holds()
    {
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        // An alias to its own mount, read-only: the binding works and lists the same files.
        await a.Ok("ns bind /files /mnt/disk ro");
        Assert.Contains("HELLO.TXT", await a.Ok("ls /files"));
        // More rights than the shell's binding carries (the demo binds tenant-a's disk without Manage): refused.
        Assert.Equal(ErrorCode.AccessDenied, await a.Fails("ns bind /admin /mnt/disk all"));
        // Binding inside a mount (not a namespace) or over the other tenant is refused with a typed error.
        Assert.NotEqual(ErrorCode.None, await a.Fails("ns bind /mnt/disk/x /mnt/disk ro"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails("ns bind /x /tenant-b/mnt/disk ro"));
        await a.Ok("ns unbind /files");
        Assert.Equal(ErrorCode.NotFound, await a.Fails("ls /files"));
        // The root has no parent to bind in.
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("ns bind / /mnt"));
    }

    [Fact]
    public async Task Processes_spawn_list_show_capabilities_and_die()
    {
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        Assert.Contains("spawned", await a.Ok("spawn job"));
        int pid = a.Shell.Children.Keys.Single();
        Assert.Contains("job", await a.Ok("ps"));
        Assert.Contains("HANDLE", await a.Ok($"caps {pid}")); // visible (it holds no handles yet)
        Assert.Contains("Namespace", await a.Ok($"caps {a.Shell.Self.Pid}"));
        Assert.Contains($"Process(job[{pid}])", await a.Ok("caps")); // the shell's own control handle
        await a.Ok($"kill {pid}");
        Assert.Equal(ErrorCode.AccessDenied, await a.Fails($"kill {pid}")); // the handle went with it
        Assert.Equal(ErrorCode.NotFound, await a.Fails($"caps {pid}"));
        Assert.Equal(ErrorCode.InvalidName, await a.Fails("spawn ../evil"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("kill not-a-pid"));
    }

    [Fact]
    public async Task The_administrator_mounts_and_unmounts_and_a_tenant_cannot_unmount()
    {
        await using var k = await ShellKernel.BootAsync();
        var admin = k.Open("/");
        var a = k.Open("/tenant-a");
        Assert.Contains("/mounts/fat16", await admin.Ok("mount"));
        Assert.Equal(ErrorCode.AccessDenied, await a.Fails("umount /mnt/disk"));
        await admin.Ok("umount /mounts/ext4");
        // Every binding through the mount died with it: tenant-b's view is gone.
        var b = k.Open("/tenant-b");
        Assert.NotEqual(ErrorCode.None, await b.Fails("cat /mnt/disk/hello.txt"));
        // The device is free again: mount it read-only somewhere new and read it.
        Assert.Contains("mounted at /ext", await admin.Ok("mount nvme1 /ext ro"));
        Assert.Contains("Hello from an ext4 volume", await admin.Ok("cat /ext/hello.txt"));
        Assert.Equal(ErrorCode.NotFound, await admin.Fails("mount nvme9 /x"));
    }

    [Fact]
    public async Task Audit_tail_and_quota_are_scoped_to_the_shells_tenant()
    {
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        var b = k.Open("/tenant-b");
        await b.Fails("kill 1");
        await b.Fails("ls /tenant-a"); // a denied lookup in tenant-b
        var tail = await a.Ok("audit tail 1000");
        Assert.Contains("/tenant-a", tail);
        Assert.DoesNotContain("/tenant-b", tail);
        Assert.Contains("/tenant-b", await b.Ok("audit tail 1000"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("audit tail 1000000"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("audit tail 0"));

        var quota = await a.Ok("quota");
        Assert.Contains($"/{16 * 1024 * 1024}", quota);
        Assert.Contains("/tenant-a", quota);
        Assert.DoesNotContain("/tenant-b", quota);
        var all = await k.Open("/").Ok("quota");
        Assert.Contains("/tenant-a", all);
        Assert.Contains("/tenant-b", all);
    }

    [Fact]
    public async Task Run_starts_a_real_WASI_program_with_only_the_grants_the_shell_can_give()
    {
        var cat = WasiExamples.Program("cat");
        var tee = WasiExamples.Program("tee");
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        var printed = await a.Ok($"run {cat} /disk/HELLO.TXT --grant /mnt/disk=ro");
        Assert.Contains("Hello from a FAT volume made by mkfs.vfat.", printed);
        Assert.Contains("[exit 0]", printed);
        // No grant, no /disk: the program runs and fails on its own, having read nothing.
        var (bare, bareText) = await a.Run($"run {cat} /disk/HELLO.TXT");
        Assert.Equal(ErrorCode.Faulted, bare.Code);
        Assert.DoesNotContain("Hello from a FAT volume", bareText);
        // Grants of mounts the shell cannot reach are refused before the program starts.
        Assert.Equal(ErrorCode.NotFound, await a.Fails($"run {cat} /disk/hello.txt --grant /tenant-b/mnt/disk=ro"));
        Assert.Equal(ErrorCode.InvalidName, await a.Fails($"run {cat} /disk/hello.txt --grant ../tenant-b/mnt/disk=ro"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails($"run {cat} /disk/HELLO.TXT --grant /mnt/disk=all"));
        // Tenant-b's disk is bound Read|Enumerate without Delegate: its shell may read it but not hand it to a program.
        var b = k.Open("/tenant-b");
        Assert.Contains("Hello from an ext4 volume", await b.Ok("cat /mnt/disk/hello.txt"));
        Assert.Equal(ErrorCode.AccessDenied, await b.Fails($"run {cat} /disk/hello.txt --grant /mnt/disk=ro"));
        Assert.Equal(ErrorCode.AccessDenied, await b.Fails($"run {cat} /disk/hello.txt --grant /mnt/disk=rw"));

        // Tenant-a's shell may write its disk, but a read-only grant lets the program create nothing.
        var (ro, roText) = await a.Run($"run {tee} /disk/OUT.TXT --grant /mnt/disk=ro");
        Assert.Equal(ErrorCode.Faulted, ro.Code);
        Assert.Contains("[exit 1]", roText);
        Assert.DoesNotContain("OUT.TXT", await a.Ok("ls /mnt/disk"));
        Assert.Contains("[exit 0]", await a.Ok($"run {tee} /disk/OUT.TXT --grant /mnt/disk=rw"));
        Assert.Contains("OUT.TXT", await a.Ok("ls /mnt/disk"));
    }

    [Fact]
    public async Task Network_trace_and_unknown_commands_give_typed_errors_not_crashes()
    {
        await using var k = await ShellKernel.BootAsync();
        var a = k.Open("/tenant-a");
        Assert.Equal(ErrorCode.NotFound, await a.Fails("ip addr")); // no /net in this kernel or namespace
        Assert.Equal(ErrorCode.NotFound, await a.Fails("netstat"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails("ping 10.66.0.1 1"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("ping not-an-address"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails("host www.example")); // no /net/dns either
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("host www.example mx"));
        Assert.Equal(ErrorCode.AccessDenied, await a.Fails("trace start")); // a tenant's shell holds no trace capability
        Assert.Equal(ErrorCode.NotFound, await a.Fails("frobnicate"));
        Assert.Equal(ErrorCode.InvalidArgument, await a.Fails("ns forest"));
        Assert.Equal(ErrorCode.NotFound, await a.Fails("run /no/such/program.wasm"));
        Assert.Contains("ls [PATH]", await a.Ok("help"));
        await a.Ok("exit");
        Assert.True(a.Shell.ExitRequested);
    }
}
