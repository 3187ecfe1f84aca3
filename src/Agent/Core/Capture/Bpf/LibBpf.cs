using System.Runtime.InteropServices;
using System.Text;

namespace DropBoard.Agent.Capture.Bpf;

/// <summary>
/// The few libbpf (Debian's <c>libbpf1</c>) calls the bpf source needs. libbpf ≥ 1.0 semantics: pointer-returning
/// calls return NULL and set errno; int-returning calls return a negative errno.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Library = "libbpf.so.1";

    [LibraryImport(Library, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    public static partial nint ObjectOpenMem(byte* buffer, nuint size, nint options);

    [LibraryImport(Library, EntryPoint = "bpf_object__load")]
    public static partial int ObjectLoad(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    public static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint FindProgram(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_fd_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FindMapFd(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint FindMap(nint obj, string name);

    /// <summary>Sets a map's entries before the load; a negative errno on failure.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_map__set_max_entries")]
    public static partial int SetMaxEntries(nint map, uint maxEntries);

    /// <summary>Sets a data map's contents (a <c>.rodata.*</c> section's variables) before the load; a negative errno on failure.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_map__set_initial_value")]
    public static partial int SetInitialValue(nint map, void* data, nuint size);

    /// <summary>Whether <see cref="ObjectLoad"/> loads the program (1) or leaves it out (0); before the load.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_program__set_autoload")]
    public static partial int SetAutoload(nint program, byte autoload);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach", SetLastError = true)]
    public static partial nint ProgramAttach(nint program);

    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    public static partial int LinkDestroy(nint link);

    [LibraryImport(Library, EntryPoint = "libbpf_num_possible_cpus")]
    public static partial int PossibleCpus();

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_batch")]
    public static partial int MapLookupBatch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, nint options);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem")]
    public static partial int MapLookup(int fd, void* key, void* value);

    /// <summary>The key after <paramref name="key"/> (the first when null); -ENOENT past the last, or in an empty map.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_map_get_next_key")]
    public static partial int MapNextKey(int fd, void* key, void* nextKey);

    /// <summary>The kernel's description of a map or program (<c>struct bpf_map_info</c>); a negative errno on failure.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_obj_get_info_by_fd")]
    public static partial int ObjectInfo(int fd, void* info, uint* length);

    [LibraryImport(Library, EntryPoint = "bpf_map_update_elem")]
    public static partial int MapUpdate(int fd, void* key, void* value, ulong flags);

    /// <summary>A reader of a BPF ring buffer map that calls <paramref name="sample"/> for each record; NULL and errno on failure.</summary>
    [LibraryImport(Library, EntryPoint = "ring_buffer__new", SetLastError = true)]
    public static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, void*, nuint, int> sample, nint context, nint options);

    /// <summary>Hands every record in the ring to the callback without waiting; the number handed, or a negative errno.</summary>
    [LibraryImport(Library, EntryPoint = "ring_buffer__consume")]
    public static partial int RingBufferConsume(nint ring);

    [LibraryImport(Library, EntryPoint = "ring_buffer__free")]
    public static partial void RingBufferFree(nint ring);

    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    private static partial nint SetPrint(delegate* unmanaged<int, byte*, nint, int> print);

    [LibraryImport("libc", EntryPoint = "vsnprintf")]
    private static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial byte* StrError(int errno);

    public static string Describe(int errno) => Marshal.PtrToStringUTF8((nint)StrError(errno)) ?? $"errno {errno}";

    // libbpf's warnings (the verifier's refusal, a missing BTF) go to stderr by default; they are kept here instead
    // so the start line can say why, and nothing else writes to the agent's terminal.
    private static readonly Lock Gate = new();
    private static readonly Queue<string> Warnings = new();

    /// <summary>Routes libbpf's messages into <see cref="TakeWarnings"/>. Idempotent.</summary>
    public static void CaptureMessages() => SetPrint(&Print);

    /// <summary>The last warnings libbpf printed since the previous call (at most a few lines).</summary>
    public static string TakeWarnings()
    {
        lock (Gate)
        {
            var text = string.Join(" / ", Warnings);
            Warnings.Clear();
            return text;
        }
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        const int LIBBPF_WARN = 0;
        if (level != LIBBPF_WARN) return 0;
        var buffer = stackalloc byte[512];
        var length = VsnPrintf(buffer, 512, format, args);
        if (length <= 0) return 0;
        var line = Encoding.UTF8.GetString(buffer, Math.Min(length, 511)).Trim();
        if (line.StartsWith("libbpf: ", StringComparison.Ordinal)) line = line["libbpf: ".Length..];
        lock (Gate)
        {
            Warnings.Enqueue(line);
            while (Warnings.Count > 4) Warnings.Dequeue();
        }
        return 0;
    }
}
