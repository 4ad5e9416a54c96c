using Microsoft.Diagnostics.Runtime;

namespace VmReplay.Recorder.Faults;

/// <summary>
/// Captures a <see cref="VmmFault"/> from the running VMM with Microsoft.Diagnostics.Runtime:
/// a snapshot of this very process (ClrMD forks it, so the threads being inspected are frozen
/// copies and the VMM itself is not stopped), then every managed thread's stack.
/// </summary>
public static partial class VmmFaultCapture
{
    private const int MaxFrames = 64;

    /// <summary>Never throws: if the stacks cannot be read, the record says why.</summary>
    public static VmmFault Capture(Exception e)
    {
        var threads = new List<VmmThreadStack>();
        string? error = null;
        try
        {
            using var target = Quietly(() => DataTarget.CreateSnapshotAndAttach(Environment.ProcessId));
            if (target.ClrVersions.Length == 0) throw new InvalidOperationException("no CLR found in the process snapshot");
            // The DAC that matches this runtime ships beside it (ClrMD would otherwise try to download
            // one, and it cannot read the runtime's version from a Linux process snapshot to compare).
            string dac = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "libmscordaccore.so");
            using var runtime = File.Exists(dac) ? target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true) : target.ClrVersions[0].CreateRuntime();
            var names = ThreadNames(runtime);
            foreach (var t in runtime.Threads)
            {
                if (!t.IsAlive) continue;
                var frames = t.EnumerateStackTrace()
                    .Where(f => f.Method is not null)
                    .Take(MaxFrames)
                    .Select(f => f.Method!.Signature ?? f.Method.Name ?? f.ToString() ?? "?")
                    .ToList();
                threads.Add(new VmmThreadStack(t.ManagedThreadId, t.OSThreadId, names.GetValueOrDefault(t.ManagedThreadId), frames));
            }
        }
        catch (Exception ce)
        {
            error = $"{ce.GetType().Name}: {ce.Message}";
        }
        return new VmmFault(e.GetType().FullName ?? e.GetType().Name, e.Message, e.ToString(), threads, error);
    }

    // On Linux the snapshot is taken by the runtime's createdump, which reports its progress on
    // the process's own stdout and stderr; stdout carries the guest's serial output.
    private static T Quietly<T>(Func<T> action)
    {
        int nul = Open("/dev/null", 1 /* O_WRONLY */);
        int savedOut = Dup(1), savedErr = Dup(2);
        try
        {
            if (nul >= 0)
            {
                Dup2(nul, 1);
                Dup2(nul, 2);
            }
            return action();
        }
        finally
        {
            if (savedOut >= 0) { Dup2(savedOut, 1); Close(savedOut); }
            if (savedErr >= 0) { Dup2(savedErr, 2); Close(savedErr); }
            if (nul >= 0) Close(nul);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "dup")]
    private static partial int Dup(int fd);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int Dup2(int from, int to);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    // Names live in the System.Threading.Thread objects (_name), found by their _managedThreadId.
    private static Dictionary<int, string> ThreadNames(ClrRuntime runtime)
    {
        var names = new Dictionary<int, string>();
        try
        {
            foreach (var obj in runtime.Heap.EnumerateObjects())
            {
                if (obj.Type?.Name != "System.Threading.Thread") continue;
                string? name = obj.ReadStringField("_name");
                if (name is not null) names[obj.ReadField<int>("_managedThreadId")] = name;
            }
        }
        catch (Exception)
        {
            // Names are a convenience; the stacks are what matters.
        }
        return names;
    }
}
