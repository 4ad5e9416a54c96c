using System.Runtime.InteropServices;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Runtime;

namespace VmReplay.Recorder.Faults;

/// <summary>
/// Captures a <see cref="VmmFault"/> from the running VMM with Microsoft.Diagnostics.Runtime (ClrMD):
/// the runtime's createdump writes a dump of this process to a temporary file, ClrMD reads every
/// managed thread's stack from it, and the file is deleted.
/// </summary>
/// <remarks>
/// ClrMD's <c>DataTarget.CreateSnapshotAndAttach</c> is not used: on Linux it is not a fork but a full
/// core dump, whose time and size follow the mapped guest RAM (1 GiB of guest RAM: 6 s and a 1.2 GiB
/// file). Thread names live on the GC heap, but any dump with the heap costs the same, because
/// createdump then copies all private writable memory. So the heap is dumped only while that memory is
/// small; a larger VMM gets a stack-only dump (10 MiB, 0.4 s whatever the guest size) and OS thread names.
/// </remarks>
public static partial class VmmFaultCapture
{
    private const int MaxFrames = 64;

    // createdump writes about 4 ms per MiB here, so a heap dump stays near 2 s.
    internal const long HeapDumpBudget = 512L << 20;

    private static readonly TimeSpan DumpTimeout = TimeSpan.FromSeconds(5);

    // Redirecting stdout and stderr is process-wide, so two captures must not interleave.
    private static readonly Lock Gate = new();

    /// <summary>Never throws: if the stacks cannot be read, the record says why.</summary>
    public static VmmFault Capture(Exception e) => Capture(e, HeapDumpBudget, DumpTimeout);

    /// <param name="heapDumpBudget">The most private memory the VMM may have for the dump to include the heap.</param>
    /// <param name="dumpTimeout">How long the dump may take before the record says it timed out instead.</param>
    /// <param name="heapDumpTimeout">How long a dump with the heap may take before one without it is taken instead (default <paramref name="dumpTimeout"/>).</param>
    internal static VmmFault Capture(Exception e, long heapDumpBudget, TimeSpan dumpTimeout, TimeSpan? heapDumpTimeout = null)
    {
        IReadOnlyList<VmmThreadStack> threads = [];
        string? error = null;
        try
        {
            lock (Gate) threads = ReadThreads(heapDumpBudget, heapDumpTimeout ?? dumpTimeout, dumpTimeout);
        }
        catch (Exception ce)
        {
            error = $"{ce.GetType().Name}: {ce.Message.ReplaceLineEndings(" ")}";
        }
        return new VmmFault(e.GetType().FullName ?? e.GetType().Name, e.Message, e.ToString(), threads, error);
    }

