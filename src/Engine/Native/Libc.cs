using System.Runtime.InteropServices;

namespace VmReplay.Engine.Native;

/// <summary>The few libc calls the KVM binding and guest memory need. errno is turned into exceptions by callers.</summary>
internal static unsafe partial class Libc
{
    internal const int O_RDONLY = 0;
    internal const int O_RDWR = 2;
    internal const int O_CLOEXEC = 0x80000;
    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_NORESERVE = 0x4000;
    internal const int MADV_DONTNEED = 4;
    internal const int MADV_HUGEPAGE = 14;
    internal const int SIG_BLOCK = 0;
    internal const int SIG_UNBLOCK = 1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;

    /// <summary>glibc's sigset_t is 1024 bits; the kernel's is 64.</summary>
    internal const int GlibcSigsetBytes = 128;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, nuint arg);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    internal static partial void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(void* addr, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Madvise(void* addr, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    internal static partial nint Pread(int fd, void* buffer, nuint count, long offset);

    internal const int PRIO_PROCESS = 0;
    internal const nint SYS_gettid = 186;
    internal const int RUSAGE_CHILDREN = -1;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial nint Syscall(nint number);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    internal static partial int SetPriority(int which, uint who, int priority);

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    internal static partial int GetRusage(int who, Rusage* usage);

    [LibraryImport("libc", EntryPoint = "pthread_self")]
    internal static partial nuint PthreadSelf();

    /// <summary>Returns an error number (not -1/errno) as pthread functions do.</summary>
    [LibraryImport("libc", EntryPoint = "pthread_kill")]
    internal static partial int PthreadKill(nuint thread, int signal);

    [LibraryImport("libc", EntryPoint = "pthread_sigmask")]
    internal static partial int PthreadSigmask(int how, byte* set, byte* oldSet);

    [LibraryImport("libc", EntryPoint = "sigtimedwait", SetLastError = true)]
    internal static partial int SigTimedWait(byte* set, byte* info, Timespec* timeout);

    [LibraryImport("libc", EntryPoint = "__libc_current_sigrtmin")]
    internal static partial int CurrentSigRtMin();

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct rusage (x86-64): two timevals, then 14 longs this VMM does not read.</summary>
    internal struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public fixed long Rest[14];
    }
}
