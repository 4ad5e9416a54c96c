using System.Runtime.InteropServices;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Kvm;

/// <summary>A KVM or host call failed. The message names the call and the errno text.</summary>
public sealed class KvmException : HostCallException
{
    public KvmException(string message, int errno = 0) : base(message, errno) { }

    internal static KvmException FromErrno(string what) => FromErrno(what, Marshal.GetLastPInvokeError());

    /// <summary>The failure of <paramref name="what"/> with an errno the caller already read (to look at it first).</summary>
    internal static KvmException FromErrno(string what, int errno) => new(Describe(what, errno), errno);
}
