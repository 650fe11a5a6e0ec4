using Photon.Net.Services;

namespace Photon.Net.Tests;

/// <summary>The pure parts of the HTTP server: Range headers (RFC 9110 §14) and URL paths for the static-file handler,
/// including hostile ones that try to leave the served root.</summary>
public sealed class HttpParsingTests
{
    [Theory]
    [InlineData("bytes=0-99", 1000, "Partial", 0, 100)]
    [InlineData("bytes=990-", 1000, "Partial", 990, 10)]
    [InlineData("bytes=990-5000", 1000, "Partial", 990, 10)] // an end past the file is clamped
    [InlineData("bytes=-10", 1000, "Partial", 990, 10)] // the last ten bytes
    [InlineData("bytes=-5000", 1000, "Partial", 0, 1000)]
    [InlineData("bytes=1000-", 1000, "Unsatisfiable", 0, 0)]
    [InlineData("bytes=-0", 1000, "Unsatisfiable", 0, 0)]
    [InlineData("bytes=0-", 0, "Unsatisfiable", 0, 0)]
    [InlineData("bytes=5-1", 1000, "Whole", 0, 1000)] // invalid: ignored
    [InlineData("bytes=0-1,5-6", 1000, "Whole", 0, 1000)] // several ranges: the whole body
    [InlineData("items=0-1", 1000, "Whole", 0, 1000)]
    [InlineData("bytes=99999999999999999999-", 1000, "Whole", 0, 1000)] // overflow is not a huge offset
    [InlineData("bytes=x-1", 1000, "Whole", 0, 1000)]
    [InlineData("bytes=", 1000, "Whole", 0, 1000)]
    public void Range_headers_give_one_range_the_whole_body_or_unsatisfiable(string header, long length, string outcome, long start, long count)
    {
        var r = HttpRange.Parse(header, null, length);
        Assert.Equal((outcome, start, count), (r.Outcome.ToString(), r.Start, r.Count));
    }

    [Fact]
    public void An_If_Range_the_server_cannot_validate_gets_the_whole_body() =>
        Assert.Equal(HttpRange.Kind.Whole, HttpRange.Parse("bytes=0-1", "\"etag\"", 100).Outcome);

    [Theory]
    [InlineData("/", "")]
    [InlineData("/index.html", "/index.html")]
    [InlineData("/docs/", "/docs")]
    [InlineData("/a%20b/c.txt", "/a b/c.txt")]
    [InlineData("/caf%C3%A9", "/café")]
    public void Plain_paths_decode_under_the_root(string url, string expected) => Assert.Equal(expected, StaticFileHandler.DecodePath(url));

    [Theory]
    [InlineData("/../etc/passwd")]
    [InlineData("/docs/../../etc/passwd")]
    [InlineData("/%2e%2e/etc/passwd")]
    [InlineData("/%2E%2E%2Fetc%2Fpasswd")]
    [InlineData("/docs/%2e%2e%2f%2e%2e%2fetc")]
    [InlineData("/./a")]
    [InlineData("//etc/passwd")] // an empty segment: no absolute path smuggled in
    [InlineData("/a%00.txt")]
    [InlineData("/a%5c..%5cb")] // backslash
    [InlineData("/a%0d%0aX: y")]
    [InlineData("/%ff%fe")] // not UTF-8
    [InlineData("/a%2")]
    [InlineData("/a%zz")]
    [InlineData("relative")]
    public void Paths_that_could_leave_the_root_or_alias_are_refused(string url) => Assert.Null(StaticFileHandler.DecodePath(url));

    [Theory]
    [InlineData("/a/b.HTML", "text/html; charset=utf-8")]
    [InlineData("/x.tar.gz", "application/gzip")]
    [InlineData("/dir.d/noext", "application/octet-stream")]
    public void Content_types_follow_the_extension(string path, string type) => Assert.Equal(type, ContentTypes.Of(path));
}
