using Ganss.Xss;
using Markdig;

namespace DropBoard.Web.Investigations;

/// <summary>
/// Notes are markdown written by teammates and read by others: rendered with raw HTML disabled, then
/// sanitized, so no script, handler or javascript: link gets through either way.
/// </summary>
public static class InvestigationNotes
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().DisableHtml().Build();
    private static readonly HtmlSanitizer Sanitizer = new();

    public static string ToHtml(string markdown) => Sanitizer.Sanitize(Markdown.ToHtml(markdown, Pipeline));
}
