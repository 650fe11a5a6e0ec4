using System.Text.Json;
using Photon.FileSystems.Tests.Ext4;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// `photon fs ls` for scripts: the built CLI with stdout redirected (as in a pipe) prints one tab-separated line per
/// entry, `--json` a JSON array, on an ext4 image made by `mkfs.ext4 -d` from a host directory whose names have spaces,
/// UTF-8 letters, a tab, a newline and a backslash. Both outputs are parsed back and must name exactly the files Linux put there.
/// </summary>
public sealed class FsLsFormatTests : IDisposable
{
    private readonly Ext4Scratch _scratch = new();
    private readonly string _image;

    private const string Spaced = "a file with spaces.txt";
    private const string Unicode = "naïve ☃ 日本語 façade.txt";
    private const string Tabbed = "tab\there";
    private const string Newline = "back\\slash\nnewline";
    private const string Directory_ = "sub dir";
    // A name longer than any console is wide: a table would wrap it.
    private static readonly string Long = new string('x', 200) + ".log";

    private static readonly Dictionary<string, int> FileSizes = new() { [Spaced] = 11, [Unicode] = 4097, [Tabbed] = 1, [Newline] = 2, [Long] = 0 };

    public FsLsFormatTests()
    {
        var source = _scratch.PathOf("tree");
        Directory.CreateDirectory(Path.Combine(source, Directory_));
        foreach (var (name, size) in FileSizes) File.WriteAllBytes(Path.Combine(source, name), new byte[size]);
        _image = _scratch.MakeImage(fromDir: source);
    }

    public void Dispose() => _scratch.Dispose();

    private static readonly string[] Expected = [.. FileSizes.Keys, Directory_, "lost+found"];

    [Fact]
    public void Redirected_output_is_one_tab_separated_line_per_entry()
    {
        var plain = PhotonCli.Fs("ls", _image);
        Assert.True(plain.ExitCode == 0, plain.Stderr);
        Assert.Equal(plain.Stdout, PhotonCli.Fs("ls", "--plain", _image, "/").Stdout);
        Assert.DoesNotContain("─", plain.Stdout); // no table rules

        var lines = plain.Stdout.Split('\n');
        Assert.Equal("", lines[^1]); // every line ends with a newline
        var rows = lines[..^1].Select(l => l.Split('\t')).ToList();
        Assert.All(rows, r => Assert.Equal(3, r.Length));
        // A tab, newline or backslash inside a name is escaped, so the name column reads back after unescaping.
        var names = rows.Select(r => Unescape(r[0])).ToList();
        Assert.Equal(Expected.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        Assert.Contains(@"tab\there", rows.Select(r => r[0]));
        Assert.Contains(@"back\\slash\nnewline", rows.Select(r => r[0]));
        foreach (var r in rows)
        {
            var name = Unescape(r[0]);
            if (FileSizes.TryGetValue(name, out var size)) Assert.Equal(["file", size.ToString()], r[1..]);
            else Assert.Equal("directory", r[1]);
        }
    }

    private static string Unescape(string field) =>
        System.Text.RegularExpressions.Regex.Replace(field, @"\\(.)", m => m.Groups[1].Value switch { "t" => "\t", "n" => "\n", var c => c });

    [Fact]
    public void Json_output_is_an_array_that_parses_back_to_the_same_names_and_sizes()
    {
        var run = PhotonCli.Fs("ls", "--json", _image);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains(Unicode, run.Stdout); // UTF-8 letters as themselves, not \u escapes
        using var doc = JsonDocument.Parse(run.StdoutBytes);
        var entries = doc.RootElement.EnumerateArray()
            .Select(e => (Name: e.GetProperty("name").GetString()!, Type: e.GetProperty("type").GetString()!, Size: e.GetProperty("size").GetInt64())).ToList();
        Assert.Equal(Expected.Order(StringComparer.Ordinal), entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        foreach (var (name, size) in FileSizes) Assert.Contains((name, "file", (long)size), entries);
        Assert.Equal("directory", entries.Single(e => e.Name == Directory_).Type);

        // A single file lists as a one-element array.
        using var one = JsonDocument.Parse(PhotonCli.Fs("ls", "--json", _image, "/" + Spaced).StdoutBytes);
        Assert.Equal(Spaced, one.RootElement.EnumerateArray().Single().GetProperty("name").GetString());
    }

    [Fact]
    public void Conflicting_or_unknown_options_are_usage_errors()
    {
        Assert.Equal(2, PhotonCli.Fs("ls", "--plain", "--json", _image).ExitCode);
        Assert.Equal(2, PhotonCli.Fs("ls", "--jsno", _image).ExitCode);
        Assert.Equal(2, PhotonCli.Fs("cat", "--json", _image, "/" + Spaced).ExitCode);
    }
}
