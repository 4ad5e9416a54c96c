using System.Runtime.InteropServices;

namespace VmReplay.Cli;

/// <summary>
/// A trace that outgrows the process's file-size limit (ulimit -f) must end the recording with
/// a message, like a full disk, and keep what was written. By default the kernel kills the
/// process with SIGXFSZ instead; ignoring the signal turns it into an EFBIG write error.
/// </summary>
internal static partial class FileSizeLimit
{
    private const int SigXfsz = 25; // x86-64 Linux
    private static readonly nint SigIgn = 1;

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    public static void ReportInsteadOfDying() => Signal(SigXfsz, SigIgn);
}
