using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using static DropBoard.Web.Sessions.Import.ImportLimits;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// The body of <c>POST /api/import</c>: the file itself, or a multipart form with the parts <c>file</c>,
/// <c>netstatBefore</c> and <c>netstatAfter</c>. Each part is read only up to its limit, so an oversized upload is
/// refused having cost no more memory than the limit.
/// </summary>
public sealed record ImportUpload(byte[] File, string? FileName, string? NetstatBefore, string? NetstatAfter)
{
    // Part headers and boundaries around the three parts.
    private const int FormOverheadBytes = 64 << 10;

    /// <exception cref="ImportException">Too large (<see cref="ImportException.TooLarge"/>), or not a form the import reads.</exception>
    public static async Task<ImportUpload> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var form = request.HasFormContentType;
        var limit = form ? MaxFileBytes + 2L * MaxNetstatBytes + FormOverheadBytes : MaxFileBytes;
        if (request.ContentLength > limit) throw ImportException.Oversized(form ? "the form" : "the file", limit);
        // The server's own cap (30 MB by default) is below a file the import takes.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = limit + 1;
        try
        {
            return form
                ? await ReadFormAsync(request, cancellationToken)
                : new ImportUpload(await ReadAtMostAsync(request.Body, MaxFileBytes, "the file", cancellationToken), null, null, null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ImportException.Oversized(form ? "the form" : "the file", limit);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Also a body another component read first, or a client gone mid-upload.
            throw new ImportException($"the upload could not be read: {e.Message}");
        }
    }

    private static async Task<ImportUpload> ReadFormAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
            throw new ImportException("an import form must be multipart/form-data, with the parts 'file', 'netstatBefore' and 'netstatAfter'");
        var reader = new MultipartReader(boundary, request.Body);
        byte[]? file = null;
        string? fileName = null, before = null, after = null;
        while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
        {
            var disposition = section.GetContentDispositionHeader();
            switch (HeaderUtilities.RemoveQuotes(disposition?.Name ?? default).Value)
            {
                case "file" when file is null:
                    file = await ReadAtMostAsync(section.Body, MaxFileBytes, "the file", cancellationToken);
                    fileName = HeaderUtilities.RemoveQuotes(disposition!.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                    break;
                case "netstatBefore" when before is null:
                    before = ImportText.Decode(await ReadAtMostAsync(section.Body, MaxNetstatBytes, "netstatBefore", cancellationToken), "netstatBefore");
                    break;
                case "netstatAfter" when after is null:
                    after = ImportText.Decode(await ReadAtMostAsync(section.Body, MaxNetstatBytes, "netstatAfter", cancellationToken), "netstatAfter");
                    break;
                case "file" or "netstatBefore" or "netstatAfter":
                    throw new ImportException($"the form has the part '{disposition!.Name}' twice");
                default:
                    // Parts the import does not read cost nothing but the body limit.
                    await section.Body.DrainAsync(cancellationToken);
                    break;
            }
        }
        if (file is null) throw new ImportException("the form has no 'file' part");
        return new ImportUpload(file, string.IsNullOrEmpty(fileName) ? null : fileName, before, after);
    }

    private static async Task<byte[]> ReadAtMostAsync(Stream body, int limit, string part, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (copy.Length + read > limit) throw ImportException.Oversized(part, limit);
            copy.Write(chunk, 0, read);
        }
        return copy.ToArray();
    }
}
