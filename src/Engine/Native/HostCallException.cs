using System.Runtime.InteropServices;

namespace VmReplay.Engine.Native;

/// <summary>
/// A call into the host (a system call, an ioctl) failed. The message names the call and the
/// errno text; the CLI reports it as a host error in one line, whichever backend made the call.
/// </summary>
public class HostCallException : Exception
{
    public HostCallException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The host errno, or 0 when the failure was not a failed system call.</summary>
    public int Errno { get; }

    protected static string Describe(string what, int errno) =>
        $"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
