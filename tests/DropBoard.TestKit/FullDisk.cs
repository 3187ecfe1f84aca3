namespace DropBoard.TestKit;

/// <summary>
/// A tmpfs of a few kilobytes filled to its last block: every write under <see cref="Directory"/> fails with
/// "No space left on device" until <see cref="Free"/>. Unmounted on dispose.
/// </summary>
public sealed class FullDisk : IDisposable
{
    private readonly string _mountPoint;
    private string Filler => Path.Combine(_mountPoint, "filler");

    /// <summary>An empty directory on the full disk, made before it was filled.</summary>
    public string Directory => Path.Combine(_mountPoint, "spool");

    private FullDisk(string mountPoint) => _mountPoint = mountPoint;

    public static FullDisk Create(int kilobytes = 64)
    {
        Privileged.RequireRoot();
        var mountPoint = System.IO.Directory.CreateTempSubdirectory("dropboard-full-disk-").FullName;
        Commands.Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", mountPoint);
        var disk = new FullDisk(mountPoint);
        System.IO.Directory.CreateDirectory(disk.Directory);
        using var filler = File.OpenHandle(disk.Filler, FileMode.CreateNew, FileAccess.Write);
        var block = new byte[4096];
        try
        {
            for (long offset = 0; ; offset += block.Length) RandomAccess.Write(filler, block, offset);
        }
        catch (IOException)
        {
            // Full: what the test wanted.
        }
        return disk;
    }

    /// <summary>Frees the disk: writes succeed again, as far as its few kilobytes go.</summary>
    public void Free() => File.Delete(Filler);

    public void Dispose()
    {
        Commands.TryRun("umount", "--lazy", _mountPoint);
        System.IO.Directory.Delete(_mountPoint, recursive: true);
    }
}
