using System.Text;

namespace Photon.Cli.LineEditing;

/// <summary>
/// A small line editor for the shell: left/right/home/end, backspace/delete, Ctrl-A/E/U/K/W, up/down through
/// <see cref="LineHistory"/>, and tab completion (one candidate is inserted; several insert their common prefix, and a
/// second tab lists them). Redraws with plain ANSI sequences (CR, erase to end of line, cursor left), so it works in
/// any VT100-style terminal, tmux included.
/// </summary>
public sealed class LineEditor(ITerminal terminal, LineHistory history, Func<string, int, IReadOnlyList<string>>? complete = null)
{
    /// <summary>Longest line the editor accepts (keys past it are ignored).</summary>
    public const int MaxLineLength = 4096;

    /// <summary>Reads one line after printing <paramref name="prompt"/>; null at end of input (Ctrl-D on an empty line).</summary>
    public string? ReadLine(string prompt)
    {
        var line = new StringBuilder();
        int cursor = 0;
        int browsing = history.Lines.Count; // index into history; Count means "the line being typed"
        string typed = "";
        bool tabbedBefore = false;
        terminal.Write(prompt);

        void Redraw()
        {
            var tail = line.Length - cursor;
            terminal.Write("\r" + prompt + line + "\u001b[K" + (tail > 0 ? $"\u001b[{tail}D" : ""));
        }
        void Replace(string text) { line.Clear().Append(text); cursor = line.Length; Redraw(); }

        while (true)
        {
            var read = terminal.ReadKey();
            if (read is not { } key) { terminal.Write("\r\n"); return line.Length > 0 ? line.ToString() : null; }
            bool tab = false;
            bool ctrl = key.Modifiers.HasFlag(ConsoleModifiers.Control);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    terminal.Write("\r\n");
                    history.Add(line.ToString());
                    return line.ToString();
                case ConsoleKey.D when ctrl:
                    if (line.Length == 0) { terminal.Write("\r\n"); return null; }
                    break;
                case ConsoleKey.C when ctrl:
                    terminal.Write("^C\r\n");
                    line.Clear(); cursor = 0; browsing = history.Lines.Count;
                    terminal.Write(prompt);
                    break;
                case ConsoleKey.LeftArrow or ConsoleKey.B when key.Key == ConsoleKey.LeftArrow || ctrl:
                    if (cursor > 0) { cursor--; terminal.Write("\u001b[D"); }
                    break;
                case ConsoleKey.RightArrow or ConsoleKey.F when key.Key == ConsoleKey.RightArrow || ctrl:
                    if (cursor < line.Length) { cursor++; terminal.Write("\u001b[C"); }
                    break;
                case ConsoleKey.Home or ConsoleKey.A when key.Key == ConsoleKey.Home || ctrl:
                    cursor = 0; Redraw();
                    break;
                case ConsoleKey.End or ConsoleKey.E when key.Key == ConsoleKey.End || ctrl:
                    cursor = line.Length; Redraw();
                    break;
                case ConsoleKey.Backspace:
                    if (cursor > 0) { line.Remove(--cursor, 1); Redraw(); }
                    break;
                case ConsoleKey.Delete:
                    if (cursor < line.Length) { line.Remove(cursor, 1); Redraw(); }
                    break;
                case ConsoleKey.U when ctrl:
                    line.Remove(0, cursor); cursor = 0; Redraw();
                    break;
                case ConsoleKey.K when ctrl:
                    line.Length = cursor; Redraw();
                    break;
                case ConsoleKey.W when ctrl:
                    {
                        int start = cursor;
                        while (start > 0 && line[start - 1] == ' ') start--;
                        while (start > 0 && line[start - 1] != ' ') start--;
                        line.Remove(start, cursor - start); cursor = start; Redraw();
                        break;
                    }
                case ConsoleKey.UpArrow or ConsoleKey.P when key.Key == ConsoleKey.UpArrow || ctrl:
                    if (browsing > 0)
                    {
                        if (browsing == history.Lines.Count) typed = line.ToString();
                        Replace(history.Lines[--browsing]);
                    }
                    break;
                case ConsoleKey.DownArrow or ConsoleKey.N when key.Key == ConsoleKey.DownArrow || ctrl:
                    if (browsing < history.Lines.Count)
                        Replace(++browsing == history.Lines.Count ? typed : history.Lines[browsing]);
                    break;
                case ConsoleKey.Tab:
                    tab = true;
                    Complete(line, ref cursor, tabbedBefore, Redraw, prompt);
                    break;
                default:
                    if (!char.IsControl(key.KeyChar) && line.Length < MaxLineLength)
                    {
                        line.Insert(cursor++, key.KeyChar);
                        if (cursor == line.Length) terminal.Write(key.KeyChar.ToString()); else Redraw();
                    }
                    break;
            }
            tabbedBefore = tab;
        }
    }

    private void Complete(StringBuilder line, ref int cursor, bool secondTab, Action redraw, string prompt)
    {
        if (complete is null) return;
        var text = line.ToString();
        int start = cursor;
        while (start > 0 && text[start - 1] != ' ') start--;
        var word = text[start..cursor];
        var candidates = complete(text[..cursor], start).Where(c => c.StartsWith(word, StringComparison.Ordinal)).Distinct().ToList();
        if (candidates.Count == 0) return;
        var common = candidates.Aggregate((a, b) => a[..CommonLength(a, b)]);
        if (candidates.Count == 1 && !common.EndsWith('/')) common += " ";
        if (common.Length > word.Length)
        {
            var add = common[word.Length..];
            if (line.Length + add.Length > MaxLineLength) return;
            line.Insert(cursor, add);
            cursor += add.Length;
            redraw();
        }
        else if (candidates.Count > 1 && secondTab)
        {
            terminal.Write("\r\n" + string.Join("  ", candidates) + "\r\n");
            redraw();
        }
    }

    private static int CommonLength(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }
}
