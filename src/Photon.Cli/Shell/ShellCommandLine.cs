using Photon.Kernel;

namespace Photon.Cli.Shell;

/// <summary>
/// Splits a shell line into commands (separated by <c>;</c>) and each command into words. Words are separated by
/// blanks; <c>'…'</c> keeps everything literally, <c>"…"</c> allows <c>\"</c> and <c>\\</c>, and a backslash outside
/// quotes escapes the next character. <c>#</c> at the start of a word starts a comment.
/// </summary>
public static class ShellCommandLine
{
    /// <summary>Longest line accepted (a pasted blob is refused, not parsed).</summary>
    public const int MaxLineLength = 64 * 1024;

    public static Result<IReadOnlyList<string[]>> Parse(string line)
    {
        if (line.Length > MaxLineLength) return Errors.Of(ErrorCode.InvalidArgument, $"line longer than {MaxLineLength} characters");
        var commands = new List<string[]>();
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool inWord = false;
        void EndWord() { if (inWord) words.Add(word.ToString()); word.Clear(); inWord = false; }
        void EndCommand() { EndWord(); if (words.Count > 0) commands.Add(words.ToArray()); words.Clear(); }

        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            switch (c)
            {
                case ' ' or '\t' or '\r' or '\n':
                    EndWord();
                    break;
                case ';':
                    EndCommand();
                    break;
                case '#' when !inWord:
                    i = line.Length;
                    break;
                case '\\':
                    if (i + 1 >= line.Length) return Errors.Of(ErrorCode.InvalidArgument, "line ends with a lone backslash");
                    word.Append(line[++i]);
                    inWord = true;
                    break;
                case '\'':
                    {
                        int close = line.IndexOf('\'', i + 1);
                        if (close < 0) return Errors.Of(ErrorCode.InvalidArgument, $"unterminated ' at column {i + 1}");
                        word.Append(line, i + 1, close - i - 1);
                        inWord = true;
                        i = close;
                        break;
                    }
                case '"':
                    {
                        int start = i++;
                        for (; i < line.Length && line[i] != '"'; i++)
                        {
                            if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\') i++;
                            word.Append(line[i]);
                        }
                        if (i >= line.Length) return Errors.Of(ErrorCode.InvalidArgument, $"unterminated \" at column {start + 1}");
                        inWord = true;
                        break;
                    }
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }
        EndCommand();
        return commands;
    }
}
