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
/// createdump then copies all private writable memory. So the stacks come from a stack-only dump
/// (10 MiB, 0.4 s whatever the guest size) with the OS thread names, and a second dump, with the heap,
/// adds the full names only while that memory is small and only if it comes in time.
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
    /// <param name="heapDumpTimeout">How long the dump with the heap, for the threads' full names, may take before the kernel's names are kept instead (default <paramref name="dumpTimeout"/>).</param>
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

    /// <summary>
    /// Whether this build can read its threads' stacks: not the native (Native AOT) one, which has
    /// no runtime beside it (no DAC, no dump writer, nothing ClrMD could read). Its compiler is
    /// told so (src/Cli/Cli.csproj, --feature) and leaves ClrMD out of the executable: 6.7 MB that
    /// every start of it paid for. Not RuntimeFeature.IsDynamicCodeSupported: a project published
    /// Native AOT turns that off in its managed build too.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.FeatureSwitchDefinition(ThreadStacksSwitch)]
    internal static bool ThreadStacksSupported => !AppContext.TryGetSwitch(ThreadStacksSwitch, out bool on) || on;

    private const string ThreadStacksSwitch = "VmReplay.Faults.ThreadStacks";

    private static List<VmmThreadStack> ReadThreads(long heapDumpBudget, TimeSpan heapDumpTimeout, TimeSpan dumpTimeout)
    {
        // The exception's own stack is in the record all the same.
        if (!ThreadStacksSupported)
            throw new PlatformNotSupportedException("this vmreplay is the native (Native AOT) build, whose threads ClrMD cannot read; the managed build (dotnet vmreplay.dll, from dotnet build) records every VMM thread's stack");
        // ClrMD reads the runtime's version as 0.0 from a Linux dump, so it cannot pick the DAC
        // itself; the matching one ships beside the runtime.
        string dac = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "libmscordaccore.so");
        if (!File.Exists(dac)) throw new FileNotFoundException($"no DAC at {dac}");
        // The stacks first, from a dump without the heap: it is small and quick (0.3-0.5 s here,
        // against 0.8-1.4 s with the heap), so a loaded host still gets them (a CI run's dump
        // with the heap once took longer than the timeout, and the record held none). Then,
        // where the VMM is small enough, a dump with the heap for the threads' full names (the
        // kernel keeps 15 characters); if that one takes too long or fails, the stacks stand
        // with the kernel's names. The runtime serves one dump request at a time, so a second
        // dump could not have rescued a first that hung; nor can a hung one be ended: createdump
        // holds the process ptrace-stopped, and killed, leaves it stopped for ever (c1c8458).
        var threads = FromDump(dac, DumpType.Normal, dumpTimeout, dumpTimeout, runtime => Stacks(runtime));
        if (PrivateDataBytes() <= heapDumpBudget)
        {
            try
            {
                var names = FromDump(dac, DumpType.WithHeap, heapDumpTimeout, dumpTimeout, ManagedThreadNames);
                threads = threads.Select(t => names.TryGetValue(t.ManagedThreadId, out var name) ? t with { Name = name } : t).ToList();
            }
            // The names are a convenience: a dump with the heap that times out or fails leaves
            // the stacks as they are.
            catch (Exception)
            {
            }
        }
        return threads;
    }

    private static T FromDump<T>(string dac, DumpType type, TimeSpan timeout, TimeSpan grace, Func<ClrRuntime, T> read)
    {
        string path = Path.GetTempFileName();
        try
        {
            WriteDump(path, type, timeout, grace);
            // No symbol paths: everything ClrMD needs is in the dump or on this machine, and a VMM
            // that just failed should not wait on a symbol server.
            using var target = DataTarget.LoadDump(path, new DataTargetOptions { SymbolPaths = [] });
            if (target.ClrVersions.Length == 0) throw new InvalidOperationException("no .NET runtime in the process dump");
            using var runtime = target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true);
            return read(runtime);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Every live managed thread's stack, named by the kernel's name for it.
    private static List<VmmThreadStack> Stacks(ClrRuntime runtime)
    {
        var threads = new List<VmmThreadStack>();
        foreach (var t in runtime.Threads)
        {
            if (!t.IsAlive) continue;
            var frames = t.EnumerateStackTrace()
                .Where(f => f.Method is not null)
                .Take(MaxFrames)
                .Select(f => f.Method!.Signature ?? f.Method.Name ?? f.ToString() ?? "?")
                .ToList();
            threads.Add(new VmmThreadStack(t.ManagedThreadId, t.OSThreadId, OsThreadName(t.OSThreadId), frames));
        }
        return threads;
    }

    private static void WriteDump(string path, DumpType type, TimeSpan timeout, TimeSpan grace)
    {
        using var silence = new SilencedStdio();
        // On another thread so that a hung dump costs a timeout, not the caller; the caller's stack
        // is then short too.
        var dump = Task.Run(() => new DiagnosticsClient(Environment.ProcessId).WriteDump(type, path, logDumpGeneration: false));
        if (Task.WaitAny([dump], timeout) < 0)
        {
            // Too late to be used, but createdump goes on, and writes its progress on this
            // process's stdout and stderr as it runs: restored under it, they carried its lines
            // into the guest's serial output, and under the test runner into the protocol on
            // stdout, where the heap-dump timeout test's result was lost (3 Debug runs in 8).
            // So they stay silenced until it ends, for at most `grace`: one that hangs (it cannot
            // be ended, see ReadThreads) may still write there later.
            Task.WaitAny([dump], grace);
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
