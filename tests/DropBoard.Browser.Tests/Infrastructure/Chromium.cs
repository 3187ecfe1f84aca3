using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium driven by Playwright (the Playwright browser download does not work here).
/// Screenshots go to <see cref="ArtefactDirectory"/>, to be looked at after a run.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static string ArtefactDirectory { get; } =
        Environment.GetEnvironmentVariable("DROPBOARD_TEST_ARTEFACTS") ?? Path.Combine(Path.GetTempPath(), "dropboard-test-artefacts");

    private readonly IPlaywright _playwright;

    public IBrowser Browser { get; }

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public static async Task<Chromium> LaunchAsync()
    {
        Privileged.Require(File.Exists(ExecutablePath), $"{ExecutablePath} is not installed (apt-get install chromium)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // Root in CI needs --no-sandbox; the rest keeps a test browser off the network and quiet.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return new Chromium(playwright, browser);
    }

    /// <summary>
    /// A fresh context (no cookies, no storage) and a page in it, as a teammate opening a link would have; in
    /// <paramref name="timeZone"/> (an IANA id) when given, else the machine's.
    /// </summary>
    public async Task<IPage> NewPageAsync(Uri baseAddress, bool dark = false, string? timeZone = null, int width = 1400)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = 1000 },
            ColorScheme = dark ? ColorScheme.Dark : ColorScheme.Light,
            TimezoneId = timeZone,
        });
        return await context.NewPageAsync();
    }

    public static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ArtefactDirectory);
        var path = Path.Combine(ArtefactDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
