using System.Net;
using System.Net.Sockets;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Boot;
using VmReplay.GdbStub.Protocol;
using VmReplay.GdbStub.Target;
using VmReplay.GdbStub.Transport;
using VmReplay.Recorder;
using VmReplay.Replayer;

namespace VmReplay.Cli.Commands;

/// <summary><c>vmreplay replay FILE --gdb [HOST:]PORT</c>: a replay that gdb drives, forward and backward.</summary>
internal static class GdbReplay
{
    public static int Serve(string path, string kvmPath, CpuBackendChoice cpu, string endpointText, bool reattach, bool strict)
    {
        var endpoint = ParseEndpoint(endpointText);
        using var trace = TraceReader.Open(path);
        using var serialOutput = new SerialConsoleOutput();
        using var session = ReplaySession.Open(trace, kvmPath, serialOutput, cpu);
        Console.Error.WriteLine($"vmreplay: {RunCommand.DescribeBackend(session.Machine)}");
        session.Differences.Strict = strict;
        // gdb takes the architecture from the program: i386 for a 32-bit ELF, and it refuses a
        // 64-bit description there. So a guest that never enters long mode gets the i386 layout
        // and gdb works as typed; one that does needs 64-bit registers, and gdb must be told the
        // architecture first (as with QEMU).
        bool elf = ElfImage.HasElfMagic(trace.Image);
        bool elf64 = elf && trace.Image.Length > 4 && trace.Image[4] == 2;
        bool longMode = elf64 || trace.Modes().LongMode;
        var registers = longMode ? X86Registers.Amd64 : X86Registers.I386;
        var target = new ReplayDebugTarget(session, trace, registers) { Log = line => Console.Error.WriteLine($"vmreplay: {line}") };
        using var server = new GdbServer(target, endpoint) { Log = line => Console.Error.WriteLine($"vmreplay: gdb: {line}") };
        try { server.Start(); }
        catch (SocketException e) { throw new UserError($"--gdb: cannot listen on {endpoint}: {e.Message}"); }
        // gdb reads symbols from an ELF only; a boot sector or raw image is debugged without a file.
        string program = elf ? $" {ExtractGuest(trace)}" : "";
        var at = server.LocalEndpoint;
        Console.Error.WriteLine($"vmreplay: waiting for gdb on {at} at the start of {path}; attach with:");
        string arch = longMode && !elf64 ? " -ex 'set architecture i386:x86-64'" : "";
        Console.Error.WriteLine($"  gdb{program}{arch} -ex 'target remote {at}'");
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            bool killed = server.Serve(reattach, cancel.Token);
            Console.Error.WriteLine(killed ? "vmreplay: gdb killed the replay; done" : "vmreplay: gdb session over; done");
            return 0;
        }
        finally { Console.CancelKeyPress -= onCtrlC; }
    }

    /// <summary>"1234" (loopback) or "HOST:1234"; binding beyond loopback must be asked for by name.</summary>
    internal static IPEndPoint ParseEndpoint(string text)
    {
        int colon = text.LastIndexOf(':');
        string host = colon < 0 ? "127.0.0.1" : text[..colon];
        string port = colon < 0 ? text : text[(colon + 1)..];
        if (!ushort.TryParse(port, out ushort p))
            throw new UserError($"--gdb: '{text}' is not [HOST:]PORT (a port is 0-65535)");
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address)) return new IPEndPoint(address, p);
        try
        {
            var found = Dns.GetHostAddresses(host);
            if (found.Length == 0) throw new UserError($"--gdb: host '{host}' has no address");
            return new IPEndPoint(found[0], p);
        }
        catch (SocketException e) { throw new UserError($"--gdb: cannot resolve host '{host}': {e.Message}"); }
    }

    // gdb wants the guest's symbols; the trace embeds the image, so the attach line works even
    // where the original file is not at hand.
    private static string ExtractGuest(TraceReader trace)
    {
        // The header's SHA-256, which the reader checks the embedded image against.
        var hash = trace.Header.ImageSha256[..12].ToLowerInvariant();
        var dir = Path.Combine(Path.GetTempPath(), $"vmreplay-guest-{hash}");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, Path.GetFileName(trace.Header.GuestName));
        if (!File.Exists(file)) File.WriteAllBytes(file, trace.Image);
        return file;
    }
}
