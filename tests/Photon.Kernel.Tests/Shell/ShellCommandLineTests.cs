using Photon.Cli.Shell;
using Photon.Kernel;

namespace Photon.Kernel.Tests.Shell;

public class ShellCommandLineTests
{
    [Fact]
    public void Splits_commands_on_semicolons_and_words_on_blanks()
    {
        var r = ShellCommandLine.Parse("ls /;  ps ;caps 3");
        Assert.True(r.IsOk);
        Assert.Equal([["ls", "/"], ["ps"], ["caps", "3"]], r.Value);
    }

    [Fact]
    public void Quotes_and_backslashes_keep_blanks_and_semicolons_in_one_word()
    {
        var r = ShellCommandLine.Parse("cat 'a b;c' \"d \\\"e\\\"\" f\\ g # a comment; ps");
        Assert.True(r.IsOk);
        Assert.Equal([["cat", "a b;c", "d \"e\"", "f g"]], r.Value);
    }

    [Fact]
    public void Empty_quotes_are_an_empty_word_and_blank_lines_are_no_commands()
    {
        Assert.Equal([["ns", "bind", ""]], ShellCommandLine.Parse("ns bind ''").Value);
        Assert.Empty(ShellCommandLine.Parse("   ;; ").Value);
    }

    [Theory]
    [InlineData("cat 'unterminated")]
    [InlineData("cat \"unterminated")]
    [InlineData("cat trailing\\")]
    public void Malformed_lines_are_typed_errors(string line)
    {
        var r = ShellCommandLine.Parse(line);
        Assert.Equal(ErrorCode.InvalidArgument, r.Code);
    }

    [Fact]
    public void A_line_longer_than_the_limit_is_refused_without_parsing()
    {
        var r = ShellCommandLine.Parse(new string('x', ShellCommandLine.MaxLineLength + 1));
        Assert.Equal(ErrorCode.InvalidArgument, r.Code);
    }
}
