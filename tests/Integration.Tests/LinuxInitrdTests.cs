using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using VmReplay.Recorder.Format;

namespace VmReplay.Integration.Tests;

/// <summary>
/// The Linux kernel recorded with an initrd: the trace embeds it (INRD), so the replay boots the
/// same way after the file is gone. This host cannot run the kernel's user space, so the
/// archive holds no program; that the kernel unpacked it shows in which init it tries first.
/// Run alone: on a host loaded by other recordings a Linux replay diverges more often (with or
/// without an initrd, at forced points and page sets), which is not what these tests are about.
/// </summary>
[Collection(nameof(LinuxInitrdTests))]
public sealed class LinuxInitrdTests(LinuxKernel kernel) : IClassFixture<LinuxKernel>, IDisposable
{
    private const string Panic = "Kernel panic - not syncing: No working init found.";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-initrd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ARecordingWithAnInitrdReplaysWithoutTheFileAndIsMuchSmallerThanTheKernel()
    {
        string initrd = Path.Combine(_dir, "hello.cpio");
        // /init is there but is no program: the kernel finds it in the unpacked rootfs, fails to
        // execute it (ENOEXEC) and goes on to panic as it does without an initrd.
        var archive = Newc(("hello.txt", 0x81A4 /* regular, 0644 */, "hello from the initrd\n"), ("init", 0x81ED /* regular, 0755 */, "not a program\n"));
        File.WriteAllBytes(initrd, archive);
        string trace = Path.Combine(_dir, "linux-initrd.vmtrace");
        var rec = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null", "--initrd", initrd, "-o", trace], timeoutSeconds: 300);
        Assert.True(rec.ExitCode == 0 && rec.Stdout.Contains(Panic), rec.Stdout + rec.Stderr);
        Assert.Contains("Unpacking initramfs...", rec.Stdout);
        Assert.Contains("Freeing initrd memory: 4K", rec.Stdout);
        Assert.DoesNotContain("Initramfs unpacking failed", rec.Stdout);
        // Without an initrd the kernel has no /init and starts at /sbin/init.
        Assert.Contains("Run /init as init process", rec.Stdout);
        Assert.Contains("Failed to execute /init (error -8)", rec.Stdout);

        // The image (vmlinux with DWARF) is stored compressed: the whole trace is a fraction of it.
        long traceBytes = new FileInfo(trace).Length, kernelBytes = new FileInfo(kernel.Vmlinux).Length;
        Assert.True(traceBytes < kernelBytes / 2, $"trace {traceBytes} bytes, vmlinux {kernelBytes}");

        var info = Vmreplay.Run(["info", trace, "--json"]);
        Assert.True(info.ExitCode == 0, info.Stderr);
        using (var json = JsonDocument.Parse(info.Stdout))
        {
            var root = json.RootElement;
            Assert.Equal((int)TraceFormat.Version, root.GetProperty("formatVersion").GetInt32());
            var embedded = root.GetProperty("initrd");
            Assert.Equal("hello.cpio", embedded.GetProperty("name").GetString());
            Assert.Equal(archive.Length, embedded.GetProperty("bytes").GetInt64());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(archive)), embedded.GetProperty("sha256").GetString());
        }
        var table = Vmreplay.Run(["info", trace]);
        Assert.Contains("hello.cpio", table.Stdout);

        File.Delete(initrd);
        var rep = Vmreplay.Run(["replay", trace], timeoutSeconds: 300);
        Assert.True(rep.ExitCode == 0, rep.Stderr);
        Assert.Equal(rec.Stdout, rep.Stdout);
        Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots", rep.Stderr);
    }

    [Fact]
    public void AnInitrdTooLargeForATraceIsRefusedInOneLineBeforeTheRun()
    {
        string initrd = Path.Combine(_dir, "huge.img");
        using (var f = File.Create(initrd)) f.SetLength((255L << 20) + 1); // sparse: no disk used
        string trace = Path.Combine(_dir, "huge.vmtrace");
        var rec = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null", "--initrd", initrd, "-o", trace], timeoutSeconds: 120);
        Assert.Equal(3, rec.ExitCode);
        Assert.Equal("", rec.Stdout);
        Assert.Equal($"vmreplay: {initrd}: the initrd is 267386881 bytes; a trace embeds files of at most 267386880 bytes (255 MiB)\n", rec.Stderr);
        Assert.False(File.Exists(trace));
    }

    /// <summary>A cpio archive in the "newc" format the kernel unpacks: each entry a 110-byte ASCII header, its name and its data, each padded to 4 bytes; then TRAILER!!!.</summary>
    private static byte[] Newc(params (string Name, int Mode, string Data)[] files)
    {
        var archive = new MemoryStream();
        int inode = 1;
        foreach (var (name, mode, data) in files.Append(("TRAILER!!!", 0, "")))
        {
            var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
            var dataBytes = Encoding.ASCII.GetBytes(data);
            // magic, then ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
            // rdevmajor, rdevminor, namesize, check: eight hex digits each.
            int[] fields = [mode == 0 ? 0 : inode++, mode, 0, 0, 1, 0, dataBytes.Length, 0, 0, 0, 0, nameBytes.Length, 0];
            archive.Write(Encoding.ASCII.GetBytes("070701" + string.Concat(fields.Select(v => v.ToString("X8")))));
            archive.Write(nameBytes);
            Pad(archive);
            archive.Write(dataBytes);
            Pad(archive);
        }
        return archive.ToArray();
    }

    private static void Pad(MemoryStream s)
    {
        while (s.Length % 4 != 0) s.WriteByte(0);
    }
}

/// <summary>Keeps <see cref="LinuxInitrdTests"/> from running beside other test classes.</summary>
[CollectionDefinition(nameof(LinuxInitrdTests), DisableParallelization = true)]
public sealed class LinuxInitrdCollection;
