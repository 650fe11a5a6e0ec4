namespace Photon.Cli.LineEditing;

/// <summary>The lines entered so far (bounded; a repeat of the last line is not added again), browsed with up/down.</summary>
public sealed class LineHistory(int capacity = 1000)
{
    private readonly List<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines;

    public void Add(string line)
    {
        if (string.IsNullOrWhiteSpace(line) || (_lines.Count > 0 && _lines[^1] == line)) return;
        if (_lines.Count == capacity) _lines.RemoveAt(0);
        _lines.Add(line);
    }
}
