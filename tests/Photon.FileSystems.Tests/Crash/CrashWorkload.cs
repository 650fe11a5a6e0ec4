using System.Security.Cryptography;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>One filesystem operation of a crash workload (fsync is a flush of the whole filesystem).</summary>
public sealed record CrashOp(string Kind, string Path, string? To = null, long Offset = 0, byte[]? Data = null, long Length = 0)
{
    /// <summary>Ops that write file data in place before their metadata commits (so the path's bytes may be mixed if the
    /// op did not commit: ordered mode makes metadata atomic, not overwrites of existing data).</summary>
    public bool WritesDataInPlace => Kind is "write" or "truncate";

    public async ValueTask<Result> RunAsync(IFileSystem fs) => Kind switch
    {
        "mkdir" => await fs.CreateDirectoryAsync(Path),
        "create" => await fs.CreateFileAsync(Path),
        "write" => await fs.WriteAsync(Path, Offset, Data),
        "truncate" => await fs.TruncateAsync(Path, Length),
        "rename" => await fs.RenameAsync(Path, To!),
        "delete" => await fs.DeleteAsync(Path),
        "fsync" => await fs.FlushAsync(),
        _ => throw new ArgumentException(Kind),
    };

    public override string ToString() => $"{Kind} {Path}{(To is null ? "" : " -> " + To)}";
}

/// <summary>A file tree as seen through a mounted filesystem: path → (directory?, size, SHA-256 of the contents).</summary>
public sealed class TreeSnapshot
{
    public SortedDictionary<string, (bool Dir, long Size, string Hash)> Entries { get; } = new(StringComparer.Ordinal);

    public static async Task<TreeSnapshot> TakeAsync(IFileSystem fs)
    {
        var snap = new TreeSnapshot();
        await WalkAsync(fs, "/", snap);
        return snap;
    }

    private static async Task WalkAsync(IFileSystem fs, string dir, TreeSnapshot snap)
    {
        var list = await fs.ReadDirectoryAsync(dir);
        if (!list.IsOk) throw new InvalidOperationException($"listing {dir}: {list.Error}");
        foreach (var e in list.Value)
        {
            string path = (dir == "/" ? "/" : dir + "/") + e.Name;
            if (e.Kind == FileKind.Directory)
            {
                snap.Entries[path] = (true, 0, "");
                await WalkAsync(fs, path, snap);
                continue;
            }
            var data = new byte[e.Length];
            int done = 0;
            while (done < data.Length)
            {
                var n = await fs.ReadAsync(path, done, data.AsMemory(done));
                if (!n.IsOk) throw new InvalidOperationException($"reading {path}: {n.Error}");
                if (n.Value == 0) break;
                done += n.Value;
            }
            if (done != data.Length) throw new InvalidOperationException($"{path}: read {done} of {data.Length} bytes");
            snap.Entries[path] = (false, e.Length, Convert.ToHexString(SHA256.HashData(data)));
        }
    }

    /// <summary>Equal, except that the bytes (not the size) of <paramref name="looseData"/> paths may differ.</summary>
    public bool Matches(TreeSnapshot other, IReadOnlySet<string> looseData)
    {
        if (Entries.Count != other.Entries.Count) return false;
        foreach (var (path, e) in Entries)
        {
            if (!other.Entries.TryGetValue(path, out var o) || o.Dir != e.Dir || o.Size != e.Size) return false;
            if (o.Hash != e.Hash && !looseData.Contains(path)) return false;
        }
        return true;
    }

    public override string ToString() => string.Join("; ", Entries.Select(e => e.Value.Dir ? e.Key + "/" : $"{e.Key}:{e.Value.Size}"));
}

/// <summary>The standard crash workload: create/write/append/overwrite/rename/truncate/unlink/mkdir/rmdir with fsyncs.</summary>
public static class CrashWorkloads
{
    public static List<CrashOp> Mixed(int seed)
    {
        byte[] R(int n, int s) { var b = new byte[n]; new Random(seed * 1000 + s).NextBytes(b); return b; }
        return
        [
            new("mkdir", "/a"),
            new("create", "/a/f1"),
            new("write", "/a/f1", Data: R(3000, 1)),
            new("fsync", "/"),
            new("create", "/b.txt"),
            new("write", "/b.txt", Data: R(20_000, 2)),
            new("rename", "/b.txt", To: "/a/b2.txt"),
            new("write", "/a/f1", Offset: 3000, Data: R(5000, 3)),
            new("write", "/a/f1", Offset: 100, Data: R(700, 4)),
            new("truncate", "/a/f1", Length: 1000),
            new("mkdir", "/a/sub"),
            new("create", "/a/sub/g"),
            new("write", "/a/sub/g", Data: R(1500, 5)),
            new("delete", "/a/b2.txt"),
            new("fsync", "/"),
            new("rename", "/a/sub", To: "/c"),
            new("create", "/a/f2"),
            new("rename", "/a/f2", To: "/a/f1"),
            new("delete", "/c/g"),
            new("delete", "/c"),
            new("create", "/big"),
            new("write", "/big", Data: R(70_000, 6)),
        ];
    }
}
