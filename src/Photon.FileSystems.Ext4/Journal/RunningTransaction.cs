namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// jbd2's running transaction: the metadata of the operations that completed in memory since the last journal commit,
/// as each block stood when the latest of them ended (copies, so the next operation's in-place edits of the cache do
/// not reach it until that operation ends too). It is always the state after a whole number of operations, so it can
/// be committed at any moment — even in the middle of the next operation — as one atomic transaction.
/// </summary>
internal sealed class RunningTransaction
{
    private readonly Dictionary<long, byte[]> _blocks = new();

    /// <summary>The ext4 superblock to commit with the group (null: unchanged since the last commit).</summary>
    public byte[]? Superblock { get; private set; }

    /// <summary>Operations in the group (some may have changed nothing).</summary>
    public int Operations { get; private set; }

    /// <summary>When the group's first operation ended (for the commit interval).</summary>
    public DateTimeOffset Started { get; private set; }

    public bool IsEmpty => Operations == 0;
    public int BlockCount => _blocks.Count;
    public bool HasBlocks => _blocks.Count > 0;

    public bool Contains(long block) => _blocks.ContainsKey(block);

    public bool TryGet(long block, out byte[] data) => _blocks.TryGetValue(block, out data!);

    /// <summary>True if any block of [start, start+count) is in the group (the group is small: a scan of its keys).</summary>
    public bool Overlaps(long start, long count)
    {
        if (_blocks.Count == 0) return false;
        if (count <= _blocks.Count)
        {
            for (long b = start; b < start + count; b++) if (_blocks.ContainsKey(b)) return true;
            return false;
        }
        foreach (long b in _blocks.Keys) if (b >= start && b < start + count) return true;
        return false;
    }

    /// <summary>How many of these blocks the group does not hold yet.</summary>
    public int NewBlocks(IReadOnlyList<(long Block, ReadOnlyMemory<byte> Data)> blocks)
    {
        int n = 0;
        foreach (var (b, _) in blocks) if (!_blocks.ContainsKey(b)) n++;
        return n;
    }

    /// <summary>Adds one finished operation's blocks (copied) and superblock to the group.</summary>
    public void Add(IReadOnlyList<(long Block, ReadOnlyMemory<byte> Data)> blocks, byte[]? superblock, DateTimeOffset now)
    {
        if (Operations == 0) Started = now;
        Operations++;
        foreach (var (b, d) in blocks)
        {
            if (!_blocks.TryGetValue(b, out var copy) || copy.Length != d.Length) _blocks[b] = copy = new byte[d.Length];
            d.Span.CopyTo(copy);
        }
        if (superblock is not null) Superblock = (byte[])superblock.Clone();
    }

    /// <summary>The group's blocks in block order, for the journal writer.</summary>
    public List<(long Block, ReadOnlyMemory<byte> Data)> Blocks()
    {
        var list = new List<(long Block, ReadOnlyMemory<byte> Data)>(_blocks.Count);
        foreach (var (b, d) in _blocks) list.Add((b, d));
        list.Sort((x, y) => x.Block.CompareTo(y.Block));
        return list;
    }

    public void Clear()
    {
        _blocks.Clear();
        Superblock = null;
        Operations = 0;
    }
}
