using System.Runtime.InteropServices;

namespace VmReplay.Engine.Native;

/// <summary>
/// The CPU time, user and system, of every child process this process has waited for
/// (getrusage RUSAGE_CHILDREN). Read before a child starts and after it is waited for, the
/// difference is that child's own. A benchmark reports it beside wall time: on a host whose
/// cores slow each other (two cores under a paravirtual hypervisor), a command's wall time
/// follows the CPU all its threads spend, not only its longest thread.
/// </summary>
public static class ChildProcessCpuTime
{
    /// <summary>The total so far; throws <see cref="HostCallException"/> if the host refuses.</summary>
    public static unsafe TimeSpan Total()
    {
        Libc.Rusage usage;
        if (Libc.GetRusage(Libc.RUSAGE_CHILDREN, &usage) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new HostCallException($"getrusage(RUSAGE_CHILDREN) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
        }
        long microseconds = (usage.UserSeconds + usage.SystemSeconds) * 1_000_000 + usage.UserMicroseconds + usage.SystemMicroseconds;
        return TimeSpan.FromMicroseconds(microseconds);
    }
}
