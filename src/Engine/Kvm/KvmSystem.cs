using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Kvm;

/// <summary>An open handle on /dev/kvm: capability queries and VM creation.</summary>
public sealed unsafe class KvmSystem : IDisposable
{
    public const string DefaultPath = "/dev/kvm";
    private const int ExpectedApiVersion = 12;
    private int _fd;

    private KvmSystem(int fd, string path)
    {
        _fd = fd;
        Path = path;
        VcpuMmapSize = Libc.Ioctl(fd, KvmIoctl.GetVcpuMmapSize, 0);
        if (VcpuMmapSize <= 0) throw KvmException.FromErrno($"KVM_GET_VCPU_MMAP_SIZE on {path}");
    }

    public string Path { get; }

    internal int Fd => _fd;

    internal int VcpuMmapSize { get; }

    /// <summary>Opens <paramref name="path"/>; throws <see cref="KvmUnavailableException"/> with a user-facing reason.</summary>
    public static KvmSystem Open(string path = DefaultPath)
    {
        if (!File.Exists(path))
            throw new KvmUnavailableException($"{path} does not exist: this host has no KVM (load the kvm module, or enable nested virtualisation for this VM)");
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new KvmUnavailableException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)} (add your user to the 'kvm' group or run as root)");
        }
        int version = Libc.Ioctl(fd, KvmIoctl.GetApiVersion, 0);
        if (version < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Libc.Close(fd);
            throw new KvmUnavailableException($"{path} is not a KVM device (KVM_GET_API_VERSION: {Marshal.GetPInvokeErrorMessage(errno)})");
        }
        if (version != ExpectedApiVersion)
        {
            Libc.Close(fd);
            throw new KvmUnavailableException($"{path} speaks KVM API version {version}, vmreplay needs {ExpectedApiVersion}");
        }
        return new KvmSystem(fd, path);
    }

    /// <summary>KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.</summary>
    public int CheckExtension(KvmCap cap)
    {
        int r = Libc.Ioctl(_fd, KvmIoctl.CheckExtension, (nuint)cap);
        return r < 0 ? 0 : r;
    }

    /// <summary>KVM_GET_SUPPORTED_CPUID: every leaf this host's KVM can offer a guest.</summary>
    public KvmCpuidEntry2[] GetSupportedCpuid()
    {
        for (int n = 64; n <= 4096; n *= 2)
        {
            int bytes = 8 + n * sizeof(KvmCpuidEntry2);
            byte* buf = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                *(uint*)buf = (uint)n;
                if (Libc.Ioctl(_fd, KvmIoctl.GetSupportedCpuid, buf) < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 7 /* E2BIG */) continue;
                    throw KvmException.FromErrno("KVM_GET_SUPPORTED_CPUID");
                }
                int count = (int)*(uint*)buf;
                return new ReadOnlySpan<KvmCpuidEntry2>(buf + 8, count).ToArray();
            }
            finally
            {
                NativeMemory.Free(buf);
            }
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    }

    /// <summary>KVM_CREATE_VM with the default machine type.</summary>
    public KvmVm CreateVm()
    {
        int vmfd = Libc.Ioctl(_fd, KvmIoctl.CreateVm, 0);
        if (vmfd < 0) throw KvmException.FromErrno("KVM_CREATE_VM");
        return new KvmVm(this, vmfd);
    }

    public void Dispose()
    {
        if (_fd >= 0) Libc.Close(_fd);
        _fd = -1;
    }
}
