using System.Diagnostics;

namespace Photon.Kernel.Tests.Shell;

/// <summary>
/// `photon shell` end to end: scripted (-c, piped stdin) and interactive through a real pseudo-terminal — a private
/// tmux server drives it with keystrokes (typing, Tab, Up arrow) and reads the screen back.
/// </summary>
public class PhotonShellTerminalTests
{
    [Fact]
    public void Scripted_commands_run_without_a_terminal_and_the_exit_code_says_whether_all_succeeded()
    {
        var ok = PhotonShellProcess.Run("", "--tenant", "/tenant-a", "-c", "ls /mnt/disk; cat /mnt/disk/HELLO.TXT");
        Assert.True(ok.Code == 0, ok.Stdout + ok.Stderr);
        Assert.Contains("HELLO.TXT", ok.Stdout);
        Assert.Contains("Hello from a FAT volume", ok.Stdout);

        // Piped stdin: no prompt, no line editing; a refused command is printed with its code and fails the run.
        var piped = PhotonShellProcess.Run("ps\nls /tenant-b\ncat /mnt/disk/HELLO.TXT\n", "--tenant", "/tenant-a");
        Assert.Equal(1, piped.Code);
        Assert.DoesNotContain("photon:", piped.Stdout);
        Assert.Contains("error: NotFound", piped.Stdout);
        Assert.Contains("Hello from a FAT volume", piped.Stdout); // the next command still ran

        Assert.Equal(2, PhotonShellProcess.Run("", "--tenant", "../x").Code);
        Assert.Equal(2, PhotonShellProcess.Run("", "--bogus").Code);
    }

    [Fact]
    public void A_config_file_boots_the_system_it_describes()
    {
        var dir = Directory.CreateTempSubdirectory("photon-shell-config-");
        try
        {
            var cfg = Path.Combine(dir.FullName, "system.conf");
            File.WriteAllText(cfg, "# one tenant, nothing mounted\ntenant lab tasks=64\nsandbox\n");
            var r = PhotonShellProcess.Run("", "--config", cfg, "-c", "ls /; quota");
            Assert.True(r.Code == 0, r.Stdout + r.Stderr);
            Assert.Contains("lab/", r.Stdout);
            Assert.Contains("/64", r.Stdout);
            Assert.DoesNotContain("tenant-a", r.Stdout);
            File.WriteAllText(cfg, "tenant lab\nfrobnicate\n");
            var bad = PhotonShellProcess.Run("", "--config", cfg, "-c", "ls /");
            Assert.Equal(2, bad.Code);
            Assert.Contains("line 2", bad.Stderr);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Interactive_shell_in_a_pseudo_terminal_has_a_prompt_history_completion_and_confinement()
    {
        using var tmux = Tmux.Start($"dotnet {PhotonShellProcess.PhotonDll()} shell --tenant /tenant-a");
        tmux.WaitFor("photon:/tenant-a$ ");
        // Tab completes the path through the shell's own namespace lookup.
        tmux.Keys("-l", "cat /mnt/disk/HEL");
        tmux.Keys("Tab");
        tmux.WaitFor("cat /mnt/disk/HELLO.TXT");
        tmux.Keys("Enter");
        tmux.WaitFor("Hello from a FAT volume", times: 1);
        // Up arrow brings the line back; running it again prints the file a second time.
        tmux.Keys("Up");
        tmux.Keys("Enter");
        tmux.WaitFor("Hello from a FAT volume", times: 2);
        // Confinement: the other tenant is not in this shell's namespace.
        tmux.Keys("-l", "ls /tenant-b");
        tmux.Keys("Enter");
        tmux.WaitFor("error: NotFound");
        tmux.Keys("-l", "exit");
        tmux.Keys("Enter");
        tmux.WaitForExit();
    }

    /// <summary>A private tmux server (its own socket) running one command in a detached 200x50 session.</summary>
    private sealed class Tmux : IDisposable
    {
        private readonly string _socket = $"photon-shell-test-{Guid.NewGuid():N}";
        private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

        public static Tmux Start(string command)
        {
            var t = new Tmux();
            // remain-on-exit keeps the pane (and its last screen) after the shell exits, so the exit is observable.
            Assert.Equal(0, t.Run("new-session", "-d", "-s", "shell", "-x", "200", "-y", "50", command).Code);
            t.Run("set-option", "-t", "shell", "remain-on-exit", "on");
            return t;
        }

        public void Keys(params string[] keys) => Assert.Equal(0, Run(["send-keys", "-t", "shell", .. keys]).Code);

        public string Screen() => Run("capture-pane", "-p", "-J", "-t", "shell", "-S", "-1000").Output;

        public void WaitFor(string text, int times = 1)
        {
            var sw = Stopwatch.StartNew();
            while (Count(Screen(), text) < times)
            {
                if (sw.Elapsed > Deadline) Assert.Fail($"'{text}' did not appear {times} time(s); screen:\n{Screen()}");
                Thread.Sleep(200);
            }
        }

        public void WaitForExit()
        {
            var sw = Stopwatch.StartNew();
            while (Run("display-message", "-p", "-t", "shell", "#{pane_dead}").Output.Trim() != "1")
            {
                if (sw.Elapsed > Deadline) Assert.Fail($"the shell did not exit; screen:\n{Screen()}");
                Thread.Sleep(200);
            }
        }

        private static int Count(string haystack, string needle)
        {
            int n = 0;
            for (int at = haystack.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = haystack.IndexOf(needle, at + needle.Length, StringComparison.Ordinal)) n++;
            return n;
        }

        private (int Code, string Output) Run(params string[] args)
        {
            var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("-L");
            info.ArgumentList.Add(_socket);
            foreach (var a in args) info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }

        public void Dispose() => Run("kill-server");
    }
}
