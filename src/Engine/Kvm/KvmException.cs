using System.Runtime.InteropServices;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Kvm;

/// <summary>A KVM or host call failed. The message names the call and the errno text.</summary>
public sealed class KvmException : HostCallException
{
    public KvmException(string message, int errno = 0) : base(message, errno) { }

    internal static KvmException FromErrno(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new KvmException(Describe(what, errno), errno);
    }
}
