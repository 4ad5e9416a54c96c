using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm;

/// <summary>A KVM or host call failed. The message names the call and the errno text.</summary>
public sealed class KvmException : Exception
{
    public KvmException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The host errno, or 0 when the failure was not a failed system call.</summary>
    public int Errno { get; }

    internal static KvmException FromErrno(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new KvmException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }
}
