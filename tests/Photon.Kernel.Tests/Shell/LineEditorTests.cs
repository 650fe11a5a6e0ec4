using Photon.Cli.LineEditing;

namespace Photon.Kernel.Tests.Shell;

public class LineEditorTests
{
    private sealed class ScriptedTerminal(params ConsoleKeyInfo[] keys) : ITerminal
    {
        private readonly Queue<ConsoleKeyInfo> _keys = new(keys);
        public readonly System.Text.StringBuilder Output = new();
        public ConsoleKeyInfo? ReadKey() => _keys.Count > 0 ? _keys.Dequeue() : null;
        public void Write(string text) => Output.Append(text);
    }

    private static ConsoleKeyInfo K(ConsoleKey key, bool ctrl = false) => new('\0', key, false, false, ctrl);
    private static IEnumerable<ConsoleKeyInfo> Type(string text) =>
        text.Select(c => new ConsoleKeyInfo(c, c == ' ' ? ConsoleKey.Spacebar : char.IsLetter(c) ? Enum.Parse<ConsoleKey>(char.ToUpperInvariant(c).ToString()) : ConsoleKey.Oem1, false, false, false));
    private static readonly ConsoleKeyInfo Enter = new('\r', ConsoleKey.Enter, false, false, false);

    [Fact]
    public void Up_arrow_recalls_earlier_lines_and_down_returns_to_the_typed_one()
    {
        var history = new LineHistory();
        history.Add("ls /");
        history.Add("ps");
        var term = new ScriptedTerminal([.. Type("ca"), K(ConsoleKey.UpArrow), K(ConsoleKey.UpArrow), K(ConsoleKey.DownArrow), Enter]);
        Assert.Equal("ps", new LineEditor(term, history).ReadLine("$ "));
        var back = new ScriptedTerminal([.. Type("ca"), K(ConsoleKey.UpArrow), K(ConsoleKey.DownArrow), Enter]);
        Assert.Equal("ca", new LineEditor(back, history).ReadLine("$ "));
    }

    [Fact]
    public void Entered_lines_join_the_history_once()
    {
        var history = new LineHistory();
        new LineEditor(new ScriptedTerminal([.. Type("ps"), Enter]), history).ReadLine("$ ");
        new LineEditor(new ScriptedTerminal([.. Type("ps"), Enter]), history).ReadLine("$ ");
        Assert.Equal(["ps"], history.Lines);
    }

    [Fact]
    public void Editing_keys_move_the_cursor_and_change_the_line_there()
    {
        // "lx" ← "s" → insert before x; End, Backspace removes x; Home, Delete removes l; Ctrl-A then typing prefixes.
        var term = new ScriptedTerminal([.. Type("lx"), K(ConsoleKey.LeftArrow), .. Type("s"), K(ConsoleKey.End), K(ConsoleKey.Backspace),
            K(ConsoleKey.Home), K(ConsoleKey.Delete), K(ConsoleKey.A, ctrl: true), .. Type("p"), Enter]);
        Assert.Equal("ps", new LineEditor(term, new LineHistory()).ReadLine("$ "));
    }

    [Fact]
    public void Tab_inserts_a_unique_completion_and_the_common_prefix_of_several()
    {
        Func<string, int, IReadOnlyList<string>> complete = (_, _) => ["mkdir", "mount", "cat"];
        var unique = new ScriptedTerminal([.. Type("mk"), K(ConsoleKey.Tab), Enter]);
        Assert.Equal("mkdir ", new LineEditor(unique, new LineHistory(), complete).ReadLine("$ "));

        Func<string, int, IReadOnlyList<string>> paths = (_, _) => ["/mnt/disk/docs/", "/mnt/disk/data.txt"];
        var several = new ScriptedTerminal([.. Type("cat /mnt/disk/d"), K(ConsoleKey.Tab), K(ConsoleKey.Tab), Enter]);
        var line = new LineEditor(several, new LineHistory(), paths).ReadLine("$ ");
        Assert.Equal("cat /mnt/disk/d", line); // no longer common prefix than "d"
        Assert.Contains("/mnt/disk/docs/  /mnt/disk/data.txt", several.Output.ToString()); // the second tab lists them
    }

    [Fact]
    public void Ctrl_D_on_an_empty_line_and_end_of_input_end_the_session()
    {
        Assert.Null(new LineEditor(new ScriptedTerminal(K(ConsoleKey.D, ctrl: true)), new LineHistory()).ReadLine("$ "));
        Assert.Null(new LineEditor(new ScriptedTerminal(), new LineHistory()).ReadLine("$ "));
    }

    [Fact]
    public void A_flood_of_keys_stops_at_the_line_limit()
    {
        var keys = Enumerable.Repeat(new ConsoleKeyInfo('x', ConsoleKey.X, false, false, false), LineEditor.MaxLineLength + 100).Append(Enter);
        var line = new LineEditor(new ScriptedTerminal(keys.ToArray()), new LineHistory()).ReadLine("$ ");
        Assert.Equal(LineEditor.MaxLineLength, line!.Length);
    }
}