    private static List<VmmThreadStack> ReadThreads(long heapDumpBudget, TimeSpan heapDumpTimeout, TimeSpan dumpTimeout)
    {
        // ClrMD reads the runtime's version as 0.0 from a Linux dump, so it cannot pick the DAC
        // itself; the matching one ships beside the runtime.
        string dac = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "libmscordaccore.so");
        if (!File.Exists(dac)) throw new FileNotFoundException($"no DAC at {dac}");
        bool withHeap = PrivateDataBytes() <= heapDumpBudget;
        string path = Path.GetTempFileName();
        try
        {
            try { WriteDump(path, withHeap ? DumpType.WithHeap : DumpType.Normal, withHeap ? heapDumpTimeout : dumpTimeout); }
            catch (TimeoutException) when (withHeap)
            {
                // A loaded host (a CI run, 2 cores) can take longer than the timeout over the
                // heap (one recording's took 29 s instead of 3): the stacks need no heap, only
                // the threads' full names do, so the dump is taken again without it, and the
                // names are the 15 characters the kernel keeps. The runtime serves one dump
                // request at a time, so this one starts when the first ends (here: the heap
                // 0.8-1.4 s, without it 0.3-0.5 s, the two one after the other 1.1-1.4 s): it
                // saves the stacks where the first ends within this second timeout. Ending the
                // first instead is no way out: createdump holds the process ptrace-stopped, and
                // killed, leaves it stopped for ever (c1c8458).
                withHeap = false;
                path = Path.GetTempFileName();
                WriteDump(path, DumpType.Normal, dumpTimeout);
            }
            // No symbol paths: everything ClrMD needs is in the dump or on this machine, and a VMM
            // that just failed should not wait on a symbol server.
            using var target = DataTarget.LoadDump(path, new DataTargetOptions { SymbolPaths = [] });
            if (target.ClrVersions.Length == 0) throw new InvalidOperationException("no .NET runtime in the process dump");
            using var runtime = target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true);
            var names = withHeap ? ManagedThreadNames(runtime) : [];
            var threads = new List<VmmThreadStack>();
            foreach (var t in runtime.Threads)
            {
                if (!t.IsAlive) continue;
                var frames = t.EnumerateStackTrace()
                    .Where(f => f.Method is not null)
                    .Take(MaxFrames)
                    .Select(f => f.Method!.Signature ?? f.Method.Name ?? f.ToString() ?? "?")
                    .ToList();
                string? name = names.GetValueOrDefault(t.ManagedThreadId) ?? OsThreadName(t.OSThreadId);
                threads.Add(new VmmThreadStack(t.ManagedThreadId, t.OSThreadId, name, frames));
            }
            return threads;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void WriteDump(string path, DumpType type, TimeSpan timeout)
    {
        using var silence = new SilencedStdio();
        // On another thread so that a hung dump costs a timeout, not the caller; the caller's stack
        // is then short too.
        var dump = Task.Run(() => new DiagnosticsClient(Environment.ProcessId).WriteDump(type, path, logDumpGeneration: false));
        if (Task.WaitAny([dump], timeout) < 0)
        {
            // createdump may still create the file after the caller's cleanup.
            _ = dump.ContinueWith(_ => File.Delete(path), TaskScheduler.Default);
            throw new TimeoutException($"the process dump took longer than {timeout.TotalSeconds:0.###} s");
        }
        dump.GetAwaiter().GetResult();
    }

    // VmData counts every private writable mapping, touched or not, which is what createdump copies
    // into a dump with the heap.
    private static long PrivateDataBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmData:", StringComparison.Ordinal)) continue;
                var kib = line["VmData:".Length..].Trim().Split(' ')[0];
                if (long.TryParse(kib, out long value)) return value * 1024;
            }
        }
        catch (IOException)
        {
        }
        return long.MaxValue;
    }

    // The threads' System.Threading.Thread objects are held by strong handles; going through the
    // handle table avoids walking the whole heap.
    private static Dictionary<int, string> ManagedThreadNames(ClrRuntime runtime)
    {
        var names = new Dictionary<int, string>();
        try
        {
            foreach (var handle in runtime.EnumerateHandles())
            {
                if (!handle.IsStrong) continue;
                var obj = handle.Object;
                if (obj.Type?.Name != "System.Threading.Thread") continue;
                if (obj.ReadStringField("_name") is { Length: > 0 } name) names[obj.ReadField<int>("_managedThreadId")] = name;
            }
        }
        catch (Exception)
        {
            // Names are a convenience; the stacks are what matters.
        }
        return names;
    }

    private static string? OsThreadName(uint osThreadId)
    {
        // The main thread's OS name is the process's name, not one the VMM gave it.
        if (osThreadId == Environment.ProcessId) return null;
        try
        {
            string name = File.ReadAllText($"/proc/self/task/{osThreadId}/comm").TrimEnd('\n');
            return name.Length > 0 ? name : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// createdump, started by the runtime, reports its progress on this process's stdout and stderr,
    /// and stdout carries the guest's serial output; both point at /dev/null until disposed.
    /// </summary>
    private sealed class SilencedStdio : IDisposable
    {
        private readonly int _savedOut = Dup(1), _savedErr = Dup(2);

        public SilencedStdio()
        {
            using var nul = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
            int fd = (int)nul.DangerousGetHandle();
            if (_savedOut >= 0) Dup2(fd, 1);
            if (_savedErr >= 0) Dup2(fd, 2);
        }

        public void Dispose()
        {
            if (_savedOut >= 0) { Dup2(_savedOut, 1); Close(_savedOut); }
            if (_savedErr >= 0) { Dup2(_savedErr, 2); Close(_savedErr); }
        }
    }

    [LibraryImport("libc", EntryPoint = "dup")]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int Dup2(int from, int to);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
